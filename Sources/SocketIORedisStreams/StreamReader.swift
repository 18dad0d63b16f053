import SIOLoop
import SocketIO
import SocketIORedis

/// Gets what a stream reader reads, for one namespace.
protocol StreamConsumer: AnyObject {
    /// An entry of the namespace, in stream order.
    func streamEntry(_ id: LogPosition, _ message: ClusterMessage)
    /// The reader knows where the stream stands (started, or came back): sockets joining now start there.
    func streamPositioned(at position: LogPosition)
}

/// Reads one stream for every namespace mapped to it, on a connection of its own (XREAD blocks it), as the
/// reference's `startPolling` does per stream. Unlike the reference, which starts at `$` and keeps that until the
/// first entry arrives, the starting point is made concrete first (the stream's last id), so a node that loses
/// Redis always resumes from an id: nothing published meanwhile is missed, unless MAXLEN trimmed it away, which
/// is logged. Loop thread only.
final class StreamReader: TimerTarget {
    let stream: String
    private let connection: RedisConnection
    private unowned let loop: EventLoop
    private let readCount: Int
    private let blockTime: UInt64
    /// The id of the last entry read (every entry of the stream up to it has been handed on); nil until known.
    private(set) var lastRead: LogPosition?
    private var consumers: [String: any StreamConsumer] = [:]
    private var closed = false
    /// Set while an XREAD is out (the watchdog's deadline is armed then).
    private var reading = false
    var timerSlot = TimerSlot()
    /// How long past the block time an XREAD may stay unanswered before the connection is taken for dead.
    private let silenceMargin: UInt64 = 5_000
    private let log = Logger("socket.io:redis-streams")

    init(loop: EventLoop, endpoint: RedisEndpoint, stream: String, options: RedisStreamsAdapterOptions, role: String) {
        self.stream = stream
        self.loop = loop
        readCount = options.readCount
        blockTime = options.blockTimeInMs
        connection = RedisConnection(loop: loop, endpoint: endpoint, role: role, clientName: options.clientName,
                                     minimumDelay: options.reconnectMinimumDelay, maximumDelay: options.reconnectMaximumDelay)
        connection.onConnected = { [unowned self] in resume() }
        connection.onDisconnected = { [unowned self] in
            reading = false
            loop.cancelTimer(self)
        }
    }

    func start() { connection.start() }

    func add(_ consumer: any StreamConsumer, namespace: String) {
        consumers[namespace] = consumer
        if let lastRead { consumer.streamPositioned(at: lastRead) }
    }

    func remove(namespace: String) { consumers.removeValue(forKey: namespace) }

    var isIdle: Bool { consumers.isEmpty }

    // MARK: Reading

    /// Connected (again): find where to start, or check that nothing was trimmed past where we stopped, then read.
    private func resume() {
        guard let lastRead else {
            // The stream's last id (none: 0-0, the start of a stream that does not exist yet).
            connection.send(command("XREVRANGE", stream, "+", "-", "COUNT", "1")) { [weak self] reply in
                guard let self, let reply else { return }
                if case .error(let message) = reply {
                    self.log.error("redis stream \(self.stream): cannot read where it ends (\(message)); not reading it")
                    return
                }
                let position = StreamEntry.entries(ofRange: reply).first?.id ?? .zero
                self.lastRead = position
                for consumer in self.consumers.values { consumer.streamPositioned(at: position) }
                self.read()
            }
            return
        }
        checkNothingTrimmed(after: lastRead)
        read()
    }

    /// Trimming removes the oldest entries: if the last entry read is still there, every later one is too. If it
    /// is gone and the stream now starts after it, what lay between was lost to MAXLEN (or to a Redis that
    /// restarted empty): said once, clearly, since the clients of this node then miss those packets.
    private func checkNothingTrimmed(after position: LogPosition) {
        guard position != .zero else { return }
        let id = position.description
        var gone = false
        // Both asked before the XREAD that follows blocks the connection.
        connection.send(command("XRANGE", stream, id, id)) { stillThere in
            gone = stillThere.map { StreamEntry.entries(ofRange: $0).isEmpty } ?? false
        }
        connection.send(command("XRANGE", stream, "-", "+", "COUNT", "1")) { [weak self] first in
            guard let self, gone, let first else { return }
            if let oldest = StreamEntry.entries(ofRange: first).first?.id, oldest > position {
                self.log.warn("redis stream \(self.stream): entries after \(id), the last read here, were trimmed "
                              + "while this node was away (the stream now starts at \(oldest)); their packets are "
                              + "lost to this node's clients. Raise maxLen to keep a longer window.")
            } else if StreamEntry.entries(ofRange: first).isEmpty {
                self.log.warn("redis stream \(self.stream) is gone (Redis restarted empty?): whatever was "
                              + "published after \(id) while this node was away is lost to its clients")
            }
        }
    }

    private func read() {
        guard !closed, !reading, let lastRead else { return }
        let sent = connection.send(command("XREAD", "COUNT", String(readCount), "BLOCK", String(blockTime),
                                           "STREAMS", stream, lastRead.description)) { [weak self] reply in
            self?.received(reply)
        }
        guard sent else { return }
        reading = true
        loop.schedule(self, afterMilliseconds: blockTime + silenceMargin)
    }

    private func received(_ reply: RedisReply?) {
        reading = false
        loop.cancelTimer(self)
        guard !closed, let reply else { return }  // the connection went away: `resume` reads again once it is back
        if case .error(let message) = reply {
            log.warn("redis stream \(stream): XREAD failed (\(message)); retrying in 1 s")
            retryLater = true
            loop.schedule(self, afterMilliseconds: 1000)
            return
        }
        for entry in StreamEntry.entries(ofRead: reply) {
            guard lastRead.map({ entry.id > $0 }) ?? true else { continue }
            lastRead = entry.id
            // As the reference: entries without a namespace are skipped, and undecodable ones too.
            guard let message = ClusterMessage(streamFields: entry.fields), let nsp = message.nsp else { continue }
            consumers[nsp]?.streamEntry(entry.id, message)
        }
        read()
    }

    private var retryLater = false

    /// The watchdog (an XREAD unanswered well past its block time: the network went silent) or a retry.
    func timerFired(now: UInt64) {
        if retryLater {
            retryLater = false
            read()
            return
        }
        guard reading else { return }
        connection.drop(reason: "redis stream \(stream): no answer to XREAD within \(blockTime + silenceMargin) ms")
    }

    private func command(_ parts: String...) -> [[UInt8]] { parts.map { Array($0.utf8) } }

    func close() {
        guard !closed else { return }
        closed = true
        loop.cancelTimer(self)
        connection.close()
    }
}

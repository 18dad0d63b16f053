import SIOLoop
import SocketIO
import SocketIORedis

/// The Redis connections of one server on the streams adapter, shared by the adapters of all its namespaces:
/// `redis.pub` sends XADD, PUBLISH, SET, MULTI and the like; `redis.sub` is subscribed to every namespace's two
/// channels; each stream in use has a reader of its own (XREAD blocks its connection), as the reference gives
/// each stream its own client. Loop thread only.
public final class RedisStreamsClient {
    public let endpoint: RedisEndpoint
    public let options: RedisStreamsAdapterOptions
    unowned let loop: EventLoop
    let redis: RedisClient
    private var readers: [String: StreamReader] = [:]
    private var publishingListeners: [ObjectIdentifier: () -> Void] = [:]
    private var waitingForConnection: [ConnectionWaiter] = []
    private var closed = false

    public init(loop: EventLoop, endpoint: RedisEndpoint, options: RedisStreamsAdapterOptions = RedisStreamsAdapterOptions()) {
        self.loop = loop
        self.endpoint = endpoint
        self.options = options
        redis = RedisClient(loop: loop, endpoint: endpoint, clientName: options.clientName,
                            reconnectMinimumDelay: options.reconnectMinimumDelay,
                            reconnectMaximumDelay: options.reconnectMaximumDelay, closesAtShutdown: false)
        redis.onPublishing = { [unowned self] in
            for listener in publishingListeners.values { listener() }
            let waiting = waitingForConnection
            waitingForConnection.removeAll()
            for waiter in waiting { waiter.finish(true) }
        }
        // Sessions are written as the server closes its sockets at shutdown, in a hook that may run after ours, and
        // a multi-loop server's other loops queue theirs to this loop: close at the end of the stopping turn, once
        // every hook ran and the queue was drained, and only after Redis answered what it was sent.
        loop.addShutdownHook { [weak self] in
            self?.loop.atEndOfTurn { [weak self] in self?.closeGracefully() }
        }
    }

    /// Messages that could not be handed to Redis since start (XADD or PUBLISH while disconnected).
    public var unpublished: Int { redis.unpublished }

    func start() {
        guard !closed else { return }
        redis.start()
    }

    /// Calls `body` whenever the command connection is up (again), and now if it is.
    func whenPublishing(_ owner: AnyObject, _ body: @escaping () -> Void) {
        publishingListeners[ObjectIdentifier(owner)] = body
        if redis.isPublishing { body() }
    }

    func stopWhenPublishing(_ owner: AnyObject) { publishingListeners.removeValue(forKey: ObjectIdentifier(owner)) }

    /// `body(true)` once commands can be sent (now, if they can), or `body(false)` after `milliseconds` without a
    /// connection: a client arriving at a node that is still connecting to Redis is not refused its session.
    func whenConnected(within milliseconds: UInt64, _ body: @escaping (Bool) -> Void) {
        if redis.isPublishing || closed {
            body(redis.isPublishing)
            return
        }
        let waiter = ConnectionWaiter(body)
        waitingForConnection.append(waiter)
        loop.schedule(waiter, afterMilliseconds: milliseconds)
    }

    /// The reader of `stream`, started on first use.
    func reader(for stream: String) -> StreamReader {
        if let reader = readers[stream] { return reader }
        let role = options.streamCount > 1 ? "xread-\(stream)" : "xread"
        let reader = StreamReader(loop: loop, endpoint: endpoint, stream: stream, options: options, role: role)
        readers[stream] = reader
        if !closed { reader.start() }
        return reader
    }

    /// XADD with the reference's trimming: `XADD <stream> MAXLEN ~ <maxLen> * field value ...`. `reply` gets
    /// the new entry's id, or nil when it was not logged (not connected, an error, or the connection lost before
    /// Redis answered: then it may or may not have been).
    @discardableResult
    func append(to stream: String, _ fields: [(String, [UInt8])], reply: @escaping (LogPosition?) -> Void) -> Bool {
        var arguments: [[UInt8]] = [Array("XADD".utf8), Array(stream.utf8), Array("MAXLEN".utf8), Array("~".utf8),
                                    Array(String(options.maxLen).utf8), Array("*".utf8)]
        for (field, value) in fields {
            arguments.append(Array(field.utf8))
            arguments.append(value)
        }
        let sent = !closed && redis.command(arguments) { answer in
            reply(answer?.bytes.flatMap { LogPosition(String(decoding: $0, as: UTF8.self)) })
        }
        if !sent { redis.countUnpublished(1, reason: "not connected to \(endpoint)") }
        return sent
    }

    /// Closes every connection for good, the command connection once Redis answered what it was sent.
    public func closeGracefully() {
        guard !closed else { return }
        closed = true
        for reader in readers.values { reader.close() }
        redis.closeGracefully()
    }

    /// Closes every connection for good, now.
    public func close() {
        guard !closed else { return }
        closed = true
        for reader in readers.values { reader.close() }
        redis.close()
    }
}

/// A wait for the command connection, with a deadline.
private final class ConnectionWaiter: TimerTarget {
    var timerSlot = TimerSlot()
    private var body: ((Bool) -> Void)?

    init(_ body: @escaping (Bool) -> Void) { self.body = body }

    func finish(_ connected: Bool) {
        guard let body else { return }
        self.body = nil
        body(connected)
    }

    func timerFired(now: UInt64) { finish(false) }
}

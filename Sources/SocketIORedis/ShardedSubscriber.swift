import CHiredis
import SIOLoop

/// A Redis connection in sharded pub/sub (Redis 7: SSUBSCRIBE / SUNSUBSCRIBE, `smessage` pushes). hiredis 0.14's
/// async API aborts on an `smessage` (it only knows `message` and `pmessage`), so this connection is a plain
/// hiredis context in non-blocking mode on a libuv poll handle: hiredis writes the commands and parses the
/// replies, this class reads them all as they come. One SSUBSCRIBE per channel, as Node's adapter sends them (a
/// Redis Cluster may keep each channel on another shard). Reconnects with backoff and subscribes again to every
/// channel it holds. Loop thread only; handlers run on it.
package final class ShardedSubscriber: TimerTarget {
    package let endpoint: RedisEndpoint
    let clientName: String?
    unowned let loop: EventLoop
    private let uvLoop: UnsafeMutableRawPointer?
    private var stream: UnsafeMutablePointer<sio_redis_stream>?
    private var handlers: [String: (String, [UInt8]) -> Void] = [:]
    private var state = State.idle
    private var awaitingOutput = false
    private var failedAttempts = 0
    private var reportedOutage = false
    let minimumDelay: UInt64
    let maximumDelay: UInt64
    let connectTimeout: UInt64 = 5000
    package var timerSlot = TimerSlot()
    /// Times the connection was (re)established.
    package private(set) var connectCount = 0
    /// Messages received (smessage pushes with a handler).
    package private(set) var received = 0
    private let log = Logger("socket.io:redis")

    private enum State { case idle, connecting, connected, closed }

    package init(loop: EventLoop, endpoint: RedisEndpoint, clientName: String?, minimumDelay: UInt64 = 100,
                 maximumDelay: UInt64 = 5000) {
        self.loop = loop
        self.endpoint = endpoint
        self.clientName = clientName
        self.minimumDelay = max(1, minimumDelay)
        self.maximumDelay = max(self.minimumDelay, maximumDelay)
        uvLoop = UnsafeMutableRawPointer(loop.uvLoopPointer)
    }

    package var isConnected: Bool { state == .connected }

    package func start() {
        guard state == .idle, stream == nil else { return }
        connect()
    }

    // MARK: Subscriptions

    /// SSUBSCRIBE `channel`; `handler` gets each message's channel and payload.
    package func subscribe(_ channel: String, handler: @escaping (String, [UInt8]) -> Void) {
        let known = handlers[channel] != nil
        handlers[channel] = handler
        // While connecting, queued behind the setup (the connection sends it all once up).
        if !known, stream != nil { send(["SSUBSCRIBE", channel], flush: state == .connected) }
    }

    package func unsubscribe(_ channel: String) {
        guard handlers.removeValue(forKey: channel) != nil else { return }
        if stream != nil { send(["SUNSUBSCRIBE", channel], flush: state == .connected) }
    }

    package var channels: [String] { handlers.keys.sorted() }

    // MARK: Connection

    private func connect() {
        guard state != .closed else { return }
        guard let uvLoop else {
            log.error("redis ssub: cannot reach the event loop's uv_loop_t; staying disconnected")
            return
        }
        state = .connecting
        var error = [CChar](repeating: 0, count: 160)
        let opened = sio_redis_stream_connect(uvLoop, endpoint.host, Int32(endpoint.port), { data, status, readable, writable in
            guard let data else { return }
            Unmanaged<ShardedSubscriber>.fromOpaque(data).takeUnretainedValue()
                .events(status: status, readable: readable != 0, writable: writable != 0)
        }, Unmanaged.passUnretained(self).toOpaque(), &error, error.count)
        guard let opened else {
            connectFailed(String(cString: error))
            return
        }
        stream = opened
        // The setup and every subscription go first; the connection is up once the socket takes them.
        if let password = endpoint.password {
            send(["AUTH"] + (endpoint.username.map { [$0] } ?? []) + [password], flush: false)
        }
        if let clientName { send(["CLIENT", "SETNAME", clientName + "-ssub"], flush: false) }
        for channel in channels { send(["SSUBSCRIBE", channel], flush: false) }
        send(["PING"], flush: false)
        awaitingOutput = true
        _ = sio_redis_stream_watch(opened, 1)
        loop.schedule(self, afterMilliseconds: connectTimeout)
    }

    private func events(status: Int32, readable: Bool, writable: Bool) {
        guard let stream else { return }
        if status < 0 {
            lost("socket error \(status)")
            return
        }
        if writable {
            if state == .connecting { didConnect() }
            flush()
        }
        guard readable, self.stream == stream else { return }
        let context = sio_redis_stream_context(stream)
        if redisBufferRead(context) != REDIS_OK {
            lost(String(cString: sio_redis_sync_errstr(context)))
            return
        }
        while self.stream == stream {
            var reply: UnsafeMutableRawPointer?
            guard redisGetReplyFromReader(context, &reply) == REDIS_OK else {
                lost("protocol error: " + String(cString: sio_redis_sync_errstr(context)))
                return
            }
            guard let reply else { break }
            let value = RedisReply(UnsafePointer(reply.assumingMemoryBound(to: redisReply.self)))
            freeReplyObject(reply)
            dispatch(value)
        }
    }

    private func dispatch(_ reply: RedisReply) {
        switch reply {
        case .array(let parts):
            guard parts.count >= 3, parts[0].bytes == Array("smessage".utf8), let channel = parts[1].bytes,
                  let payload = parts[2].bytes else { return }
            let name = String(decoding: channel, as: UTF8.self)
            guard let handler = handlers[name] else { return }
            received += 1
            handler(name, payload)
        case .error(let message):
            log.error("redis ssub: \(message)")
        default:
            break
        }
    }

    private func didConnect() {
        loop.cancelTimer(self)
        state = .connected
        failedAttempts = 0
        connectCount += 1
        if reportedOutage { log.info("redis ssub: connected to \(endpoint) again") }
        reportedOutage = false
    }

    // MARK: Output

    private func send(_ arguments: [String], flush: Bool = true) {
        guard let stream else { return }
        let context = sio_redis_stream_context(stream)
        let bytes = arguments.map { Array($0.utf8) }
        var flat: [CChar] = []
        var offsets: [Int] = []
        for argument in bytes {
            offsets.append(flat.count)
            flat.append(contentsOf: argument.map { CChar(bitPattern: $0) })
            flat.append(0)
        }
        let lengths = bytes.map(\.count)
        flat.withUnsafeBufferPointer { buffer in
            var pointers: [UnsafePointer<CChar>?] = offsets.map { buffer.baseAddress! + $0 }
            _ = redisAppendCommandArgv(context, Int32(bytes.count), &pointers, lengths)
        }
        if flush { self.flush() }
    }

    /// Hands hiredis's output buffer to the socket, waiting for writability while some is left.
    private func flush() {
        guard let stream, state == .connected else { return }
        let context = sio_redis_stream_context(stream)
        var done: Int32 = 0
        while done == 0 {
            guard redisBufferWrite(context, &done) == REDIS_OK else {
                lost(String(cString: sio_redis_sync_errstr(context)))
                return
            }
            if done == 0 { break }  // the socket is full: wait for it
        }
        let waiting = done == 0
        if waiting != awaitingOutput {
            awaitingOutput = waiting
            _ = sio_redis_stream_watch(stream, waiting ? 1 : 0)
        }
    }

    // MARK: Failures

    private func lost(_ reason: String) {
        let wasConnected = state == .connected
        drop()
        guard state != .closed else { return }
        state = .idle
        if wasConnected {
            reportedOutage = true
            log.warn("redis ssub: connection to \(endpoint) lost (\(reason)); reconnecting")
            failedAttempts = 0
            scheduleReconnect()
        } else {
            connectFailed(reason)
        }
    }

    private func connectFailed(_ reason: String) {
        loop.cancelTimer(self)
        state = .idle
        failedAttempts += 1
        if !reportedOutage {
            reportedOutage = true
            log.warn("redis ssub: cannot connect to \(endpoint): \(reason); retrying with backoff")
        }
        scheduleReconnect()
    }

    private func scheduleReconnect() {
        guard state != .closed else { return }
        let base = min(maximumDelay, minimumDelay << UInt64(min(failedAttempts, 20)))
        loop.schedule(self, afterMilliseconds: base + UInt64.random(in: 0...(base / 4)))
    }

    private func drop() {
        guard let stream else { return }
        self.stream = nil
        awaitingOutput = false
        sio_redis_stream_close(stream)
    }

    package func timerFired(now: UInt64) {
        switch state {
        case .idle:
            connect()
        case .connecting:
            lost("no answer within \(connectTimeout) ms")
        case .connected, .closed:
            break
        }
    }

    /// SUNSUBSCRIBE is not needed: the connection closes for good, and Redis drops its subscriptions.
    package func close() {
        guard state != .closed else { return }
        state = .closed
        loop.cancelTimer(self)
        drop()
    }
}

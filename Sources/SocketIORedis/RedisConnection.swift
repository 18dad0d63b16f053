import CHiredis
import SIOLoop
#if canImport(Glibc)
import Glibc
#endif

/// Where Redis is: `redis://[[user]:password@]host[:port][/db]` (the db number is accepted and ignored: pub/sub is
/// not per database).
public struct RedisEndpoint: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var username: String?
    public var password: String?

    public init(host: String = "127.0.0.1", port: Int = 6379, username: String? = nil, password: String? = nil) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
    }

    public struct InvalidURL: Error, CustomStringConvertible, Sendable {
        public let url: String
        public var description: String { "invalid Redis URL \"\(url)\" (expected redis://host:port)" }
    }

    public init(url: String) throws {
        var rest = Substring(url)
        guard rest.hasPrefix("redis://") else { throw InvalidURL(url: url) }
        rest = rest.dropFirst("redis://".count)
        if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                let user = credentials[..<colon]
                username = user.isEmpty ? nil : String(user).removingPercentEncoding
                password = String(credentials[credentials.index(after: colon)...]).removingPercentEncoding
            } else {
                password = String(credentials).removingPercentEncoding
            }
        }
        var hostPart = rest
        port = 6379
        if hostPart.hasPrefix("[") {
            // [IPv6]:port
            guard let close = hostPart.firstIndex(of: "]") else { throw InvalidURL(url: url) }
            let after = hostPart[hostPart.index(after: close)...]
            if after.hasPrefix(":") {
                guard let value = Int(after.dropFirst()), (1...65535).contains(value) else { throw InvalidURL(url: url) }
                port = value
            }
            hostPart = hostPart[hostPart.index(after: hostPart.startIndex)..<close]
        } else if let colon = hostPart.lastIndex(of: ":") {
            guard let value = Int(hostPart[hostPart.index(after: colon)...]), (1...65535).contains(value) else {
                throw InvalidURL(url: url)
            }
            port = value
            hostPart = hostPart[..<colon]
        }
        host = hostPart.isEmpty ? "127.0.0.1" : String(hostPart)
    }

    public var description: String { "redis://\(host.contains(":") ? "[\(host)]" : host):\(port)" }
}

extension String {
    /// `%XX` sequences decoded (credentials in a URL); nil if one is malformed.
    fileprivate var removingPercentEncoding: String? {
        var bytes: [UInt8] = []
        var iterator = utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next(), let low = iterator.next(),
                      let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16) else { return nil }
                bytes.append(value)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// A Redis reply, copied out of hiredis's reply object.
public enum RedisReply: Equatable, Sendable {
    case string([UInt8])
    case status(String)
    case error(String)
    case integer(Int64)
    case null
    case array([RedisReply])

    package init(_ reply: UnsafePointer<redisReply>) {
        let r = reply.pointee
        switch r.type {
        case REDIS_REPLY_STRING:
            self = .string(r.str.map { [UInt8](UnsafeRawBufferPointer(start: $0, count: r.len)) } ?? [])
        case REDIS_REPLY_STATUS:
            self = .status(r.str.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: r.len), as: UTF8.self) } ?? "")
        case REDIS_REPLY_ERROR:
            self = .error(r.str.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: r.len), as: UTF8.self) } ?? "")
        case REDIS_REPLY_INTEGER:
            self = .integer(Int64(r.integer))
        case REDIS_REPLY_ARRAY:
            var elements: [RedisReply] = []
            if let element = r.element {
                for index in 0..<r.elements {
                    if let child = element[index] { elements.append(RedisReply(UnsafePointer(child))) }
                }
            }
            self = .array(elements)
        default:
            self = .null
        }
    }

    package var isError: Bool {
        if case .error = self { return true }
        return false
    }

    package var bytes: [UInt8]? {
        switch self {
        case .string(let value): return value
        case .status(let value): return Array(value.utf8)
        default: return nil
        }
    }
}

/// One hiredis async connection on the server's libuv loop, reconnecting with exponential backoff (with jitter)
/// whenever it is lost or cannot be made. Loop thread only.
package final class RedisConnection: TimerTarget {
    package enum State: Equatable {
        case idle, connecting, connected, closed
    }

    package let endpoint: RedisEndpoint
    /// "pub" or "sub", for logs and CLIENT SETNAME.
    package let role: String
    let clientName: String?
    unowned let loop: EventLoop
    private let uvLoop: UnsafeMutableRawPointer?
    package private(set) var state = State.idle
    private var context: UnsafeMutablePointer<redisAsyncContext>?
    private var failedAttempts = 0
    private var reportedOutage = false
    let minimumDelay: UInt64
    let maximumDelay: UInt64
    let connectTimeout: UInt64 = 5000
    package var timerSlot = TimerSlot()
    /// Times the connection was (re)established.
    package private(set) var connectCount = 0

    /// Called once connected (AUTH and CLIENT SETNAME already queued): resubscribe and the like.
    package var onConnected: (() -> Void)?
    /// Called when an established connection is lost (not on a failed attempt).
    package var onDisconnected: (() -> Void)?
    /// Subscription messages (sub connection).
    package var onPush: ((RedisReply) -> Void)?
    /// A fire-and-forget command (PUBLISH) got an error or no reply at all (connection lost first).
    package var onCommandFailed: ((String) -> Void)?

    let log = Logger("socket.io:redis")

    package init(loop: EventLoop, endpoint: RedisEndpoint, role: String, clientName: String?, minimumDelay: UInt64,
         maximumDelay: UInt64) {
        self.loop = loop
        self.endpoint = endpoint
        self.role = role
        self.clientName = clientName
        self.minimumDelay = max(1, minimumDelay)
        self.maximumDelay = max(self.minimumDelay, maximumDelay)
        uvLoop = UnsafeMutableRawPointer(loop.uvLoopPointer)
    }

    package var isConnected: Bool { state == .connected }

    package func start() {
        guard state == .idle else { return }
        connect()
    }

    private func connect() {
        guard state != .closed else { return }
        guard let uvLoop else {
            log.error("redis \(role): cannot reach the event loop's uv_loop_t; staying disconnected")
            state = .idle
            return
        }
        state = .connecting
        guard let ac = redisAsyncConnect(endpoint.host, Int32(endpoint.port)) else {
            connectFailed("out of memory")
            return
        }
        if sio_redis_context_error(ac) != 0 {
            let reason = String(cString: sio_redis_context_errstr(ac))
            redisAsyncFree(ac)
            connectFailed(reason)
            return
        }
        sio_redis_set_context_data(ac, Unmanaged.passUnretained(self).toOpaque())
        guard sio_redis_libuv_attach(ac, uvLoop) == REDIS_OK else {
            redisAsyncFree(ac)
            connectFailed("cannot attach to the event loop")
            return
        }
        context = ac
        // A connection that neither completes nor fails (a silent network) is abandoned after connectTimeout.
        loop.schedule(self, afterMilliseconds: connectTimeout)
        redisAsyncSetConnectCallback(ac, { ac, status in
            guard let ac, let data = sio_redis_context_data(ac) else { return }
            let connection = Unmanaged<RedisConnection>.fromOpaque(data).takeUnretainedValue()
            if status == REDIS_OK {
                connection.didConnect()
            } else {
                // hiredis frees the context when this returns.
                connection.context = nil
                connection.connectFailed(String(cString: sio_redis_context_errstr(ac)))
            }
        })
        redisAsyncSetDisconnectCallback(ac, { ac, _ in
            guard let ac, let data = sio_redis_context_data(ac) else { return }
            let connection = Unmanaged<RedisConnection>.fromOpaque(data).takeUnretainedValue()
            let reason = sio_redis_context_error(ac) != 0 ? String(cString: sio_redis_context_errstr(ac)) : "closed"
            // hiredis frees the context when this returns.
            connection.context = nil
            connection.didDisconnect(reason)
        })
        // hiredis 0.14 only notices the connection complete on the first write event, which a command arms: queue
        // the setup commands (they go out first, before anything else) or a PING.
        queueSetupCommands(ac)
    }

    private func queueSetupCommands(_ ac: UnsafeMutablePointer<redisAsyncContext>) {
        var queued = false
        if let password = endpoint.password {
            var auth: [[UInt8]] = [Array("AUTH".utf8)]
            if let username = endpoint.username { auth.append(Array(username.utf8)) }
            auth.append(Array(password.utf8))
            let box = Unmanaged.passRetained(ReplyBox { [weak self] reply in
                if let self, case .error(let message)? = reply { self.log.error("redis \(self.role): AUTH: \(message)") }
            }).toOpaque()
            if submit(ac, auth, privdata: box, RedisConnection.boxedReply) != REDIS_OK {
                Unmanaged<ReplyBox>.fromOpaque(box).release()
            }
            queued = true
        }
        if let clientName {
            _ = submit(ac, [Array("CLIENT".utf8), Array("SETNAME".utf8), Array("\(clientName)-\(role)".utf8)],
                       privdata: nil) { _, _, _ in }
            queued = true
        }
        if !queued { _ = submit(ac, [Array("PING".utf8)], privdata: nil) { _, _, _ in } }
    }

    private static let boxedReply: @convention(c) (UnsafeMutablePointer<redisAsyncContext>?, UnsafeMutableRawPointer?,
                                                   UnsafeMutableRawPointer?) -> Void = { _, reply, privdata in
        guard let privdata else { return }
        let box = Unmanaged<ReplyBox>.fromOpaque(privdata).takeRetainedValue()
        box.handler(reply.map { RedisReply(UnsafePointer($0.assumingMemoryBound(to: redisReply.self))) })
    }

    private func didConnect() {
        loop.cancelTimer(self)
        state = .connected
        failedAttempts = 0
        connectCount += 1
        if reportedOutage {
            log.info("redis \(role): connected to \(endpoint) again")
        } else {
            log.debug("redis \(role): connected to \(endpoint)")
        }
        reportedOutage = false
        onConnected?()
    }

    private func connectFailed(_ reason: String) {
        loop.cancelTimer(self)
        state = .idle
        failedAttempts += 1
        if !reportedOutage {
            reportedOutage = true
            log.warn("redis \(role): cannot connect to \(endpoint): \(reason); retrying with backoff")
        } else {
            log.debug("redis \(role): attempt \(failedAttempts) failed: \(reason)")
        }
        scheduleReconnect()
    }

    private func didDisconnect(_ reason: String) {
        guard state != .closed else { return }
        state = .idle
        reportedOutage = true
        log.warn("redis \(role): connection to \(endpoint) lost (\(reason)); reconnecting")
        onDisconnected?()
        failedAttempts = 0
        scheduleReconnect()
    }

    /// The next attempt: minimumDelay doubling per failure up to maximumDelay, plus up to 25% jitter.
    private func scheduleReconnect() {
        guard state != .closed else { return }
        let exponent = UInt64(min(failedAttempts, 20))
        let base = min(maximumDelay, minimumDelay << exponent)
        let jitter = UInt64.random(in: 0...(base / 4))
        loop.schedule(self, afterMilliseconds: base + jitter)
    }

    /// One timer slot, two uses: the connect timeout while connecting, the next attempt while idle.
    package func timerFired(now: UInt64) {
        switch state {
        case .idle:
            connect()
        case .connecting:
            guard let ac = context else { return }
            context = nil
            redisAsyncFree(ac)  // not connected: no disconnect callback; queued setup replies get nil
            connectFailed("no answer within \(connectTimeout) ms")
        case .connected, .closed:
            break
        }
    }

    // MARK: Commands

    /// Sends a command; `reply` gets the reply, or nil if the connection went away first. Returns false (and
    /// calls nothing) when not connected.
    @discardableResult
    package func send(_ arguments: [[UInt8]], reply: ((RedisReply?) -> Void)?) -> Bool {
        guard state == .connected, let ac = context else { return false }
        if let reply {
            let box = Unmanaged.passRetained(ReplyBox(reply)).toOpaque()
            let rc = submit(ac, arguments, privdata: box, RedisConnection.boxedReply)
            if rc != REDIS_OK { Unmanaged<ReplyBox>.fromOpaque(box).release() }
            return rc == REDIS_OK
        }
        return submit(ac, arguments, privdata: nil) { _, _, _ in } == REDIS_OK
    }

    /// PUBLISH and the like: no closure per command; an error reply or a lost connection reports to
    /// `onCommandFailed`.
    @discardableResult
    package func sendCounted(_ arguments: [[UInt8]]) -> Bool {
        guard state == .connected, let ac = context else { return false }
        return submit(ac, arguments, privdata: nil) { ac, reply, _ in
            guard let ac, let data = sio_redis_context_data(ac) else { return }
            let connection = Unmanaged<RedisConnection>.fromOpaque(data).takeUnretainedValue()
            guard let reply else {
                connection.onCommandFailed?("connection lost before the reply")
                return
            }
            let value = RedisReply(UnsafePointer(reply.assumingMemoryBound(to: redisReply.self)))
            if case .error(let message) = value { connection.onCommandFailed?(message) }
        } == REDIS_OK
    }

    /// SUBSCRIBE / PSUBSCRIBE / UNSUBSCRIBE: every message of the subscription goes to `onPush`.
    @discardableResult
    package func sendSubscription(_ arguments: [[UInt8]]) -> Bool {
        guard state == .connected, let ac = context else { return false }
        return submit(ac, arguments, privdata: nil) { ac, reply, _ in
            guard let ac, let reply, let data = sio_redis_context_data(ac) else { return }
            let connection = Unmanaged<RedisConnection>.fromOpaque(data).takeUnretainedValue()
            connection.onPush?(RedisReply(UnsafePointer(reply.assumingMemoryBound(to: redisReply.self))))
        } == REDIS_OK
    }

    private func submit(_ ac: UnsafeMutablePointer<redisAsyncContext>, _ arguments: [[UInt8]],
                        privdata: UnsafeMutableRawPointer?,
                        _ callback: @escaping @convention(c) (UnsafeMutablePointer<redisAsyncContext>?,
                                                               UnsafeMutableRawPointer?, UnsafeMutableRawPointer?) -> Void)
        -> Int32
    {
        // One contiguous copy of the arguments; hiredis formats the command into its own buffer before returning.
        var flat: [UInt8] = []
        flat.reserveCapacity(arguments.reduce(1) { $0 + $1.count })
        var offsets: [Int] = []
        var lengths: [Int] = []
        for argument in arguments {
            offsets.append(flat.count)
            lengths.append(argument.count)
            flat.append(contentsOf: argument)
        }
        flat.append(0)
        return flat.withUnsafeBufferPointer { buffer -> Int32 in
            let base = UnsafeRawPointer(buffer.baseAddress!)
            var pointers: [UnsafePointer<CChar>?] = offsets.map { (base + $0).assumingMemoryBound(to: CChar.self) }
            return pointers.withUnsafeMutableBufferPointer { argv in
                lengths.withUnsafeBufferPointer { argvlen in
                    redisAsyncCommandArgv(ac, callback, privdata, Int32(arguments.count), argv.baseAddress,
                                          argvlen.baseAddress)
                }
            }
        }
    }

    /// Closes for good: pending replies are called with nil, no reconnection.
    package func close() {
        guard state != .closed else { return }
        state = .closed
        loop.cancelTimer(self)
        if let ac = context {
            context = nil
            redisAsyncFree(ac)
        }
    }

    /// Closes for good once Redis answered what was sent (a session written at shutdown must reach it); a
    /// connection not up closes at once.
    package func closeGracefully() {
        guard state == .connected, let ac = context else {
            close()
            return
        }
        state = .closed
        loop.cancelTimer(self)
        // hiredis disconnects once every pending reply arrived; the disconnect callback then drops the context.
        redisAsyncDisconnect(ac)
    }

    /// Gives up on the connection now (a reply overdue on a silent network) and reconnects with backoff: pending
    /// replies are called with nil.
    package func drop(reason: String) {
        guard state == .connected, let ac = context else { return }
        log.warn("redis \(role): \(reason); reconnecting")
        // The disconnect callback (run by hiredis while freeing) schedules the reconnection.
        redisAsyncFree(ac)
    }

    private final class ReplyBox {
        let handler: (RedisReply?) -> Void
        init(_ handler: @escaping (RedisReply?) -> Void) { self.handler = handler }
    }
}

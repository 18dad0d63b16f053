import SIOLoop

/// The two Redis connections of one server, shared by the adapters of all its namespaces, as Node's adapter shares
/// its `pubClient` and `subClient`: PUBLISH and PUBSUB NUMSUB go out on `pub`; `sub` is in subscriber mode
/// (SUBSCRIBE to the request/response channels and PSUBSCRIBE to the broadcast pattern of each namespace).
///
/// Either connection may drop at any time: it reconnects with backoff and `sub` subscribes again to everything.
/// What cannot be published meanwhile is not queued: it is counted (`unpublished`) and logged at most once a
/// second. Loop thread only.
public final class RedisClient {
    public let endpoint: RedisEndpoint
    unowned let loop: EventLoop
    let pub: RedisConnection
    let sub: RedisConnection
    private var channelHandlers: [String: ([UInt8]) -> Void] = [:]
    private var patternHandlers: [String: (String, [UInt8]) -> Void] = [:]
    private var closed = false
    private var shutdownHook: Int?

    /// Messages handed to Redis (PUBLISH sent).
    public private(set) var published = 0
    /// Messages that could not be published: no connection, or the connection was lost before Redis answered.
    public private(set) var unpublished = 0
    private var unpublishedSinceLog = 0
    private var lastUnpublishedLog: UInt64 = 0
    private let log = Logger("socket.io:redis")

    /// Called when `sub` is subscribed again after a reconnection (adapters may want to resynchronise).
    var onResubscribed: (() -> Void)?

    /// Called whenever the publishing connection is up (again).
    package var onPublishing: (() -> Void)?

    /// `closesAtShutdown` false leaves closing to the owner (which may want what it sends at shutdown to arrive).
    public init(loop: EventLoop, endpoint: RedisEndpoint, clientName: String? = nil,
                reconnectMinimumDelay: UInt64 = 100, reconnectMaximumDelay: UInt64 = 5000, closesAtShutdown: Bool = true) {
        self.loop = loop
        self.endpoint = endpoint
        pub = RedisConnection(loop: loop, endpoint: endpoint, role: "pub", clientName: clientName,
                              minimumDelay: reconnectMinimumDelay, maximumDelay: reconnectMaximumDelay)
        sub = RedisConnection(loop: loop, endpoint: endpoint, role: "sub", clientName: clientName,
                              minimumDelay: reconnectMinimumDelay, maximumDelay: reconnectMaximumDelay)
        pub.onCommandFailed = { [unowned self] reason in countUnpublished(1, reason: reason) }
        sub.onConnected = { [unowned self] in resubscribeAll() }
        sub.onPush = { [unowned self] reply in dispatch(reply) }
        pub.onConnected = { [unowned self] in onPublishing?() }
        // Close the connections while the loop is still running (its final walk would close hiredis's poll
        // handles behind hiredis's back otherwise).
        if closesAtShutdown { shutdownHook = loop.addShutdownHook { [weak self] in self?.close() } }
    }

    /// Connects both (idempotent).
    public func start() {
        guard !closed else { return }
        pub.start()
        sub.start()
    }

    /// Connects the publishing connection only (a sharded adapter subscribes on a connection of its own).
    package func startPublishing() {
        guard !closed else { return }
        pub.start()
    }

    /// True while PUBLISH can go out.
    public var isPublishing: Bool { pub.isConnected }
    /// True while subscribed (messages from other nodes arrive).
    public var isSubscribed: Bool { sub.isConnected }

    // MARK: Subscriptions

    /// SUBSCRIBE to exact channels; `handler` gets each message's payload.
    package func subscribe(_ channels: [String], handler: @escaping (String, [UInt8]) -> Void) {
        for channel in channels { channelHandlers[channel] = { payload in handler(channel, payload) } }
        if sub.isConnected { sub.sendSubscription([Array("SUBSCRIBE".utf8)] + channels.map { Array($0.utf8) }) }
    }

    /// PSUBSCRIBE to a pattern; `handler` gets each message's channel and payload.
    func psubscribe(_ pattern: String, handler: @escaping (String, [UInt8]) -> Void) {
        patternHandlers[pattern] = handler
        if sub.isConnected { sub.sendSubscription([Array("PSUBSCRIBE".utf8), Array(pattern.utf8)]) }
    }

    package func unsubscribe(_ channels: [String]) {
        for channel in channels { channelHandlers.removeValue(forKey: channel) }
        if sub.isConnected, !channels.isEmpty {
            sub.sendSubscription([Array("UNSUBSCRIBE".utf8)] + channels.map { Array($0.utf8) })
        }
    }

    func punsubscribe(_ pattern: String) {
        patternHandlers.removeValue(forKey: pattern)
        if sub.isConnected { sub.sendSubscription([Array("PUNSUBSCRIBE".utf8), Array(pattern.utf8)]) }
    }

    private func resubscribeAll() {
        for pattern in patternHandlers.keys.sorted() {
            sub.sendSubscription([Array("PSUBSCRIBE".utf8), Array(pattern.utf8)])
        }
        let channels = channelHandlers.keys.sorted()
        if !channels.isEmpty {
            sub.sendSubscription([Array("SUBSCRIBE".utf8)] + channels.map { Array($0.utf8) })
        }
        if sub.connectCount > 1 { onResubscribed?() }
    }

    private func dispatch(_ reply: RedisReply) {
        guard case .array(let parts) = reply, let kind = parts.first?.bytes else { return }
        if kind == Array("message".utf8), parts.count >= 3, let channel = parts[1].bytes, let payload = parts[2].bytes {
            channelHandlers[String(decoding: channel, as: UTF8.self)]?(payload)
        } else if kind == Array("pmessage".utf8), parts.count >= 4, let pattern = parts[1].bytes,
                  let channel = parts[2].bytes, let payload = parts[3].bytes {
            patternHandlers[String(decoding: pattern, as: UTF8.self)]?(String(decoding: channel, as: UTF8.self), payload)
        }
    }

    // MARK: Publishing

    /// PUBLISH (or `command`: SPUBLISH); false (and counted) when it could not be sent.
    @discardableResult
    package func publish(_ channel: String, _ payload: [UInt8], command: String = "PUBLISH") -> Bool {
        guard !closed else { return false }
        guard pub.sendCounted([Array(command.utf8), Array(channel.utf8), payload]) else {
            countUnpublished(1, reason: "not connected to \(endpoint)")
            return false
        }
        published += 1
        return true
    }

    package func countUnpublished(_ count: Int, reason: String) {
        unpublished += count
        unpublishedSinceLog += count
        let now = loop.now
        if lastUnpublishedLog == 0 || now >= lastUnpublishedLog + 1000 {
            log.warn("redis: \(unpublishedSinceLog) message(s) could not be published (\(reason)); "
                     + "\(unpublished) since start")
            unpublishedSinceLog = 0
            lastUnpublishedLog = now
        }
    }

    /// `PUBSUB NUMSUB channel` (or `subcommand`: SHARDNUMSUB): the number of subscribers (nil when Redis cannot be
    /// asked).
    package func numsub(_ channel: String, subcommand: String = "NUMSUB", completion: @escaping (Int?) -> Void) {
        let sent = pub.send([Array("PUBSUB".utf8), Array(subcommand.utf8), Array(channel.utf8)]) { reply in
            guard case .array(let parts)? = reply, parts.count >= 2 else {
                completion(nil)
                return
            }
            switch parts[1] {
            case .integer(let count): completion(Int(count))
            case .string(let text): completion(Int(String(decoding: text, as: UTF8.self)))
            default: completion(nil)
            }
        }
        if !sent { completion(nil) }
    }

    /// Any command on the publishing connection; `reply` gets nil when the connection went away first. False
    /// (and `reply` never called) when not connected.
    @discardableResult
    package func command(_ arguments: [[UInt8]], reply: ((RedisReply?) -> Void)?) -> Bool {
        guard !closed else { return false }
        return pub.send(arguments, reply: reply)
    }

    /// Closes both connections for good, the publishing one once Redis answered what it was sent.
    package func closeGracefully() {
        guard !closed else { return }
        closed = true
        if let shutdownHook { loop.removeShutdownHook(shutdownHook) }
        shutdownHook = nil
        pub.closeGracefully()
        sub.close()
    }

    /// Closes both connections for good.
    public func close() {
        guard !closed else { return }
        closed = true
        if let shutdownHook { loop.removeShutdownHook(shutdownHook) }
        shutdownHook = nil
        pub.close()
        sub.close()
    }
}

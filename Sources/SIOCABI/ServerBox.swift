import SocketIO
import SocketIORedis
import SocketIORedisStreams
#if canImport(Glibc)
import Glibc
#endif

/// `sio_server_t`: a Socket.IO server, its loops, and the C-facing state around them. Retained by the C handle
/// from `sio_server_create` until `sio_server_destroy`. With SIO_OPT_LOOPS above 1, `loop` is the first loop (run
/// by sio_server_run / sio_server_start), and the others start, stop and end with it. Made by
/// sio_server_create_on_loop, its one loop is driven by the host's libuv loop: it runs from creation on (no
/// sio_server_run), on the host loop's thread, and ends when that loop has closed everything of ours after a stop.
final class ServerBox: UnretainedHandle {
    enum State { case created, running, stopped }

    let loop: EventLoop
    /// Every loop of the server, `loop` first.
    let loops: [EventLoop]
    let io: SocketIOServer
    /// One HTTP server and router per loop.
    let http: HTTPServerGroup
    let routers: [HTTPRouter]
    private let stateLock = Lock()
    private var state = State.created
    private var listenedPort: Int32 = -1
    /// `sio_server_destroy` was called on the loop thread: free everything once the loop has ended.
    var destroyRequested = false
    private var ranOnThread = false
    var namespaces: [String: NamespaceBox] = [:]
    var httpHandler: (callback: sio_http_cb, userData: UnsafeMutableRawPointer?)?

    /// The host's allow-request callback, consulted for every new session (set any time before start).
    let gate = AllowRequestGate()

    /// TLS settings from the options; the context is made from them by the first listen with TLS (files are read
    /// then). Both under `stateLock`.
    private var tlsSettings: TLSSettings
    private var tlsContext: TLSContext?
    /// The host's `sio_tls_error_cb`, under `stateLock`.
    private var tlsErrorHandler: (callback: sio_tls_error_cb, userData: UnsafeMutableRawPointer?)?

    init(options: SocketIOOptions, redisURL: String? = nil, redis: RedisAdapterOptions = RedisAdapterOptions(),
         redisStreamsURL: String? = nil, streams: RedisStreamsAdapterOptions = RedisStreamsAdapterOptions(),
         redisShardedURL: String? = nil, sharded: RedisShardedAdapterOptions = RedisShardedAdapterOptions(),
         tls: TLSSettings = TLSSettings(), hostLoop: OpaquePointer? = nil) throws {
        tlsSettings = tls
        loop = try hostLoop.map { try EventLoop(drivenBy: $0) } ?? EventLoop()
        var settings = options
        let gate = self.gate
        settings.engine.allowRequest = { request in gate.decide(request) }
        io = SocketIOServer(loop: loop, options: settings)
        if let redisURL { io.adapterFactory = try RedisAdapter.factory(url: redisURL, options: redis) }
        if let redisStreamsURL { io.adapterFactory = try RedisStreamsAdapter.factory(url: redisStreamsURL, options: streams) }
        if let redisShardedURL { io.adapterFactory = try RedisShardedAdapter.factory(url: redisShardedURL, options: sharded) }
        loops = io.shards.map(\.loop)
        let servers = io.shards.map { HTTPServer(loop: $0.loop, limits: $0.engine.httpLimits) }
        http = HTTPServerGroup(servers: servers, balancing: options.loopBalancing)
        routers = servers.map { _ in HTTPRouter() }
        var bundleRoutes: [HTTPFallback] = []
        for (server, router) in zip(servers, routers) {
            server.handler = router
            // `<path>socket.io.js` (and .min.js, .map, ...) go to the host's HTTP handler, ahead of the Socket.IO
            // path, so a C program can serve the client bundle the way the reference's `serveClient` does.
            let bundleRoute = HTTPFallback(box: nil)
            router.add(prefix: options.engine.path + "socket.io", bundleRoute)
            bundleRoutes.append(bundleRoute)
            server.loop.addShutdownHook { server.close() }
        }
        io.attach(to: routers, of: http)
        for (router, bundleRoute) in zip(routers, bundleRoutes) {
            router.fallback = { [unowned self] exchange in serveOther(exchange) }
            bundleRoute.box = self
        }
        gate.server = self
        if loop.isDriven {
            state = .running  // the host's loop runs it already; sio_server_run and sio_server_start refuse
            loop.onEnded = { [unowned self] in ended() }
        }
    }

    // MARK: Threads and state

    var currentState: State { stateLock.withLock { state } }

    /// True from sio_server_stop on (the loops may still be closing): no new task is accepted.
    var isStopping: Bool { stateLock.withLock { stopRequested || state == .stopped } }
    private var stopRequested = false

    /// True on the thread of one of the server's loops (a host loop's thread runs the loop between its turns too).
    var isOnALoop: Bool { loops.contains { $0.isInLoopThread } }

    /// [LOOP] functions: on one of the server's loop threads (the Swift layer then acts for that loop), or from
    /// the setting-up thread before the loops run.
    var mayTouchLoop: Bool { isOnALoop || currentState == .created }

    /// Runs `work` on a loop: now when on one of the server's loops (the Swift layer acts for that loop), else
    /// queued to the first loop. False when the server has stopped.
    func onLoop(_ work: @escaping () -> Void) -> Bool {
        if isOnALoop {
            work()
            return true
        }
        return onFirstLoop(work)
    }

    /// Runs `work` on the first loop (where a cluster adapter lives): now when there, else queued.
    func onFirstLoop(_ work: @escaping () -> Void) -> Bool {
        if loop.isInLoopThread {
            work()
            return true
        }
        guard !isStopping else { return false }
        return loop.execute(work)
    }

    /// Listens with TLS when the options hold a certificate (unless `plain`).
    func listen(host: String, port: Int, plain: Bool = false) -> Int32 {
        do {
            try http.listen(host: host, port: port, tls: plain ? nil : try tlsContextForListening())
        } catch {
            Log.write(.error, "sio", "\(error)")
            return SIOError.listen.rawValue
        }
        stateLock.withLock { listenedPort = Int32(http.port) }
        return 0
    }

    func listen(fd: Int32) -> Int32 {
        do {
            try http.listen(fd: fd, tls: try tlsContextForListening())
        } catch {
            Log.write(.error, "sio", "\(error)")
            return SIOError.listen.rawValue
        }
        stateLock.withLock { listenedPort = Int32(http.port) }
        return 0
    }

    var port: Int32 { stateLock.withLock { listenedPort < 0 ? SIOError.state.rawValue : listenedPort } }

    // MARK: TLS

    /// The TLS context every TLS listener of this server shares, made (certificate files read) on first use; nil
    /// when the options hold no certificate.
    private func tlsContextForListening() throws -> TLSContext? {
        let (settings, existing) = stateLock.withLock { (tlsSettings, tlsContext) }
        if let existing { return existing }
        guard settings.isSet else { return nil }
        let context = try TLSContext(try settings.options())
        context.onHandshakeError = { [weak self] error in self?.reportTLSError(error) }
        stateLock.withLock { tlsContext = context }
        return context
    }

    /// sio_server_reload_tls: the same sources read again, or the TLS settings of other options.
    func reloadTLS(_ settings: TLSSettings?) -> Int32 {
        let context = stateLock.withLock { tlsContext }
        do {
            guard let context else {
                // Not listening with TLS yet: new settings are simply used when it does.
                guard let settings else { return SIOError.state.rawValue }
                _ = try settings.options()
                stateLock.withLock { tlsSettings = settings }
                return 0
            }
            if let settings {
                try context.reload(try settings.options())
                stateLock.withLock { tlsSettings = settings }
            } else {
                try context.reload()
            }
        } catch {
            Log.write(.error, "sio", "certificate not reloaded (the current one stays): \(error)")
            return SIOError.invalidArgument.rawValue
        }
        return 0
    }

    func setTLSErrorHandler(_ handler: (callback: sio_tls_error_cb, userData: UnsafeMutableRawPointer?)?) {
        stateLock.withLock { tlsErrorHandler = handler }
    }

    private func reportTLSError(_ error: TLSHandshakeError) {
        guard let handler = stateLock.withLock({ tlsErrorHandler }) else { return }
        let kind: Int32 = switch error.kind {
        case .failed: 0
        case .timeout: 1
        case .closed: 2
        }
        error.reason.withCString { reason in
            error.remoteAddress.withCString { address in
                handler.callback(pointer, kind, reason, address, handler.userData)
            }
        }
    }

    /// Moves from created to running; false if it already ran.
    private func begin() -> Bool {
        stateLock.withLock {
            guard state == .created else { return false }
            state = .running
            return true
        }
    }

    func run() -> Int32 {
        guard begin() else { return SIOError.state.rawValue }
        loop.run()
        ended()
        return 0
    }

    func start() -> Int32 {
        guard begin() else { return SIOError.state.rawValue }
        ranOnThread = true
        do {
            try loop.startThread { [self] in ended() }
        } catch {
            stateLock.withLock { state = .created }
            return SIOError.internalError.rawValue
        }
        return 0
    }

    /// The loop has returned (on whichever thread ran it).
    private func ended() {
        stateLock.withLock { state = .stopped }
        if destroyRequested {
            if ranOnThread { loop.detachThread() }
            release()
        }
    }

    func stop() {
        stateLock.withLock { stopRequested = true }
        loop.stop()
    }

    func wait() -> Int32 {
        guard !isOnALoop else { return SIOError.thread.rawValue }
        if loop.isDriven {
            waitUntilStopped()  // the host's thread finishes the stop
        } else {
            loop.join()
        }
        return 0
    }

    /// Waits for a loop that runs on a thread of the caller's (sio_server_run, a host loop) to end.
    private func waitUntilStopped() {
        while currentState != .stopped { usleep(1000) }
    }

    func destroy() {
        if isOnALoop {
            destroyRequested = true
            loop.stop()
            return
        }
        switch currentState {
        case .created:
            // Never ran: run the loop once so the handles opened during setup close cleanly.
            loop.stop(graceMilliseconds: 0)
            stateLock.withLock { state = .running }
            loop.run()
            stateLock.withLock { state = .stopped }
        case .running:
            loop.stop()
            if ranOnThread {
                loop.join()
            } else {
                // Running on another thread of the caller's (sio_server_run, or the host loop's): wait for it.
                waitUntilStopped()
            }
        case .stopped:
            if ranOnThread { loop.join() }
        }
        release()
    }

    private func release() {
        namespaces.removeAll()
        Unmanaged.passUnretained(self).release()
    }

    // MARK: Plain HTTP

    func serveOther(_ exchange: HTTPExchange) {
        guard let handler = httpHandler else {
            exchange.respond(HTTPResponse(status: 404, text: "Not Found"))
            return
        }
        let request = HTTPRequestBox(request: exchange.request, exchange: exchange)
        let pointer = OpaquePointer(Unmanaged.passUnretained(request).toOpaque())
        withExtendedLifetime(request) {
            exchange.request.method.withCString { method in
                exchange.request.target.withCString { path in
                    handler.callback(self.pointer, pointer, method, path, handler.userData)
                }
            }
        }
        request.exchange = nil
        if !exchange.isAnswered {
            exchange.respond(HTTPResponse(status: 500, text: "No response from the application"))
        }
    }

    // MARK: Namespaces

    func namespace(_ name: String) -> NamespaceBox {
        let normalized = name.hasPrefix("/") ? name : "/" + name
        if let existing = namespaces[normalized] { return existing }
        let box = NamespaceBox(server: self, namespace: io.of(normalized))
        namespaces[normalized] = box
        return box
    }
}

/// Routes requests to the host's HTTP handler (the client bundle's paths under the Socket.IO path).
final class HTTPFallback: HTTPServerHandler {
    weak var box: ServerBox?
    init(box: ServerBox?) { self.box = box }

    func httpServer(handle exchange: HTTPExchange) {
        if let box { box.serveOther(exchange) } else { exchange.respond(HTTPResponse(status: 404, text: "Not Found")) }
    }

    func httpServer(upgrade: HTTPUpgrade) {
        upgrade.connection.write(WebSocketHandshake.refusal(status: 400, message: "Bad Request"))
        upgrade.connection.close()
    }
}

/// `sio_http_request_t`: valid during the HTTP or allow-request callback only.
final class HTTPRequestBox: UnretainedHandle {
    let request: HTTPRequest
    var exchange: HTTPExchange?
    /// C strings handed out during the callback.
    var strings: [CString] = []

    init(request: HTTPRequest, exchange: HTTPExchange? = nil) {
        self.request = request
        self.exchange = exchange
    }

    func keep(_ text: String?) -> UnsafePointer<CChar>? {
        guard let text else { return nil }
        let string = CString(text)
        strings.append(string)
        return UnsafePointer(string.pointer)
    }
}

public typealias sio_allow_request_cb = @convention(c) (OpaquePointer?, OpaquePointer?, UnsafeMutableRawPointer?) -> Bool

/// Asks the host's `sio_allow_request_cb`, if any, whether a handshake may open a session.
final class AllowRequestGate {
    weak var server: ServerBox?
    var handler: (callback: sio_allow_request_cb, userData: UnsafeMutableRawPointer?)?

    func decide(_ request: HTTPRequest) -> EngineRefusal? {
        guard let handler, let server else { return nil }
        let box = HTTPRequestBox(request: request)
        let allowed = withExtendedLifetime(box) { handler.callback(server.pointer, box.pointer, handler.userData) }
        return allowed ? nil : EngineRefusal()
    }
}

public typealias sio_task_cb = @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?) -> Void
public typealias sio_http_cb = @convention(c) (OpaquePointer?, OpaquePointer?, UnsafePointer<CChar>?,
                                                UnsafePointer<CChar>?, UnsafeMutableRawPointer?) -> Void

// MARK: - Exports

@_cdecl("sio_server_create")
public func sio_server_create(_ out: UnsafeMutablePointer<OpaquePointer?>?, _ options: OpaquePointer?) -> Int32 {
    createServer(out, options, hostLoop: nil)
}

@_cdecl("sio_server_create_on_loop")
public func sio_server_create_on_loop(_ out: UnsafeMutablePointer<OpaquePointer?>?, _ hostLoop: OpaquePointer?,
                                      _ options: OpaquePointer?) -> Int32 {
    guard let hostLoop else {
        out?.pointee = nil
        return SIOError.invalidArgument.rawValue
    }
    return createServer(out, options, hostLoop: hostLoop)
}

private func createServer(_ out: UnsafeMutablePointer<OpaquePointer?>?, _ options: OpaquePointer?,
                          hostLoop: OpaquePointer?) -> Int32 {
    guard let out else { return SIOError.invalidArgument.rawValue }
    out.pointee = nil
    let settings = optionsBox(options)
    // One cluster adapter: the pub/sub one, the streams one or the sharded one.
    let adapters = [settings?.redisURL, settings?.redisStreamsURL, settings?.redisShardedURL].compactMap { $0 }
    if adapters.count > 1 { return SIOError.invalidArgument.rawValue }
    var sharded = settings?.sharded ?? RedisShardedAdapterOptions()
    if let redis = settings?.redis {
        sharded.channelPrefix = redis.key
        sharded.requestsTimeout = redis.requestsTimeout
    }
    // A host loop is one thread: more loops would be threads of ours (sio_server_create makes them).
    if hostLoop != nil, (settings?.options.loops ?? 1) != 1 { return SIOError.invalidArgument.rawValue }
    do {
        let box = try ServerBox(options: settings?.options ?? SocketIOOptions(), redisURL: settings?.redisURL,
                                redis: settings?.redis ?? RedisAdapterOptions(), redisStreamsURL: settings?.redisStreamsURL,
                                streams: settings?.streams ?? RedisStreamsAdapterOptions(),
                                redisShardedURL: settings?.redisShardedURL, sharded: sharded, tls: settings?.tls ?? TLSSettings(),
                                hostLoop: hostLoop)
        out.pointee = OpaquePointer(Unmanaged.passRetained(box).toOpaque())
        return 0
    } catch {
        Log.write(.error, "sio", "creating the server: \(error)")
        return SIOError.internalError.rawValue
    }
}

@_cdecl("sio_server_listen")
public func sio_server_listen(_ server: OpaquePointer?, _ host: UnsafePointer<CChar>?, _ port: UInt16) -> Int32 {
    guard let box = ServerBox.from(server), let host = swiftString(host) else { return SIOError.invalidArgument.rawValue }
    guard box.mayTouchLoop else { return SIOError.thread.rawValue }
    return box.listen(host: host, port: Int(port))
}

@_cdecl("sio_server_listen_plain")
public func sio_server_listen_plain(_ server: OpaquePointer?, _ host: UnsafePointer<CChar>?, _ port: UInt16) -> Int32 {
    guard let box = ServerBox.from(server), let host = swiftString(host) else { return SIOError.invalidArgument.rawValue }
    guard box.mayTouchLoop else { return SIOError.thread.rawValue }
    return box.listen(host: host, port: Int(port), plain: true)
}

@_cdecl("sio_server_listen_fd")
public func sio_server_listen_fd(_ server: OpaquePointer?, _ fd: Int32) -> Int32 {
    guard let box = ServerBox.from(server), fd >= 0 else { return SIOError.invalidArgument.rawValue }
    guard box.mayTouchLoop else { return SIOError.thread.rawValue }
    return box.listen(fd: fd)
}

@_cdecl("sio_server_port")
public func sio_server_port(_ server: OpaquePointer?) -> Int32 {
    guard let box = ServerBox.from(server) else { return SIOError.invalidArgument.rawValue }
    return box.port
}

@_cdecl("sio_server_run")
public func sio_server_run(_ server: OpaquePointer?) -> Int32 {
    guard let box = ServerBox.from(server) else { return SIOError.invalidArgument.rawValue }
    return box.run()
}

@_cdecl("sio_server_start")
public func sio_server_start(_ server: OpaquePointer?) -> Int32 {
    guard let box = ServerBox.from(server) else { return SIOError.invalidArgument.rawValue }
    return box.start()
}

@_cdecl("sio_server_stop")
public func sio_server_stop(_ server: OpaquePointer?) -> Int32 {
    guard let box = ServerBox.from(server) else { return SIOError.invalidArgument.rawValue }
    box.stop()
    return 0
}

@_cdecl("sio_server_wait")
public func sio_server_wait(_ server: OpaquePointer?) -> Int32 {
    guard let box = ServerBox.from(server) else { return SIOError.invalidArgument.rawValue }
    return box.wait()
}

@_cdecl("sio_server_destroy")
public func sio_server_destroy(_ server: OpaquePointer?) {
    ServerBox.from(server)?.destroy()
}

@_cdecl("sio_server_post")
public func sio_server_post(_ server: OpaquePointer?, _ fn: sio_task_cb?, _ userData: UnsafeMutableRawPointer?) -> Int32 {
    guard let box = ServerBox.from(server), let fn else { return SIOError.invalidArgument.rawValue }
    guard !box.isStopping else { return SIOError.closed.rawValue }
    nonisolated(unsafe) let context = userData
    guard box.loop.execute({ [box] in fn(box.pointer, context) }) else { return SIOError.closed.rawValue }
    return 0
}

@_cdecl("sio_server_on_http_request")
public func sio_server_on_http_request(_ server: OpaquePointer?, _ callback: sio_http_cb?,
                                       _ userData: UnsafeMutableRawPointer?) -> Int32 {
    guard let box = ServerBox.from(server) else { return SIOError.invalidArgument.rawValue }
    guard box.mayTouchLoop else { return SIOError.thread.rawValue }
    box.httpHandler = callback.map { ($0, userData) }
    return 0
}

@_cdecl("sio_http_respond")
public func sio_http_respond(_ request: OpaquePointer?, _ status: Int32, _ contentType: UnsafePointer<CChar>?,
                             _ body: UnsafeRawPointer?, _ length: Int) -> Int32 {
    guard let box = HTTPRequestBox.from(request), (100...599).contains(status), length >= 0, body != nil || length == 0 else {
        return SIOError.invalidArgument.rawValue
    }
    // An allow-request callback's request has no exchange: it is answered by the engine.
    guard let exchange = box.exchange, !exchange.isAnswered else { return SIOError.state.rawValue }
    var headers: [(name: String, value: String)] = []
    if let contentType {
        guard let type = swiftString(contentType),
              !type.utf8.contains(where: { $0 == UInt8(ascii: "\r") || $0 == UInt8(ascii: "\n") }) else {
            return SIOError.invalidArgument.rawValue
        }
        headers.append(("Content-Type", type))
    }
    let bytes = length == 0 ? [] : Array(UnsafeRawBufferPointer(start: body, count: length))
    exchange.respond(HTTPResponse(status: Int(status), headers: headers, body: bytes))
    return 0
}

@_cdecl("sio_server_on_allow_request")
public func sio_server_on_allow_request(_ server: OpaquePointer?, _ callback: sio_allow_request_cb?,
                                        _ userData: UnsafeMutableRawPointer?) -> Int32 {
    guard let box = ServerBox.from(server) else { return SIOError.invalidArgument.rawValue }
    guard box.mayTouchLoop else { return SIOError.thread.rawValue }
    box.gate.handler = callback.map { ($0, userData) }
    return 0
}

@_cdecl("sio_http_request_header")
public func sio_http_request_header(_ request: OpaquePointer?, _ name: UnsafePointer<CChar>?) -> UnsafePointer<CChar>? {
    guard let box = HTTPRequestBox.from(request), let name = swiftString(name) else { return nil }
    return box.keep(box.request.header(name))
}

@_cdecl("sio_http_request_url")
public func sio_http_request_url(_ request: OpaquePointer?) -> UnsafePointer<CChar>? {
    guard let box = HTTPRequestBox.from(request) else { return nil }
    return box.keep(box.request.target)
}

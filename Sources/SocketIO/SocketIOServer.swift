import EngineIO
import SIOHTTP
import SIOLoop
import SocketIOCodec
#if canImport(Glibc)
import Glibc
#endif

/// A Socket.IO v5 server: namespaces over Engine.IO connections. Reads like the reference:
///
/// ```swift
/// let io = SocketIOServer(loop: loop)
/// io.onConnection { socket in
///     socket.on("chat message") { arguments, _ in io.emit("chat message", arguments) }
/// }
/// try io.listen(port: 3000)
/// loop.run()
/// ```
///
/// Everything runs on the loop's thread; from another thread, go through `loop.execute`.
///
/// With `options.loops` above 1 the server has more loops, on threads of its own, that start when `loop` runs
/// and stop with it; `loop.run()` returns once all have ended. Each connection lives on one loop, and handlers
/// run on the loop of the socket they are about, so handlers of different sockets may run at the same time: state
/// they share must be thread-safe. Registering handlers (`use`, `onConnection`, `of(_:).on(...)`) applies to
/// every loop. Emitting and the other operations on `io` and on namespaces act for the calling loop, and reach the
/// sockets of every loop; the same rooms work across loops.
public final class SocketIOServer {
    public unowned let loop: EventLoop
    public let options: SocketIOOptions
    public let engine: EngineServer
    /// `options.parser`, read on every packet.
    let parser: (any SocketIOParser)?
    /// Makes the adapter of each namespace (in-memory by default). Set before namespaces are created. With several
    /// loops it is used on the first loop only, and should compose `namespace.makeLocalAdapter()` for delivery in
    /// this process (as the Redis adapter does); the other loops hand it what crosses nodes.
    public var adapterFactory: (Namespace) -> any SocketIOAdapter = { $0.makeLocalAdapter() } {
        didSet { hasCustomAdapter = true }
    }
    private(set) var hasCustomAdapter = false
    /// Set by a cluster adapter that keeps recovery sessions and logs every packet itself (the Redis streams
    /// adapter, when its first namespace is made): the other loops then hand it sessions, restores and emits to
    /// one socket, which the in-process adapters would otherwise keep for themselves. Set before the loops run.
    public var adapterKeepsSessions = false
    /// Socket ids of 20 characters, as Node's (`base64id`), instead of 15: set by the sharded Redis adapter in
    /// "dynamic" mode, where Node nodes take a 20-character room for a socket id (published on the namespace's
    /// channel) and any other room for a public one (published on that room's channel, which no node subscribes
    /// for a socket). Set before the loops run (the first loop's value counts).
    public var nodeLengthSocketIDs = false

    /// This server's loop among the server's loops (0 for the loop the application made).
    public let loopIndex: Int
    /// The servers of all loops when there are several, nil with one. The first loop's server owns the group; the
    /// others are owned by it and only point back.
    var group: ShardGroup? { ownedGroup ?? memberOf }
    private let ownedGroup: ShardGroup?
    private unowned(unsafe) let memberOf: ShardGroup?
    /// A server on a loop the group made keeps that loop alive (`loop` itself is unowned).
    var ownedLoop: EventLoop?

    private var namespaces: [String: Namespace] = [:]
    /// Told of every namespace this loop makes (the admin UI's listeners, `observeNamespaces`).
    private var namespaceObservers: [(Namespace) -> Void] = []
    /// The admin UI's instrumentation, kept alive here (`instrument(_:)`).
    var instrumentation: AnyObject?
    /// What `listen(host:port:routes:)` made, kept alive here.
    private var ownRouters: [HTTPRouter] = []
    private var ownHTTP: HTTPServerGroup?
    private var parents: [ParentNamespace] = []
    let log = Logger("socket.io:server")

    public convenience init(loop: EventLoop, options: SocketIOOptions = SocketIOOptions()) {
        let count = options.resolvedLoops
        self.init(loop: loop, options: options, group: count > 1 ? ShardGroup() : nil, index: 0)
        group?.build(primary: self, count: count)
    }

    /// A server on loops another multi-loop server made (`other.shards.map(\.loop)`): the same threads serve
    /// both, for example two Socket.IO paths behind one port. `loops[0]` is the loop this server is used from;
    /// the others stay the first server's (they start, stop and end with it).
    public convenience init(sharing loops: [EventLoop], options: SocketIOOptions = SocketIOOptions()) {
        precondition(!loops.isEmpty, "a server needs a loop")
        self.init(loop: loops[0], options: options, group: loops.count > 1 ? ShardGroup() : nil, index: 0)
        group?.build(primary: self, loops: Array(loops.dropFirst()))
    }

    /// A shard of `group` on `loop` (index 0 is the application's server).
    init(loop: EventLoop, options: SocketIOOptions, group: ShardGroup?, index: Int) {
        self.loop = loop
        self.options = options
        ownedGroup = index == 0 ? group : nil
        memberOf = index == 0 ? nil : group
        loopIndex = index
        parser = options.parser
        engine = EngineServer(loop: loop, options: options.engine)
        engine.onConnection = { [unowned self] connection in _ = Client(server: self, engine: connection) }
        if options.metrics { engine.exactRoutes[options.metricsPath] = { [unowned self] in serveMetrics($0) } }
        shutdownLink.action = { [unowned self] in close() }
    }

    /// The servers of every loop, this one first (just this one with a single loop).
    public var shards: [SocketIOServer] { group?.shards ?? [self] }
    /// How many loops serve this server (no array built: ack ids ask on every emit).
    var loopCount: Int { group?.count ?? 1 }

    /// The server of the calling thread's loop: this one, or its twin on another loop of the group. Off every
    /// loop (setting up, before the loops run) it is this one.
    var here: SocketIOServer {
        guard let group, !loop.isInLoopThread, let current = group.current else { return self }
        return current
    }

    /// Runs `body` with the server of every loop: now for this thread's loop and loops not running yet, through
    /// their submit queues for the others.
    func everywhere(_ body: @escaping (SocketIOServer) -> Void) {
        guard let group else {
            body(self)
            return
        }
        for member in group.members {
            let shard = member.server
            shard.loop.perform { body(shard) }
        }
    }

    /// The routers of `listen(host:port:tls:routes:)`, kept alive here (an HTTP server does not retain its handler).
    private var listenRouters: [HTTPRouter] = []

    /// Reaches this server from the loop's shutdown hooks without a weak reference (see ShutdownLink): every client
    /// retains the server while it works.
    private let shutdownLink = ShutdownLink()

    /// Listens on its own port, over TLS (HTTPS and WSS) with `tls`. Requests outside the Socket.IO path go to
    /// `onOtherRequest` (404 by default). With several loops every loop serves the port; call before the loops run.
    ///
    /// ```swift
    /// let tls = try TLSContext(TLSOptions(certificateFile: "cert.pem", keyFile: "key.pem"))
    /// try io.listen(port: 443, tls: tls)
    /// // later, for a renewed certificate (new connections get it, open ones keep theirs):
    /// try tls.reload()
    /// ```
    public func listen(host: String = "0.0.0.0", port: Int, tls: TLSContext? = nil) throws {
        guard let group else {
            try engine.listen(host: host, port: port, tls: tls)
            loop.addShutdownHook(shutdownLink)
            return
        }
        let servers = group.shards.map { HTTPServer(loop: $0.loop, limits: $0.engine.httpLimits) }
        let http = HTTPServerGroup(servers: servers, balancing: options.loopBalancing)
        group.http = http
        for (shard, server) in zip(group.shards, servers) {
            shard.loop.perform {
                shard.engine.serve(on: server)
                shard.loop.addShutdownHook(shard.shutdownLink)
            }
        }
        try http.listen(host: host, port: port, tls: tls)
    }

    /// Routers this server serves on, kept alive here: an HTTP server does not retain its handler.
    private var routers: [HTTPRouter] = []

    /// Serves the Socket.IO path on a router shared with other handlers.
    public func attach(to router: HTTPRouter) {
        routers.append(router)
        if options.metrics { router.add(path: options.metricsPath, MetricsRoute(server: self)) }
        router.add(prefix: options.engine.path, engine)
        loop.addShutdownHook(shutdownLink)
    }

    /// Serves the Socket.IO path of every loop: `routers[i]` handles the requests of `http.servers[i]`, on the
    /// i-th loop (`shards[i].loop`). Call before the loops run.
    public func attach(to routers: [HTTPRouter], of http: HTTPServerGroup) {
        group?.http = http
        for (shard, router) in zip(shards, routers) { shard.loop.perform { shard.attach(to: router) } }
    }

    /// Listens on `host:port` behind an HTTP router per loop, for a server that also answers other requests (a
    /// page, files): `setUp` adds the application's routes (and fallback) to each loop's router, before the
    /// Socket.IO path; handlers it installs run on the loop that received the request. With `tls` the port speaks
    /// HTTPS; the group returned can listen on more ports (`listen(host:port:tls:)`), plain and TLS side by side.
    /// Call before the loops run.
    @discardableResult
    public func listen(host: String = "0.0.0.0", port: Int, tls: TLSContext? = nil,
                       routes setUp: (HTTPRouter) -> Void) throws -> HTTPServerGroup {
        let servers = shards.map { HTTPServer(loop: $0.loop, limits: $0.engine.httpLimits) }
        let http = HTTPServerGroup(servers: servers, balancing: options.loopBalancing)
        var routers: [HTTPRouter] = []
        for server in servers {
            let router = HTTPRouter()
            setUp(router)
            server.handler = router
            server.loop.perform { server.loop.addShutdownHook { server.close() } }
            routers.append(router)
        }
        // An HTTP server does not retain its handler: the routers live as long as this server.
        ownRouters = routers
        ownHTTP = http
        if group == nil {
            attach(to: routers[0])
        } else {
            attach(to: routers, of: http)
        }
        // `HTTPServer.handler` is unowned: the routers live as long as this server.
        listenRouters += routers
        try http.listen(host: host, port: port, tls: tls)
        return http
    }

    public var port: Int { group?.http?.port ?? engine.port }

    public var onOtherRequest: ((HTTPExchange) -> Void)? {
        get { engine.onOtherRequest }
        set { engine.onOtherRequest = newValue }
    }

    // MARK: Namespaces

    /// The namespace `name` (created on first use, on every loop). `/` is the main namespace.
    public func of(_ name: String) -> Namespace {
        let normalized = name.hasPrefix("/") ? name : "/" + name
        let target = here
        if let existing = target.namespaces[normalized] { return existing }
        let namespace = target.makeNamespace(normalized)
        if group != nil {
            // The other loops get it too, so a cluster adapter on the first loop subscribes for it.
            everywhere { shard in if shard !== target { _ = shard.existingNamespace(normalized) ?? shard.makeNamespace(normalized) } }
        }
        return namespace
    }

    private func makeNamespace(_ name: String) -> Namespace {
        let namespace = Namespace(name: name, server: self)
        namespaces[name] = namespace
        for observer in namespaceObservers { observer(namespace) }
        return namespace
    }

    /// Runs `body` on every loop for each namespace it has and each it makes from now on (on that loop's thread).
    func observeNamespaces(_ body: @escaping (Namespace) -> Void) {
        everywhere { shard in
            for name in shard.namespaceNames.sorted() { if let namespace = shard.namespaces[name] { body(namespace) } }
            shard.namespaceObservers.append(body)
        }
    }

    /// Takes `take(shard)` on every loop, on that loop's thread (through its submit queue; a loop that is stopping
    /// is left out), and gives the results in loop order to `completion` on this server's loop. Call on its thread.
    func gatherFromLoops<T>(_ take: @escaping (SocketIOServer) -> T, completion: @escaping ([T]) -> Void) {
        var results: [(Int, T)] = [(loopIndex, take(self))]
        var waiting = 0
        let finish = { completion(results.sorted { $0.0 < $1.0 }.map(\.1)) }
        for shard in shards where shard !== self {
            let asked = shard.loop.execute { [loop] in
                let result = take(shard)
                loop.execute {
                    results.append((shard.loopIndex, result))
                    waiting -= 1
                    if waiting == 0 { finish() }
                }
            }
            if asked { waiting += 1 }
        }
        if waiting == 0 { finish() }
    }

    /// The namespace `name` if this loop has it.
    func existingNamespace(_ name: String) -> Namespace? { namespaces[name] }
    /// The names of this loop's namespaces.
    var namespaceNames: [String] { Array(namespaces.keys) }

    /// Dynamic namespaces: a client may join any name `predicate` accepts (it sees the name and the auth payload).
    /// With several loops the predicate runs on the loop of the connecting client.
    public func of(where predicate: @escaping (_ name: String, _ auth: [UInt8]?) -> Bool) -> ParentNamespace {
        let target = here
        let index = target.parents.count
        let parent = ParentNamespace(predicate: predicate, server: target, index: index)
        target.parents.append(parent)
        if group != nil {
            everywhere { shard in
                if shard !== target, shard.parents.count == index {
                    shard.parents.append(ParentNamespace(predicate: predicate, server: shard, index: index))
                }
            }
        }
        return parent
    }

    /// The dynamic parent at `index` on this loop.
    func parent(at index: Int) -> ParentNamespace? { parents.indices.contains(index) ? parents[index] : nil }

    /// The namespace a CONNECT for `name` joins, creating a dynamic child if a parent accepts it.
    func namespace(for name: String, auth: [UInt8]?) -> Namespace? {
        if let existing = namespaces[name] { return existing }
        for parent in parents where parent.predicate(name, auth) {
            let child = makeChild(name, of: parent)
            if group != nil {
                // Every loop gets the child, with the same parent's handlers.
                let index = parent.index
                everywhere { shard in
                    if shard !== self, shard.namespaces[name] == nil, let twin = shard.parent(at: index) {
                        _ = shard.makeChild(name, of: twin)
                    }
                }
            }
            return child
        }
        return nil
    }

    private func makeChild(_ name: String, of parent: ParentNamespace) -> Namespace {
        let child = Namespace(name: name, server: self, parent: parent)
        namespaces[name] = child
        parent.addChild(child)
        for observer in namespaceObservers { observer(child) }
        return child
    }

    func removeNamespace(_ namespace: Namespace) {
        if namespaces[namespace.name] === namespace { namespaces.removeValue(forKey: namespace.name) }
    }

    /// The main namespace, `/`.
    public var sockets: Namespace { of("/") }

    // MARK: The main namespace's API, as on the reference's `io`

    public func use(_ middleware: @escaping Middleware) { sockets.use(middleware) }
    public func onConnection(_ handler: @escaping (Socket) -> Void) { sockets.onConnection(handler) }
    public func emit(_ event: String, _ arguments: SocketIOArguments = .none) { sockets.emit(event, arguments) }
    public func emit(_ event: String, _ values: JSONValue...) { sockets.emit(event, SocketIOArguments(values)) }
    public func to(_ room: String) -> BroadcastOperator { sockets.to(room) }
    public func to(_ rooms: [String]) -> BroadcastOperator { sockets.to(rooms) }
    public func `in`(_ room: String) -> BroadcastOperator { sockets.to(room) }
    public func except(_ room: String) -> BroadcastOperator { sockets.except(room) }
    public var volatile: BroadcastOperator { sockets.volatile }
    public var local: BroadcastOperator { sockets.local }
    public func compress(_ enabled: Bool) -> BroadcastOperator { sockets.compress(enabled) }
    public func timeout(_ milliseconds: UInt64) -> BroadcastOperator { sockets.timeout(milliseconds) }
    public func fetchSockets(_ completion: @escaping ([RemoteSocket]) -> Void) { sockets.fetchSockets(completion) }
    public func socketsJoin(_ rooms: String...) { sockets.broadcastOperator.socketsJoin(rooms) }
    public func socketsLeave(_ rooms: String...) { sockets.broadcastOperator.socketsLeave(rooms) }
    public func disconnectSockets(close: Bool = false) { sockets.disconnectSockets(close: close) }

    // MARK: Closing

    private var closed = false

    /// Disconnects every socket ("server shutting down") and closes the Engine.IO server.
    public func close() {
        guard !closed else { return }
        closed = true
        if loopIndex == 0 { closeSocketsOnOtherLoops() }
        closeSockets()
        engine.close()
        for namespace in namespaces.values {
            namespace.failPendingBroadcastAcks()
            namespace.adapter.close()
        }
    }

    private func closeSockets() {
        for namespace in Array(namespaces.values) {
            for socket in Array(namespace.sockets.values) { socket.close(reason: .serverShuttingDown) }
        }
    }

    /// With a cluster adapter that keeps sessions (on this, the first loop), the other loops' sockets leave first,
    /// while this loop still takes work from them: at shutdown the sessions they hand it would otherwise reach a
    /// loop that already stopped taking work, and be lost. Waits for them at most `timeout` milliseconds.
    private func closeSocketsOnOtherLoops(timeout: UInt64 = 2000) {
        guard let group, group.shards.count > 1, adapterKeepsSessions else { return }
        let lock = Lock()
        var done = 0
        var asked = 0
        for shard in group.shards.dropFirst() {
            if shard.loop.execute({
                shard.closeSockets()
                lock.withLock { done += 1 }
            }) { asked += 1 }
        }
        var waited: UInt64 = 0
        while lock.withLock({ done }) < asked, waited < timeout {
            usleep(1000)
            waited += 1
        }
    }

    func wallClockMilliseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return UInt64(now.tv_sec) * 1000 + UInt64(now.tv_nsec) / 1_000_000
    }
}

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
public final class SocketIOServer {
    public unowned let loop: EventLoop
    public let options: SocketIOOptions
    public let engine: EngineServer
    /// Makes the adapter of each namespace (in-memory by default). Set before namespaces are created.
    public var adapterFactory: (Namespace) -> any SocketIOAdapter = { InMemoryAdapter(namespace: $0) }

    private var namespaces: [String: Namespace] = [:]
    private var parents: [ParentNamespace] = []
    let log = Logger("socket.io:server")

    public init(loop: EventLoop, options: SocketIOOptions = SocketIOOptions()) {
        self.loop = loop
        self.options = options
        engine = EngineServer(loop: loop, options: options.engine)
        engine.onConnection = { [unowned self] connection in _ = Client(server: self, engine: connection) }
        shutdownLink.action = { [unowned self] in close() }
    }

    /// Reaches this server from the loop's shutdown hooks without a weak reference (see ShutdownLink): every client
    /// retains the server while it works.
    private let shutdownLink = ShutdownLink()

    /// Listens on its own port. Requests outside the Socket.IO path go to `onOtherRequest` (404 by default).
    public func listen(host: String = "0.0.0.0", port: Int) throws {
        try engine.listen(host: host, port: port)
        loop.addShutdownHook(shutdownLink)
    }

    /// Serves the Socket.IO path on a router shared with other handlers.
    public func attach(to router: HTTPRouter) {
        router.add(prefix: options.engine.path, engine)
        loop.addShutdownHook(shutdownLink)
    }

    public var port: Int { engine.port }

    public var onOtherRequest: ((HTTPExchange) -> Void)? {
        get { engine.onOtherRequest }
        set { engine.onOtherRequest = newValue }
    }

    // MARK: Namespaces

    /// The namespace `name` (created on first use). `/` is the main namespace.
    public func of(_ name: String) -> Namespace {
        let normalized = name.hasPrefix("/") ? name : "/" + name
        if let existing = namespaces[normalized] { return existing }
        let namespace = Namespace(name: normalized, server: self)
        namespaces[normalized] = namespace
        return namespace
    }

    /// Dynamic namespaces: a client may join any name `predicate` accepts (it sees the name and the auth payload).
    public func of(where predicate: @escaping (_ name: String, _ auth: [UInt8]?) -> Bool) -> ParentNamespace {
        let parent = ParentNamespace(predicate: predicate)
        parents.append(parent)
        return parent
    }

    /// The namespace a CONNECT for `name` joins, creating a dynamic child if a parent accepts it.
    func namespace(for name: String, auth: [UInt8]?) -> Namespace? {
        if let existing = namespaces[name] { return existing }
        for parent in parents where parent.predicate(name, auth) {
            let child = Namespace(name: name, server: self, parent: parent)
            namespaces[name] = child
            parent.addChild(child)
            return child
        }
        return nil
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
    public func socketsJoin(_ rooms: String...) { sockets.adapter.addSockets(BroadcastOptions(), rooms: rooms) }
    public func socketsLeave(_ rooms: String...) { sockets.adapter.deleteSockets(BroadcastOptions(), rooms: rooms) }
    public func disconnectSockets(close: Bool = false) { sockets.disconnectSockets(close: close) }

    // MARK: Closing

    private var closed = false

    /// Disconnects every socket ("server shutting down") and closes the Engine.IO server.
    public func close() {
        guard !closed else { return }
        closed = true
        for namespace in Array(namespaces.values) {
            for socket in Array(namespace.sockets.values) { socket.close(reason: .serverShuttingDown) }
        }
        engine.close()
        for namespace in namespaces.values {
            namespace.failPendingBroadcastAcks()
            namespace.adapter.close()
        }
    }

    func wallClockMilliseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return UInt64(now.tv_sec) * 1000 + UInt64(now.tv_nsec) / 1_000_000
    }
}

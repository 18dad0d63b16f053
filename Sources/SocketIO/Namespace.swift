import SIOLoop
import SocketIOCodec

/// Refuses a connection from a middleware. The client's `connect_error` gets `message` and `data`.
public struct MiddlewareError: Error, Sendable {
    public var message: String
    public var data: JSONValue?

    public init(_ message: String, data: JSONValue? = nil) {
        self.message = message
        self.data = data
    }
}

/// Runs before a socket joins a namespace. Call `next(nil)` to let it in, `next(error)` to refuse; `next` may be
/// called later (after asynchronous work), on the loop thread.
public typealias Middleware = (_ socket: Socket, _ next: @escaping (MiddlewareError?) -> Void) -> Void

/// A communication channel multiplexed over the connections (`/`, `/chat`, ...), with its own sockets, rooms,
/// middlewares and adapter. Loop thread only.
///
/// With several loops each loop has its own `Namespace` of the same name (its sockets, its adapter): registering
/// handlers here applies to all of them, and emitting or operating on sockets from a loop's thread acts through
/// that loop's namespace and reaches the sockets of every loop. `sockets` lists this loop's sockets only.
public final class Namespace {
    public let name: String
    public unowned let server: SocketIOServer
    /// Connected sockets by id.
    public internal(set) var sockets: [String: Socket] = [:]
    public private(set) var adapter: (any SocketIOAdapter)!
    /// The dynamic namespace this one was created from, if any.
    public private(set) weak var parent: ParentNamespace?

    var middlewares: [Middleware] = []
    var connectionHandlers: [(Socket) -> Void] = []
    var eventHandlers: [String: [(Socket, SocketIOArguments, SocketIOAck?) -> Void]] = [:]
    /// Empty unless someone listens: the adapter then skips the bookkeeping entirely.
    var roomEventHandlers: [(RoomEvent) -> Void] = []
    private var ackCounter: UInt64 = 0
    /// Set when the adapter (or the cluster adapter's local part) is the multi-loop one.
    var shardedAdapter: ShardedAdapter?
    /// Connected sockets by private session id, kept with connection state recovery on only.
    private var socketsByPid: [String: Socket] = [:]
    private var pendingBroadcastAcks: [ObjectIdentifier: BroadcastAckCollector] = [:]
    /// This loop's counts for metrics (loop thread only).
    public internal(set) var counters = NamespaceCounters()
    let log: Logger

    init(name: String, server: SocketIOServer, parent: ParentNamespace? = nil) {
        self.name = name
        self.server = server
        self.parent = parent
        log = Logger("socket.io:namespace")
        ackCounter = UInt64(server.loopIndex)
        if server.loopIndex > 0 {
            // Another loop than the first: a cluster adapter lives on the first loop only.
            let local = ShardedAdapter(namespace: self, upstream: server.group!.members[0].server.hasCustomAdapter)
            shardedAdapter = local
            adapter = local
        } else {
            adapter = server.adapterFactory(self)
        }
        if let parent {
            middlewares = parent.middlewares
            connectionHandlers = parent.connectionHandlers
            eventHandlers = parent.eventHandlers
        }
    }

    /// The adapter for delivery in this process: in-memory with one loop, across the loops with several. What a
    /// cluster adapter composes (see `SocketIOServer.adapterFactory`).
    public func makeLocalAdapter() -> any LocalAdapter {
        guard server.group != nil else { return InMemoryAdapter(namespace: self) }
        let local = ShardedAdapter(namespace: self, upstream: false)
        shardedAdapter = local
        return local
    }

    /// The namespace of the calling thread's loop (this one off the loops or with one loop).
    var here: Namespace {
        let server = server.here
        return server === self.server ? self : server.existingNamespace(name) ?? self
    }

    /// Applies a registration to this namespace on every loop.
    private func everywhere(_ body: @escaping (Namespace) -> Void) {
        guard server.group != nil else {
            body(self)
            return
        }
        let name = name
        let dynamic = parent != nil
        server.everywhere { shard in
            // A dynamic child missing on a loop gets its parent's handlers when it is made there.
            if let twin = shard.existingNamespace(name) ?? (dynamic ? nil : shard.of(name)) { body(twin) }
        }
    }

    /// Adds a middleware, run in order for every connecting socket (on the socket's loop).
    public func use(_ middleware: @escaping Middleware) {
        everywhere { $0.middlewares.append(middleware) }
    }

    /// Called for each socket that joined, after its CONNECT reply was queued, on the socket's loop.
    public func onConnection(_ handler: @escaping (Socket) -> Void) {
        everywhere { $0.connectionHandlers.append(handler) }
    }

    /// Called for every room change of this namespace on this server (the reference adapter's `create-room`,
    /// `delete-room`, `join-room`, `leave-room`), in the order they happen. With several loops the handler runs on
    /// the loop of the socket concerned, one call at a time across loops, and sees the process's rooms: created once
    /// when the first member anywhere joins, deleted once when the last one leaves.
    public func onRoomEvent(_ handler: @escaping (RoomEvent) -> Void) {
        everywhere { $0.roomEventHandlers.append(handler) }
    }

    var reportsRoomEvents: Bool { !roomEventHandlers.isEmpty }

    func report(_ event: RoomEvent) {
        if let group = server.group {
            roomCensus = roomCensus ?? group.roomCensus(name)
            roomCensus?.report(event, to: roomEventHandlers)
            return
        }
        for handler in roomEventHandlers { handler(event) }
    }

    /// With several loops: the rooms of this namespace as the process sees them (for room events).
    private var roomCensus: RoomCensus?

    /// Handles `event` from every socket of the namespace (after the socket's own handlers), as python-socketio's
    /// `@sio.on(event)` does. One closure for all sockets: the memory-lean way to serve many connections. Runs on
    /// the socket's loop.
    public func on(_ event: String, _ handler: @escaping (_ socket: Socket, _ arguments: SocketIOArguments,
                                                         _ ack: SocketIOAck?) -> Void) {
        everywhere { $0.eventHandlers[event, default: []].append(handler) }
    }

    func dispatch(_ event: String, socket: Socket, _ arguments: SocketIOArguments, _ ack: SocketIOAck?) {
        guard let list = eventHandlers[event] else { return }
        for handler in list {
            guard socket.connected else { return }
            handler(socket, arguments, ack)
        }
    }

    func track(_ collector: BroadcastAckCollector) {
        let key = ObjectIdentifier(collector)
        pendingBroadcastAcks[key] = collector
        collector.onFinish = { [unowned self] in pendingBroadcastAcks.removeValue(forKey: key) }
    }

    /// The server is closing: broadcasts still waiting for acknowledgements end with `.disconnected`.
    func failPendingBroadcastAcks() {
        for collector in Array(pendingBroadcastAcks.values) { collector.finish(.disconnected) }
    }

    /// Ids for acknowledgements, shared by all sockets of the namespace so a broadcast can use one id for all.
    /// With several loops each loop's ids have their own residue modulo the loop count, so a broadcast from one
    /// loop never collides with an id another loop gave its sockets.
    func nextAckID() -> UInt64 {
        defer { ackCounter &+= UInt64(server.loopCount) }
        return ackCounter
    }

    // MARK: Broadcasting

    public var broadcastOperator: BroadcastOperator { BroadcastOperator(namespace: self) }
    public func to(_ room: String) -> BroadcastOperator { broadcastOperator.to(room) }
    public func to(_ rooms: [String]) -> BroadcastOperator { broadcastOperator.to(rooms) }
    public func `in`(_ room: String) -> BroadcastOperator { broadcastOperator.to(room) }
    public func except(_ room: String) -> BroadcastOperator { broadcastOperator.except(room) }
    public var volatile: BroadcastOperator { broadcastOperator.volatile }
    public var local: BroadcastOperator { broadcastOperator.local }
    public func compress(_ enabled: Bool) -> BroadcastOperator { broadcastOperator.compress(enabled) }
    public func timeout(_ milliseconds: UInt64) -> BroadcastOperator { broadcastOperator.timeout(milliseconds) }

    /// Emits to every socket of the namespace.
    public func emit(_ event: String, _ arguments: SocketIOArguments = .none) {
        broadcastOperator.emit(event, arguments)
    }

    public func emit(_ event: String, _ values: JSONValue...) {
        broadcastOperator.emit(event, SocketIOArguments(values))
    }

    public func fetchSockets(_ completion: @escaping ([RemoteSocket]) -> Void) { broadcastOperator.fetchSockets(completion) }
    public func socketsJoin(_ rooms: String...) { broadcastOperator.socketsJoin(rooms) }
    public func socketsLeave(_ rooms: String...) { broadcastOperator.socketsLeave(rooms) }
    public func disconnectSockets(close: Bool = false) { broadcastOperator.disconnectSockets(close: close) }

    // MARK: Joining

    /// A client asked to join: recover its session if it can, run the middlewares, then connect or refuse.
    func add(client: Client, auth: [UInt8]?) {
        if server.options.connectionStateRecovery != nil, let auth, let value = try? JSONValue.parse(auth),
           let pid = value["pid"]?.stringValue {
            // No offset: the client never received an event. Adapters with a log still know what it missed.
            let offset = value["offset"]?.stringValue
            takeOver(pid)
            adapter.restoreSession(pid: pid, offset: offset) { [self] restored in
                if restored == nil { counters.notRecovered &+= 1 } else { counters.recovered &+= 1 }
                guard client.engine.isOpen else { return }
                admit(client, auth: auth, restored: restored)
            }
            return
        }
        admit(client, auth: auth, restored: nil)
    }

    /// The client came back while its previous connection still looks alive here (a transport that died without
    /// a word is noticed only at its ping timeout): that connection is closed now, so the session is kept (as on
    /// any transport close) and the new connection restores it. Its late ping timeout then finds nothing to end.
    private func takeOver(_ pid: String) {
        guard let previous = socketsByPid[pid], previous.connected else { return }
        log.debug("session \(pid.prefix(4))…: the client came back before its previous transport closed; closing it")
        previous.client.closeConnection(reason: .transportClose)
    }

    private func admit(_ client: Client, auth: [UInt8]?, restored: RecoveredSession?) {
        let recovery = server.options.connectionStateRecovery
        let handshake = Handshake(request: client.engine.request, auth: auth, address: client.engine.remoteAddress,
                                  time: server.wallClockMilliseconds())
        let socket = Socket(namespace: self, client: client, handshake: handshake,
                            id: restored?.session.sid ?? newSocketID(for: client),
                            pid: recovery == nil ? nil : restored?.session.pid ?? SecureRandom.identifier())
        if let restored {
            socket.recovered = true
            socket.data = restored.session.data
        }
        if restored != nil, recovery?.skipMiddlewares == true {
            connect(socket, restored: restored)
            return
        }
        runMiddlewares(socket, index: 0) { [self] error in
            guard client.engine.isOpen else { return }
            if let error {
                client.refuse(namespace: name, error)
                return
            }
            connect(socket, restored: restored)
        }
    }

    /// A random id, public; for a 2.x client the Engine.IO id (`/nsp#<engine id>` outside `/`), which its
    /// client library assumes, as the reference does for `conn.protocol === 3`.
    private func newSocketID(for client: Client) -> String {
        guard client.isEIO3 else {
            return server.shards[0].nodeLengthSocketIDs ? SecureRandom.identifier() : SecureRandom.shortIdentifier()
        }
        return name == "/" ? client.engine.id : name + "#" + client.engine.id
    }

    private func runMiddlewares(_ socket: Socket, index: Int, done: @escaping (MiddlewareError?) -> Void) {
        guard index < middlewares.count else {
            done(nil)
            return
        }
        var called = false
        middlewares[index](socket) { [self] error in
            guard !called else { return }
            called = true
            if let error { done(error) } else { runMiddlewares(socket, index: index + 1, done: done) }
        }
    }

    private func connect(_ socket: Socket, restored: RecoveredSession?) {
        if let previous = sockets[socket.id], previous.connected {
            // The same session restored twice at once (two reconnections racing): the newer one wins.
            previous.client.closeConnection(reason: .transportClose)
        }
        sockets[socket.id] = socket
        counters.connections &+= 1
        if let pid = socket.pid { socketsByPid[pid] = socket }
        if reportsRoomEvents {
            // The socket's own room (held by the socket table, not the adapter), as the reference's join(id).
            report(.created(room: socket.id))
            report(.joined(room: socket.id, socketID: socket.id))
        }
        socket.client.register(socket)
        socket.didConnect(restoring: restored)
        if let live = socket.liveSession(claim: true) { adapter.keepLiveSession(live) }
        for handler in connectionHandlers { handler(socket) }
    }

    func remove(_ socket: Socket) {
        if sockets[socket.id] === socket { sockets.removeValue(forKey: socket.id) }
        if let pid = socket.pid, socketsByPid[pid] === socket { socketsByPid.removeValue(forKey: pid) }
        if sockets.isEmpty, let parent, server.options.cleanupEmptyChildNamespaces {
            parent.removeChild(self)
            server.removeNamespace(self)
            adapter.close()
        }
    }
}

/// A dynamic namespace: children are created on demand for names the predicate accepts, each with the middlewares
/// and connection handlers registered here (on every loop, with several).
public final class ParentNamespace {
    let predicate: (_ name: String, _ auth: [UInt8]?) -> Bool
    unowned let server: SocketIOServer
    /// Its place among the server's parents: the same on every loop.
    let index: Int
    var middlewares: [Middleware] = []
    var connectionHandlers: [(Socket) -> Void] = []
    var eventHandlers: [String: [(Socket, SocketIOArguments, SocketIOAck?) -> Void]] = [:]
    /// This loop's children.
    public private(set) var children: [Namespace] = []

    init(predicate: @escaping (_ name: String, _ auth: [UInt8]?) -> Bool, server: SocketIOServer, index: Int) {
        self.predicate = predicate
        self.server = server
        self.index = index
    }

    /// Applies a registration to this parent on every loop.
    private func everywhere(_ body: @escaping (ParentNamespace) -> Void) {
        let index = index
        server.everywhere { shard in if let twin = shard.parent(at: index) { body(twin) } }
    }

    public func use(_ middleware: @escaping Middleware) {
        everywhere { parent in
            parent.middlewares.append(middleware)
            for child in parent.children { child.middlewares.append(middleware) }
        }
    }

    public func onConnection(_ handler: @escaping (Socket) -> Void) {
        everywhere { parent in
            parent.connectionHandlers.append(handler)
            for child in parent.children { child.connectionHandlers.append(handler) }
        }
    }

    /// Handles `event` in every child namespace.
    public func on(_ event: String, _ handler: @escaping (Socket, SocketIOArguments, SocketIOAck?) -> Void) {
        everywhere { parent in
            parent.eventHandlers[event, default: []].append(handler)
            for child in parent.children { child.eventHandlers[event, default: []].append(handler) }
        }
    }

    /// Emits to every socket of every child namespace (of every loop).
    public func emit(_ event: String, _ arguments: SocketIOArguments = .none) {
        let here = server.here
        guard let parent = here.parent(at: index) else { return }
        for child in parent.children { child.emit(event, arguments) }
    }

    func addChild(_ namespace: Namespace) { children.append(namespace) }
    func removeChild(_ namespace: Namespace) { children.removeAll { $0 === namespace } }
}

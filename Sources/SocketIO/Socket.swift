import EngineIO
import SIOLoop
import SocketIOCodec

/// Handles an event: its arguments, and the acknowledgement to send if the client asked for one.
public typealias EventHandler = (_ arguments: SocketIOArguments, _ ack: SocketIOAck?) -> Void

/// Runs before each incoming event; `next(nil)` lets it through, `next(error)` drops it (and reports the error to
/// the socket's error handlers).
public typealias PacketMiddleware = (_ event: String, _ arguments: SocketIOArguments,
                                     _ next: @escaping (Error?) -> Void) -> Void

/// One client in one namespace. Loop thread only: its handlers run on its loop's thread. With several loops,
/// `emit`, `join`, `leave` and `disconnect` called from another loop's thread are queued to the socket's loop (in
/// call order); the rest must be used on the socket's loop.
///
/// Handlers registered here are released when the socket disconnects, so closures may capture the socket.
public final class Socket {
    public let id: String
    /// Private session id for connection state recovery (nil when recovery is off).
    public let pid: String?
    public unowned let namespace: Namespace
    let client: Client
    public let handshake: Handshake
    /// Application data, shared with other nodes by `fetchSockets`.
    public var data: JSONValue = .null
    /// Anything the host wants to hang on the socket (not shared).
    public var userData: AnyObject?

    /// Event handlers in registration order. An array, not a dictionary: a socket has a handful, and a dictionary
    /// plus one array per event cost hundreds of bytes per connection.
    private var handlers: [(event: String, handler: EventHandler)] = []
    private var disconnectHandlers: [(DisconnectReason) -> Void] = []
    /// Listeners most sockets never have, kept out of line so an idle socket does not pay for them.
    private final class Extras {
        var anyHandlers: [(String, SocketIOArguments, SocketIOAck?) -> Void] = []
        var anyOutgoingHandlers: [(String, SocketIOArguments) -> Void] = []
        var disconnectingHandlers: [(DisconnectReason) -> Void] = []
        var errorHandlers: [(Error) -> Void] = []
        var packetMiddlewares: [PacketMiddleware] = []
    }
    private var extras: Extras?
    private var more: Extras {
        if let extras { return extras }
        let created = Extras()
        extras = created
        return created
    }
    private var anyHandlers: [(String, SocketIOArguments, SocketIOAck?) -> Void] { extras?.anyHandlers ?? [] }
    private var anyOutgoingHandlers: [(String, SocketIOArguments) -> Void] { extras?.anyOutgoingHandlers ?? [] }
    private var disconnectingHandlers: [(DisconnectReason) -> Void] { extras?.disconnectingHandlers ?? [] }
    private var errorHandlers: [(Error) -> Void] { extras?.errorHandlers ?? [] }
    private var packetMiddlewares: [PacketMiddleware] { extras?.packetMiddlewares ?? [] }
    private var pendingAcks: [UInt64: PendingAck] = [:]
    /// Where the socket stands in a cluster adapter's log, out of line: adapters without a log never set it.
    private final class LogMarks {
        var joinedAt: LogPosition?
        var replayedThrough: LogPosition?
        /// This socket's hold on its session while connected (`LiveSession`), with an adapter that keeps them.
        var liveToken: String?
        /// A client that came back elsewhere took the session: leaving, the socket must not keep it again.
        var sessionTaken = false
    }
    private var logMarks: LogMarks?
    // The one-byte fields last, together: between two words each would cost a word of padding per socket.
    public private(set) var connected = false
    /// True once the socket has left (joining rooms then does nothing).
    public private(set) var disconnected = false
    /// True when this socket continues a session restored by connection state recovery.
    public internal(set) var recovered = false

    /// Set on a recovered socket until a delivery past it arrives: logged packets at or before it were replayed.
    var replayedThrough: LogPosition? {
        get { logMarks?.replayedThrough }
        set { if newValue != nil || logMarks != nil { marks.replayedThrough = newValue } }
    }
    /// The log position the socket started at (kept with its session for a client that got no event).
    var joinedAt: LogPosition? { logMarks?.joinedAt }
    var liveToken: String? { logMarks?.liveToken }

    /// The session as it stands, for an adapter that keeps it while the socket is connected (nil otherwise).
    func liveSession(claim: Bool) -> LiveSession? {
        guard let pid, let token = liveToken, connected else { return nil }
        return LiveSession(session: PersistedSession(sid: id, pid: pid, rooms: Array(rooms.subtracting([id])), data: data,
                                                     since: joinedAt, token: token), claim: claim)
    }

    /// The session changed (rooms): written again where it is kept.
    private func keepLiveSession() {
        if let live = liveSession(claim: false) { namespace.adapter.keepLiveSession(live) }
    }

    /// A client that came back elsewhere took this socket's session: the connection (dead, or about to be) closes
    /// and this socket leaves without keeping the session again.
    func leaveSuperseded() {
        guard connected else { return }
        marks.sessionTaken = true
        client.closeConnection(reason: .transportClose)
    }
    private var marks: LogMarks {
        if let logMarks { return logMarks }
        let created = LogMarks()
        logMarks = created
        return created
    }

    init(namespace: Namespace, client: Client, handshake: Handshake, id: String, pid: String?) {
        self.namespace = namespace
        self.client = client
        self.handshake = handshake
        self.id = id
        self.pid = pid
    }

    public var server: SocketIOServer { namespace.server }

    /// Queues `work` to this socket's loop when called from another loop's thread of a multi-loop server; false
    /// when the caller is on the socket's loop (or the server has one loop) and should go on itself.
    @inline(__always) private func queuedToOwnLoop(_ work: @escaping () -> Void) -> Bool {
        let server = namespace.server
        guard server.group != nil, !server.loop.isInLoopThread else { return false }
        server.loop.execute(work)
        return true
    }

    // MARK: Listening

    public func on(_ event: String, _ handler: @escaping EventHandler) {
        handlers.append((event, handler))
    }

    public func off(_ event: String) {
        handlers.removeAll { $0.event == event }
    }

    /// Called for every incoming event, before the event's own handlers.
    public func onAny(_ handler: @escaping (String, SocketIOArguments, SocketIOAck?) -> Void) {
        more.anyHandlers.append(handler)
    }

    /// Called for every event sent to this client.
    public func onAnyOutgoing(_ handler: @escaping (String, SocketIOArguments) -> Void) {
        more.anyOutgoingHandlers.append(handler)
    }

    /// Called when the socket is about to leave, while it is still in its rooms.
    public func onDisconnecting(_ handler: @escaping (DisconnectReason) -> Void) {
        more.disconnectingHandlers.append(handler)
    }

    public func onDisconnect(_ handler: @escaping (DisconnectReason) -> Void) {
        disconnectHandlers.append(handler)
    }

    public func onError(_ handler: @escaping (Error) -> Void) {
        more.errorHandlers.append(handler)
    }

    /// Adds a middleware run for each incoming event.
    public func use(_ middleware: @escaping PacketMiddleware) {
        more.packetMiddlewares.append(middleware)
    }

    // MARK: Emitting

    /// Sends an event to this client.
    public func emit(_ event: String, _ arguments: SocketIOArguments = .none) {
        if queuedToOwnLoop({ self.emit(event, arguments) }) { return }
        guard connected else { return }
        let outgoing = OutgoingEvent(event: event, arguments: arguments)
        if server.options.connectionStateRecovery != nil {
            // Through the adapter so the packet gets an offset and can be replayed after a reconnection.
            namespace.adapter.broadcast(outgoing, options: BroadcastOptions(rooms: [id]))
            return
        }
        notifyOutgoing(outgoing)
        client.write(EncodedPacket.event(outgoing, namespace: namespace.name, ackId: nil, parser: server.parser))
    }

    public func emit(_ event: String, _ values: JSONValue...) {
        emit(event, SocketIOArguments(values))
    }

    /// Sends an event and waits for the client's acknowledgement: `completion` gets the reply, `.timeout` after
    /// `timeout` milliseconds (if given), or `.disconnected` if the socket leaves first.
    public func emit(_ event: String, _ arguments: SocketIOArguments, timeout: UInt64? = nil,
                     ack completion: @escaping (Result<SocketIOArguments, SocketIOError>) -> Void) {
        if queuedToOwnLoop({ self.emit(event, arguments, timeout: timeout, ack: completion) }) { return }
        guard connected else {
            completion(.failure(.disconnected))
            return
        }
        let id = namespace.nextAckID()
        expectAck(id: id, timeout: timeout, completion)
        let outgoing = OutgoingEvent(event: event, arguments: arguments)
        notifyOutgoing(outgoing)
        client.write(EncodedPacket.event(outgoing, namespace: namespace.name, ackId: id, parser: server.parser))
    }

    func expectAck(id: UInt64, timeout: UInt64?, _ completion: @escaping (Result<SocketIOArguments, SocketIOError>) -> Void) {
        let pending = PendingAck(id: id, socket: self, completion: completion)
        pendingAcks[id] = pending
        if let timeout { server.loop.schedule(pending, afterMilliseconds: timeout) }
    }

    func ackTimedOut(_ id: UInt64) {
        guard let pending = pendingAcks.removeValue(forKey: id) else { return }
        namespace.counters.acksTimedOut &+= 1
        pending.completion(.failure(.timeout))
    }

    func sendAck(id: UInt64, _ arguments: SocketIOArguments) {
        if queuedToOwnLoop({ self.sendAck(id: id, arguments) }) { return }
        guard connected else { return }
        client.write(EncodedPacket.ack(arguments, namespace: namespace.name, ackId: id, parser: server.parser))
    }

    func notifyOutgoing(_ event: OutgoingEvent) {
        for handler in anyOutgoingHandlers { handler(event.event, event.arguments) }
    }

    // MARK: Rooms

    public func join(_ room: String) { join([room]) }

    /// Joins rooms; allowed before the socket is connected (in a middleware), ignored once it has left.
    public func join(_ rooms: [String]) {
        if queuedToOwnLoop({ self.join(rooms) }) { return }
        guard !disconnected else { return }
        namespace.adapter.addAll(id, rooms: rooms)
        keepLiveSession()
    }

    public func leave(_ room: String) {
        if queuedToOwnLoop({ self.leave(room) }) { return }
        namespace.adapter.delete(id, room: room)
        keepLiveSession()
    }

    /// The transport the connection uses now, `.polling` until an upgrade completes (the reference's
    /// `socket.conn.transport.name`).
    public var transport: EngineTransportName { client.engine.transportName }

    /// The rooms this socket is in, its own id room included.
    public var rooms: Set<String> { namespace.adapter.rooms(of: id) }

    /// To sockets in `room`, except this one.
    public func to(_ room: String) -> BroadcastOperator { broadcast.to(room) }
    public func to(_ rooms: [String]) -> BroadcastOperator { broadcast.to(rooms) }
    public func `in`(_ room: String) -> BroadcastOperator { broadcast.to(room) }
    public func except(_ room: String) -> BroadcastOperator { broadcast.except(room) }
    /// To every socket of the namespace except this one.
    public var broadcast: BroadcastOperator { namespace.broadcastOperator.except(id) }
    public var volatile: SocketVolatileEmitter { SocketVolatileEmitter(socket: self) }

    // MARK: Incoming packets

    func received(_ packet: SocketIOPacket) {
        switch packet.type {
        case .event, .binaryEvent:
            guard let (name, arguments) = Self.eventArguments(packet) else { return }
            let ack = packet.ackId.map { SocketIOAck(socket: self, id: $0) }
            // Catch-all listeners first, then the middlewares, then the event's handlers (the reference's order).
            for handler in anyHandlers { handler(name, arguments, ack) }
            if packetMiddlewares.isEmpty {
                dispatch(name, arguments, ack)
            } else {
                runPacketMiddlewares(index: 0, name, arguments) { [self] error in
                    if let error {
                        for handler in errorHandlers { handler(error) }
                    } else {
                        dispatch(name, arguments, ack)
                    }
                }
            }
        case .ack, .binaryAck:
            guard let id = packet.ackId, let pending = pendingAcks.removeValue(forKey: id) else { return }
            server.loop.cancelTimer(pending)
            pending.completion(.success(Self.ackArguments(packet)))
        case .disconnect:
            close(reason: .clientNamespaceDisconnect)
        case .connect, .connectError:
            break
        }
    }

    /// An EVENT's name and arguments, left in their msgpack bytes when the parser kept them.
    private static func eventArguments(_ packet: SocketIOPacket) -> (String, SocketIOArguments)? {
        if let packed = packet.packedArguments, let name = packed.eventName {
            return (name, SocketIOArguments(packed: packed))
        }
        guard let payload = packet.payload, let (name, json) = try? SocketIOEventArguments.event(payload) else {
            return nil
        }
        return (name, SocketIOArguments(trustedJSON: json, attachments: packet.attachments))
    }

    private static func ackArguments(_ packet: SocketIOPacket) -> SocketIOArguments {
        if let packed = packet.packedArguments { return SocketIOArguments(packed: packed) }
        let json = packet.payload.map { SocketIOEventArguments.ack($0) } ?? Array("[]".utf8)
        return SocketIOArguments(trustedJSON: json, attachments: packet.attachments)
    }

    /// The socket's own handlers for the event, then the namespace's.
    private func dispatch(_ name: String, _ arguments: SocketIOArguments, _ ack: SocketIOAck?) {
        guard connected else { return }
        for entry in handlers where entry.event == name { entry.handler(arguments, ack) }
        guard connected else { return }
        namespace.dispatch(name, socket: self, arguments, ack)
    }

    private func runPacketMiddlewares(index: Int, _ name: String, _ arguments: SocketIOArguments,
                                      done: @escaping (Error?) -> Void) {
        guard index < packetMiddlewares.count else {
            done(nil)
            return
        }
        packetMiddlewares[index](name, arguments) { [self] error in
            if let error { done(error) } else { runPacketMiddlewares(index: index + 1, name, arguments, done: done) }
        }
    }

    // MARK: Connecting and disconnecting

    func didConnect(restoring restored: RecoveredSession?) {
        connected = true
        let position = [namespace.adapter.logPosition, restored?.replayedThrough, restored?.session.since].compactMap { $0 }.max()
        if position != nil { marks.joinedAt = position }
        replayedThrough = restored?.replayedThrough
        if let restored { join(restored.session.rooms) }
        // After the restored rooms: the namespace claims the session with them once the socket is in.
        if pid != nil, server.shards[0].adapterKeepsSessions { marks.liveToken = SecureRandom.shortIdentifier() }
        if client.isEIO3 {
            // A 2.x client's CONNECT reply has no payload (its id is known from the Engine.IO one).
            client.write(EncodedPacket.control(.connect, namespace: namespace.name, payload: nil, parser: server.parser))
        } else {
            sendConnectReply()
        }
        if let restored {
            for missed in restored.missedPackets {
                client.write(EncodedPacket.event(missed, namespace: namespace.name, ackId: nil, parser: server.parser,
                                                 throughAdapter: true))
            }
        }
    }

    private func sendConnectReply() {
        var reply: [UInt8] = Array("{\"sid\":".utf8)
        JSONScanner.appendQuoted(id, to: &reply)
        if let pid {
            reply.append(contentsOf: Array(",\"pid\":".utf8))
            JSONScanner.appendQuoted(pid, to: &reply)
        }
        reply.append(UInt8(ascii: "}"))
        client.write(EncodedPacket.control(.connect, namespace: namespace.name, payload: reply, parser: server.parser))
    }

    /// Leaves the namespace: the client gets a DISCONNECT packet. With `close`, the whole connection is closed
    /// (every namespace of this client).
    public func disconnect(close closeConnection: Bool = false) {
        if queuedToOwnLoop({ self.disconnect(close: closeConnection) }) { return }
        guard connected else { return }
        if closeConnection {
            client.disconnectAll()
            return
        }
        client.write(EncodedPacket.control(.disconnect, namespace: namespace.name, payload: nil, parser: server.parser))
        close(reason: .serverNamespaceDisconnect)
    }

    /// The socket leaves for `reason`: handlers run, the session is kept for recovery when the reason allows,
    /// rooms are left, pending acknowledgements fail, and every handler is released.
    func close(reason: DisconnectReason) {
        guard connected else { return }
        for handler in disconnectingHandlers { handler(reason) }
        // A socket whose session a newer one took over (the client came back before this transport was known to
        // be dead) must neither keep the session again nor take the id's rooms from its successor.
        let superseded = namespace.sockets[id] !== self
        // Taken by a client that came back on another node: the session is that socket's now.
        let sessionTaken = superseded || logMarks?.sessionTaken == true
        if let pid, reason.isRecoverable, !sessionTaken {
            namespace.adapter.persistSession(PersistedSession(
                sid: id, pid: pid, rooms: Array(rooms.subtracting([id])), data: data, since: joinedAt, token: liveToken))
        } else if let pid, let token = liveToken, !sessionTaken {
            namespace.adapter.dropLiveSession(pid: pid, token: token)
        }
        disconnected = true  // from here on join() is ignored: a room-event handler cannot re-add a leaving socket
        if namespace.reportsRoomEvents, !superseded {
            // The own room first: the reference leaves rooms in the order they were joined.
            namespace.report(.left(room: id, socketID: id))
            namespace.report(.deleted(room: id))
        }
        if !superseded { namespace.adapter.deleteAll(id) }
        namespace.remove(self)
        namespace.counters.left(reason)
        client.unregister(self)
        connected = false
        let waiting = pendingAcks
        pendingAcks.removeAll()
        for pending in waiting.values {
            server.loop.cancelTimer(pending)
            pending.completion(.failure(.disconnected))
        }
        let finalHandlers = disconnectHandlers
        handlers.removeAll()
        disconnectHandlers.removeAll()
        extras = nil
        for handler in finalHandlers { handler(reason) }
        userData = nil
    }
}

/// `socket.volatile.emit(...)`: dropped if this client cannot take it now.
public struct SocketVolatileEmitter {
    let socket: Socket

    public func emit(_ event: String, _ arguments: SocketIOArguments = .none) {
        guard socket.connected else { return }
        let outgoing = OutgoingEvent(event: event, arguments: arguments)
        socket.notifyOutgoing(outgoing)
        socket.client.write(EncodedPacket.event(outgoing, namespace: socket.namespace.name, ackId: nil, volatile: true,
                                                parser: socket.server.parser))
    }
}

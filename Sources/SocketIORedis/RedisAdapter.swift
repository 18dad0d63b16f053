import MsgPackCodec
import SocketIO

/// Options of the Redis adapter, with the reference adapter's names and defaults.
public struct RedisAdapterOptions: Sendable {
    /// Prefix of every channel (`socket.io#/#`, `socket.io-request#/#`, ...).
    public var key = "socket.io"
    /// Milliseconds to wait for the other nodes' answers (fetchSockets, allRooms, serverSideEmit with ack).
    public var requestsTimeout: UInt64 = 5000
    /// Answer requests on `key-response#nsp#<requester uid>#` instead of the shared response channel.
    public var publishOnSpecificResponseChannel = false
    /// CLIENT SETNAME `<clientName>-pub` / `<clientName>-sub` (shows in CLIENT LIST and MONITOR).
    public var clientName: String?
    /// Reconnection backoff: the first retry after this many milliseconds, doubling per failure...
    public var reconnectMinimumDelay: UInt64 = 100
    /// ... up to this.
    public var reconnectMaximumDelay: UInt64 = 5000

    public init(key: String = "socket.io", requestsTimeout: UInt64 = 5000, publishOnSpecificResponseChannel: Bool = false,
                clientName: String? = nil, reconnectMinimumDelay: UInt64 = 100, reconnectMaximumDelay: UInt64 = 5000) {
        self.key = key
        self.requestsTimeout = requestsTimeout
        self.publishOnSpecificResponseChannel = publishOnSpecificResponseChannel
        self.clientName = clientName
        self.reconnectMinimumDelay = reconnectMinimumDelay
        self.reconnectMaximumDelay = reconnectMaximumDelay
    }
}

/// Handles an event another node sent with `serverSideEmit`; `ack` is set when the sender waits for an answer.
public typealias ServerSideEmitHandler = (_ arguments: SocketIOArguments, _ ack: ServerSideAck?) -> Void

/// The answer to a `serverSideEmit` with acknowledgement: one value (the reference forwards only the first
/// argument). Sent once; later calls do nothing.
public final class ServerSideAck {
    private var reply: ((JSONValue?) -> Void)?

    package init(_ reply: @escaping (JSONValue?) -> Void) { self.reply = reply }

    public var isSent: Bool { reply == nil }

    /// Answers with `value` (nil: no argument, `undefined` on a Node requester).
    public func send(_ value: JSONValue?) {
        guard let reply else { return }
        self.reply = nil
        reply(value)
    }

    public func callAsFunction(_ value: JSONValue?) { send(value) }
}

/// The Redis adapter: the namespace's rooms and local delivery are the in-memory adapter's (composed, not
/// copied); everything that crosses nodes goes through Redis pub/sub in the wire format of Node's
/// `@socket.io/redis-adapter` 8.x, so a cluster may mix these nodes with Node socket.io servers, and
/// `@socket.io/redis-emitter` can emit to it.
///
/// ```swift
/// io.adapterFactory = try RedisAdapter.factory(url: "redis://127.0.0.1:6379", key: "socket.io")
/// ```
///
/// Redis going away does not stop local service: local broadcasts are delivered as before, the connections come
/// back with backoff, and what could not be published meanwhile is counted (`client.unpublished`) and logged.
/// Loop thread only.
public final class RedisAdapter: SocketIOAdapter {
    public unowned let namespace: Namespace
    /// This adapter's id on the wire (6 characters, as uid2 makes them).
    public let uid: String
    public let client: RedisClient
    public let options: RedisAdapterOptions
    public let channels: RedisWire.Channels
    private let specificResponseChannel: String
    /// Delivery in this process: the in-memory adapter, or the adapter across the loops of a multi-loop server.
    private let local: any LocalAdapter
    private var requests: [String: PendingRequest] = [:]
    private var ackRequests: [String: PendingBroadcastAck] = [:]
    private var serverSideHandlers: [String: [ServerSideEmitHandler]] = [:]
    private var closed = false
    private let log = Logger("socket.io:redis")

    public init(namespace: Namespace, client: RedisClient, options: RedisAdapterOptions = RedisAdapterOptions()) {
        self.namespace = namespace
        self.client = client
        self.options = options
        uid = RedisAdapter.makeID()
        channels = RedisWire.Channels(key: options.key, namespace: namespace.name)
        specificResponseChannel = channels.specificResponse(uid: uid)
        local = namespace.makeLocalAdapter()
        // As the reference: PSUBSCRIBE the broadcast pattern, then one SUBSCRIBE of the three request/response
        // channels, on the shared subscriber connection.
        client.psubscribe(channels.broadcastPattern) { [weak self] channel, payload in
            self?.receivedBroadcast(channel: channel, payload)
        }
        let requestChannel = channels.request
        client.subscribe([channels.request, channels.response, specificResponseChannel]) { [weak self] channel, payload in
            if channel == requestChannel { self?.receivedRequest(payload) } else { self?.receivedResponse(payload) }
        }
        client.start()
    }

    /// Messages that could not be published since the client started (shared by every namespace of the server).
    public var unpublishedCount: Int { client.unpublished }

    private var loop: EventLoop { namespace.server.loop }

    // MARK: Rooms (local)

    public func addAll(_ socketID: String, rooms: [String]) { local.addAll(socketID, rooms: rooms) }
    public func delete(_ socketID: String, room: String) { local.delete(socketID, room: room) }
    public func deleteAll(_ socketID: String) { local.deleteAll(socketID) }
    public func rooms(of socketID: String) -> Set<String> { local.rooms(of: socketID) }
    public func sockets(_ options: BroadcastOptions) -> [String] { local.sockets(options) }
    /// Rooms with a local socket; `allRooms(completion:)` asks every node.
    public func allRooms() -> Set<String> { local.allRooms() }

    /// True when a local socket is in `room` (its own id room included).
    private func hasRoom(_ room: String) -> Bool { local.hasRoom(room) }

    // MARK: Broadcasting

    public func broadcast(_ event: OutgoingEvent, options: BroadcastOptions) {
        if !options.flags.local, !closed, !isLocalSocketOnly(options) {
            let wireOptions = RedisWire.Options(options, withFlags: true)
            let message = RedisWire.Broadcast(
                uid: uid, packet: RedisWire.Packet(event: event.event, arguments: event.arguments, namespace: namespace.name),
                options: wireOptions)
            client.publish(channels.broadcastChannel(rooms: wireOptions.rooms), message.encoded())
        }
        local.broadcast(event, options: options)
    }

    /// A packet for exactly one local socket (a direct emit through the adapter): no other node has it.
    private func isLocalSocketOnly(_ options: BroadcastOptions) -> Bool {
        guard options.rooms.count == 1, let room = options.rooms.first else { return false }
        return namespace.sockets[room] != nil
    }

    public func broadcastWithAck(_ event: OutgoingEvent, options: BroadcastOptions, clientCount: @escaping (Int) -> Void,
                                 ack: @escaping (SocketIOArguments) -> Void) {
        if !options.flags.local, !closed {
            let requestId = RedisAdapter.makeID()
            let request = RedisWire.broadcastRequest(
                uid: uid, requestId: requestId,
                packet: RedisWire.Packet(event: event.event, arguments: event.arguments, namespace: namespace.name),
                options: RedisWire.Options(options, withFlags: true))
            if client.publish(channels.request, request) {
                let pending = PendingBroadcastAck(id: requestId, adapter: self, clientCount: clientCount, ack: ack)
                ackRequests[requestId] = pending
                // As the reference: forget the request once the broadcast's timeout passed.
                loop.schedule(pending, afterMilliseconds: options.flags.timeout ?? 5000)
            }
        }
        local.broadcastWithAck(event, options: options, clientCount: clientCount, ack: ack)
    }

    fileprivate func forgetBroadcastAck(_ id: String) {
        ackRequests.removeValue(forKey: id)
    }

    // MARK: Operations on sockets anywhere

    public func fetchSockets(_ options: BroadcastOptions, completion: @escaping ([RemoteSocket]) -> Void) {
        fetchSockets(options) { [log] error, sockets in
            if let error { log.warn("fetchSockets: \(error); answering with the \(sockets.count) socket(s) known") }
            completion(sockets)
        }
    }

    /// `fetchSockets` across the cluster; `error` is `.timeout` when some node did not answer in
    /// `requestsTimeout` (the sockets gathered so far come with it).
    public func fetchSockets(_ options: BroadcastOptions,
                             completion: @escaping (SocketIOError?, [RemoteSocket]) -> Void) {
        local.fetchSockets(options) { [weak self] localSockets in
            guard let self else { return }
            self.fetchRemoteSockets(options, local: localSockets, completion: completion)
        }
    }

    private func fetchRemoteSockets(_ options: BroadcastOptions, local localSockets: [RemoteSocket],
                                    completion: @escaping (SocketIOError?, [RemoteSocket]) -> Void) {
        if options.flags.local || closed {
            completion(nil, localSockets)
            return
        }
        serverCount { [weak self] numSub in
            guard let self, !self.closed, numSub > 1 else {
                completion(nil, localSockets)
                return
            }
            let request = PendingRequest(type: .remoteFetch, numSub: numSub, adapter: self)
            request.sockets = localSockets
            request.finish = { [unowned request] error in completion(error, request.sockets) }
            self.start(request, publishing: RedisWire.fetchRequest(
                uid: self.uid, requestId: request.id, rooms: options.rooms.sorted(), except: options.except.sorted()))
        }
    }

    /// Every room of the namespace across the cluster (socket-id rooms included, as in the reference).
    public func allRooms(completion: @escaping (SocketIOError?, Set<String>) -> Void) {
        local.allRooms { [weak self] localRooms in self?.allRemoteRooms(local: localRooms, completion: completion) }
    }

    private func allRemoteRooms(local localRooms: Set<String>, completion: @escaping (SocketIOError?, Set<String>) -> Void) {
        serverCount { [weak self] numSub in
            guard let self, !self.closed, numSub > 1 else {
                completion(nil, localRooms)
                return
            }
            let request = PendingRequest(type: .allRooms, numSub: numSub, adapter: self)
            request.rooms = localRooms
            request.finish = { [unowned request] error in completion(error, request.rooms) }
            self.start(request, publishing: RedisWire.allRoomsRequest(uid: self.uid, requestId: request.id))
        }
    }

    /// Tracks a request, publishes it, and waits for `numSub - 1` answers or `requestsTimeout`.
    private func start(_ request: PendingRequest, publishing body: [UInt8]) {
        requests[request.id] = request
        loop.schedule(request, afterMilliseconds: options.requestsTimeout)
        if !client.publish(channels.request, body) { finish(request, error: .disconnected) }
    }

    fileprivate func finish(_ request: PendingRequest, error: SocketIOError?) {
        guard requests.removeValue(forKey: request.id) != nil else { return }
        loop.cancelTimer(request)
        let finish = request.finish
        request.finish = nil
        finish?(error)
    }

    /// `socketsJoin`: applied by every node when the request comes back from Redis, this one included (as the
    /// reference does). When it cannot go through Redis it is applied here at once.
    public func addSockets(_ options: BroadcastOptions, rooms: [String]) {
        guard !options.flags.local, !closed else {
            local.addSockets(options, rooms: rooms)
            return
        }
        let body = RedisWire.roomsRequest(uid: uid, type: .remoteJoin, rooms: options.rooms.sorted(),
                                          except: options.except.sorted(), roomsToChange: rooms)
        if !publishRequestComingBack(body) { local.addSockets(options, rooms: rooms) }
    }

    public func deleteSockets(_ options: BroadcastOptions, rooms: [String]) {
        guard !options.flags.local, !closed else {
            local.deleteSockets(options, rooms: rooms)
            return
        }
        let body = RedisWire.roomsRequest(uid: uid, type: .remoteLeave, rooms: options.rooms.sorted(),
                                          except: options.except.sorted(), roomsToChange: rooms)
        if !publishRequestComingBack(body) { local.deleteSockets(options, rooms: rooms) }
    }

    public func disconnectSockets(_ options: BroadcastOptions, close: Bool) {
        guard !options.flags.local, !closed else {
            local.disconnectSockets(options, close: close)
            return
        }
        let body = RedisWire.disconnectRequest(uid: uid, rooms: options.rooms.sorted(), except: options.except.sorted(),
                                               close: close)
        if !publishRequestComingBack(body) { local.disconnectSockets(options, close: close) }
    }

    /// Publishes a request this node acts on when it receives it back; false when it will not come back (not
    /// published, or not subscribed), so the caller applies it locally.
    private func publishRequestComingBack(_ body: [UInt8]) -> Bool {
        let subscribed = client.isSubscribed
        return client.publish(channels.request, body) && subscribed
    }

    /// The number of nodes subscribed to this namespace's request channel (`PUBSUB NUMSUB`), at least 1.
    public func serverCount(_ completion: @escaping (Int) -> Void) {
        guard !closed else {
            completion(1)
            return
        }
        client.numsub(channels.request) { count in completion(max(count ?? 1, 1)) }
    }

    // MARK: Server-side emit

    /// Sends an event to the other nodes (not to this one), as the reference's `serverSideEmit`. Binary
    /// arguments travel as `{"type":"Buffer","data":[...]}` objects, as Node's JSON requests carry them.
    public func serverSideEmit(_ event: String, _ arguments: SocketIOArguments = .none) {
        guard !closed else { return }
        client.publish(channels.request, RedisWire.serverSideEmitRequest(
            uid: uid, requestId: nil, data: RedisAdapter.serverSideData(event, arguments)))
    }

    /// `serverSideEmitWithAck`: `completion` gets every other node's answer, or `.timeout` and the answers so far
    /// after `timeout` (default `requestsTimeout`), or `.disconnected` when Redis cannot be reached.
    public func serverSideEmit(_ event: String, _ arguments: SocketIOArguments, timeout: UInt64? = nil,
                               ack completion: @escaping (SocketIOError?, [JSONValue]) -> Void) {
        guard !closed else {
            completion(.disconnected, [])
            return
        }
        let data = RedisAdapter.serverSideData(event, arguments)
        serverCount { [weak self] count in
            guard let self, !self.closed else {
                completion(.disconnected, [])
                return
            }
            let numSub = count - 1  // the others
            guard numSub > 0 else {
                completion(nil, [])
                return
            }
            let request = PendingRequest(type: .serverSideEmit, numSub: numSub, adapter: self)
            request.finish = { [unowned request] error in completion(error, request.responses) }
            self.requests[request.id] = request
            self.loop.schedule(request, afterMilliseconds: timeout ?? self.options.requestsTimeout)
            let body = RedisWire.serverSideEmitRequest(uid: self.uid, requestId: request.id, data: data)
            if !self.client.publish(self.channels.request, body) { self.finish(request, error: .disconnected) }
        }
    }

    /// Registers a handler for events other nodes send with `serverSideEmit`.
    public func onServerSideEmit(_ event: String, _ handler: @escaping ServerSideEmitHandler) {
        serverSideHandlers[event, default: []].append(handler)
    }

    /// `[event, ...args]` for a JSON request: binaries as Buffer objects.
    static func serverSideData(_ event: String, _ arguments: SocketIOArguments) -> [JSONValue] {
        let values = (try? arguments.values()) ?? []
        return [.string(event)] + values.map { $0.replacingPlaceholders(arguments.attachments) }
    }

    // MARK: Receiving

    private func receivedBroadcast(channel: String, _ payload: [UInt8]) {
        guard !closed, let room = channels.room(ofBroadcastChannel: channel) else { return }
        // A one-room broadcast for a room with no local member is not even decoded.
        if !room.isEmpty, !hasRoom(room) { return }
        // Our own broadcasts come back to us: recognised from their first bytes, `[uid, ...`, without decoding.
        if isOwnBroadcast(payload) { return }
        let message: RedisWire.Broadcast
        do {
            message = try RedisWire.Broadcast.decode(payload)
        } catch {
            log.debug("ignoring a malformed broadcast on \(channel)")
            return
        }
        guard message.uid != uid, message.packet.namespace == namespace.name else { return }
        guard message.packet.type == 2 || message.packet.type == 5, let event = message.packet.event,
              let arguments = try? message.packet.arguments() else {
            log.debug("ignoring a broadcast that is not an event on \(channel)")
            return
        }
        local.broadcast(OutgoingEvent(event: event, arguments: arguments), options: message.options.broadcastOptions)
    }

    private lazy var ownBroadcastPrefix: [UInt8] = [0x93, 0xA0 | UInt8(uid.utf8.count)] + Array(uid.utf8)

    private func isOwnBroadcast(_ payload: [UInt8]) -> Bool {
        payload.count > ownBroadcastPrefix.count && payload[..<ownBroadcastPrefix.count].elementsEqual(ownBroadcastPrefix)
    }

    private func receivedRequest(_ payload: [UInt8]) {
        guard !closed else { return }
        guard let request = try? RedisWire.Request(decoding: payload) else {
            log.debug("ignoring a malformed request")
            return
        }
        let requestId = request.requestId
        switch request.type {
        case .sockets:
            guard let requestId, requests[requestId] == nil else { return }
            local.sockets(BroadcastOptions(rooms: Set(request.rooms))) { [weak self] ids in
                self?.publishResponse(to: request, RedisWire.socketsResponse(requestId: requestId, sockets: ids))
            }

        case .allRooms:
            guard let requestId, requests[requestId] == nil else { return }
            local.allRooms { [weak self] rooms in
                self?.publishResponse(to: request, RedisWire.allRoomsResponse(requestId: requestId, rooms: rooms.sorted()))
            }

        case .remoteJoin, .remoteLeave, .remoteDisconnect:
            if let options = request.options {
                let target = options.broadcastOptions
                switch request.type {
                case .remoteJoin: local.addSockets(target, rooms: request.rooms)
                case .remoteLeave: local.deleteSockets(target, rooms: request.rooms)
                default: local.disconnectSockets(target, close: request.close)
                }
                return
            }
            // The legacy form: one socket by id (on any loop of this process), answered with `{requestId}`.
            guard let sid = request.sid else { return }
            let one = BroadcastOptions(rooms: [sid])
            local.sockets(one) { [weak self] found in
                guard let self, !found.isEmpty else { return }
                switch request.type {
                case .remoteJoin: if let room = request.room { self.local.addSockets(one, rooms: [room]) }
                case .remoteLeave: if let room = request.room { self.local.deleteSockets(one, rooms: [room]) }
                default: self.local.disconnectSockets(one, close: request.close)
                }
                if let requestId { self.publishResponse(to: request, RedisWire.emptyResponse(requestId: requestId)) }
            }

        case .remoteFetch:
            guard let requestId, requests[requestId] == nil else { return }
            let target = (request.options ?? RedisWire.Options()).broadcastOptions
            local.fetchSockets(target) { [weak self] sockets in
                guard let self else { return }
                self.publishResponse(to: request, RedisWire.fetchResponse(
                    requestId: requestId, sockets: sockets.map(\.json)))
            }

        case .serverSideEmit:
            if request.uid == uid { return }
            guard let (event, arguments) = request.serverSideEvent() else { return }
            var ack: ServerSideAck?
            if let requestId {
                // Answered on the shared response channel, as the reference does.
                let channel = channels.response
                ack = ServerSideAck { [weak self] value in
                    self?.client.publish(channel, RedisWire.serverSideEmitResponse(requestId: requestId, data: value))
                }
            }
            for handler in serverSideHandlers[event] ?? [] { handler(arguments, ack) }

        case .broadcast:
            guard let requestId, ackRequests[requestId] == nil, let packet = request.packet,
                  let event = packet.event, let arguments = try? packet.arguments() else { return }
            let target = (request.options ?? RedisWire.Options()).broadcastOptions
            local.broadcastWithAck(
                OutgoingEvent(event: event, arguments: arguments), options: target,
                clientCount: { [weak self] count in
                    self?.publishResponse(to: request, RedisWire.clientCountResponse(requestId: requestId, clientCount: count))
                },
                ack: { [weak self] reply in
                    // Only the first argument travels, as in the reference.
                    let first = reply.wireValues().first ?? .undefined
                    self?.publishResponse(to: request, RedisWire.broadcastAckResponse(requestId: requestId, packet: first))
                })

        case .broadcastClientCount, .broadcastAck:
            return
        }
    }

    private func publishResponse(to request: RedisWire.Request, _ body: [UInt8]) {
        guard !closed else { return }
        if options.publishOnSpecificResponseChannel, let requester = request.uid {
            client.publish(channels.specificResponse(uid: requester), body)
        } else {
            client.publish(channels.response, body)
        }
    }

    private func receivedResponse(_ payload: [UInt8]) {
        guard !closed, let response = try? RedisWire.Response(decoding: payload) else { return }
        let requestId = response.requestId
        if let pending = ackRequests[requestId] {
            switch response.type {
            case RedisWire.RequestType.broadcastClientCount.rawValue:
                pending.clientCount(response.clientCount ?? 0)
            case RedisWire.RequestType.broadcastAck.rawValue:
                let arguments = response.packet.flatMap { try? SocketIOArguments.fromWire([$0]) } ?? .none
                pending.ack(arguments)
            default:
                break
            }
            return
        }
        guard let request = requests[requestId] else { return }
        switch request.type {
        case .remoteFetch:
            request.messageCount += 1
            guard let sockets = response.sockets else { return }
            request.sockets.append(contentsOf: sockets.map(RedisAdapter.remoteSocket))
            if request.messageCount == request.numSub { finish(request, error: nil) }
        case .allRooms:
            request.messageCount += 1
            guard let rooms = response.rooms else { return }
            request.rooms.formUnion(rooms)
            if request.messageCount == request.numSub { finish(request, error: nil) }
        case .serverSideEmit:
            request.responses.append(response.data?.jsonValue() ?? .null)
            if request.responses.count == request.numSub { finish(request, error: nil) }
        }
    }

    // MARK: Sockets on the wire

    /// A socket another node described.
    package static func remoteSocket(_ described: RedisWire.SocketDescription) -> RemoteSocket {
        let headers = HTTPHeaders(described.headers.map { (name: $0.name, value: $0.value) })
        let handshake = Handshake(headers: headers, url: described.url, auth: described.auth,
                                  address: described.address, time: described.issued, secure: described.secure)
        return RemoteSocket(id: described.id, handshake: handshake, rooms: described.rooms, data: described.data)
    }

    // MARK: Closing

    public func close() {
        guard !closed else { return }
        closed = true
        client.punsubscribe(channels.broadcastPattern)
        client.unsubscribe([channels.request, channels.response, specificResponseChannel])
        for request in Array(requests.values) { finish(request, error: .disconnected) }
        for pending in ackRequests.values { loop.cancelTimer(pending) }
        ackRequests.removeAll()
        serverSideHandlers.removeAll()
        local.close()
    }

    // MARK: Connection state recovery (local, as the reference's classic Redis adapter has none across nodes)

    public func persistSession(_ session: PersistedSession) { local.persistSession(session) }
    public func restoreSession(pid: String, offset: String?, completion: @escaping (RecoveredSession?) -> Void) {
        local.restoreSession(pid: pid, offset: offset, completion: completion)
    }

    // MARK: Ids

    private static let idAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".utf8)

    /// 6 characters as uid2 makes them (random bytes modulo the 62-character alphabet).
    static func makeID(length: Int = 6) -> String {
        String(decoding: SecureRandom.bytes(length).map { idAlphabet[Int($0) % idAlphabet.count] }, as: UTF8.self)
    }
}

/// A request waiting for the other nodes' answers.
final class PendingRequest: TimerTarget {
    enum Kind {
        case remoteFetch, allRooms, serverSideEmit
    }

    let id = RedisAdapter.makeID()
    let type: Kind
    /// Answers expected before completing (the requester counts as the first for fetch / allRooms).
    let numSub: Int
    var messageCount = 1
    var sockets: [RemoteSocket] = []
    var rooms: Set<String> = []
    var responses: [JSONValue] = []
    var finish: ((SocketIOError?) -> Void)?
    weak var adapter: RedisAdapter?
    var timerSlot = TimerSlot()

    init(type: Kind, numSub: Int, adapter: RedisAdapter) {
        self.type = type
        self.numSub = numSub
        self.adapter = adapter
    }

    func timerFired(now: UInt64) {
        adapter?.finish(self, error: .timeout)
    }
}

/// A broadcast with acknowledgements published to the other nodes: their client counts and acks go to the
/// requester's callbacks until the broadcast's timeout.
final class PendingBroadcastAck: TimerTarget {
    let id: String
    weak var adapter: RedisAdapter?
    let clientCount: (Int) -> Void
    let ack: (SocketIOArguments) -> Void
    var timerSlot = TimerSlot()

    init(id: String, adapter: RedisAdapter, clientCount: @escaping (Int) -> Void,
         ack: @escaping (SocketIOArguments) -> Void) {
        self.id = id
        self.adapter = adapter
        self.clientCount = clientCount
        self.ack = ack
    }

    func timerFired(now: UInt64) {
        adapter?.forgetBroadcastAck(id)
    }
}

// MARK: The factory

extension RedisAdapter {
    /// An adapter factory for `io.adapterFactory`: one pub and one sub connection per server, shared by the
    /// adapters of all its namespaces.
    ///
    /// ```swift
    /// io.adapterFactory = try RedisAdapter.factory(url: "redis://127.0.0.1:6379", key: "socket.io")
    /// ```
    public static func factory(url: String = "redis://127.0.0.1:6379", key: String = "socket.io",
                               requestsTimeout: UInt64 = 5000, publishOnSpecificResponseChannel: Bool = false,
                               clientName: String? = nil) throws -> (Namespace) -> any SocketIOAdapter {
        try factory(url: url, options: RedisAdapterOptions(
            key: key, requestsTimeout: requestsTimeout, publishOnSpecificResponseChannel: publishOnSpecificResponseChannel,
            clientName: clientName))
    }

    public static func factory(url: String, options: RedisAdapterOptions) throws -> (Namespace) -> any SocketIOAdapter {
        let endpoint = try RedisEndpoint(url: url)
        let registry = ClientRegistry()
        return { namespace in
            let client = registry.client(for: namespace.server) {
                RedisClient(loop: namespace.server.loop, endpoint: endpoint, clientName: options.clientName,
                            reconnectMinimumDelay: options.reconnectMinimumDelay,
                            reconnectMaximumDelay: options.reconnectMaximumDelay)
            }
            return RedisAdapter(namespace: namespace, client: client, options: options)
        }
    }

    /// A factory on a client the caller made (to read its counters, or close it).
    public static func factory(client: RedisClient, options: RedisAdapterOptions = RedisAdapterOptions())
        -> (Namespace) -> any SocketIOAdapter
    {
        { namespace in RedisAdapter(namespace: namespace, client: client, options: options) }
    }
}

/// One client per server using a factory (two servers must not share subscriptions: the channel names of their
/// namespaces are the same).
private final class ClientRegistry {
    private var entries: [(server: Weak<SocketIOServer>, client: RedisClient)] = []

    func client(for server: SocketIOServer, make: () -> RedisClient) -> RedisClient {
        entries.removeAll { $0.server.value == nil }
        if let entry = entries.first(where: { $0.server.value === server }) { return entry.client }
        let client = make()
        entries.append((Weak(server), client))
        return client
    }
}

private struct Weak<T: AnyObject> {
    weak var value: T?
    init(_ value: T) { self.value = value }
}

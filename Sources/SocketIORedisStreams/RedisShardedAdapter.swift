import MsgPackCodec
import SIOLoop
import SocketIO
import SocketIORedis

/// The sharded pub/sub adapter (Redis 7: SSUBSCRIBE / SPUBLISH), wire-compatible with @socket.io/redis-adapter
/// 8.3's `createShardedAdapter` (lib/sharded-adapter.ts over socket.io-adapter's ClusterAdapter): the messages
/// of the streams adapter (ClusterMessaging), every one SPUBLISHed, as JSON or, when it carries a binary,
/// notepack msgpack. Channels: `<prefix>#<nsp>#` for every message, `<prefix>#<nsp>#<uid>#` for answers to this
/// node, and in the dynamic modes `<prefix>#<nsp>#<room>#` for broadcasts to that one room. At most once, as
/// pub/sub is: a node away from Redis misses what was published meanwhile.
///
/// ```swift
/// io.adapterFactory = try RedisShardedAdapter.factory(url: "redis://127.0.0.1:6379")
/// ```
///
/// Loop thread only; with several loops it lives on the first one and room events of the others come to it.
public final class RedisShardedAdapter: SocketIOAdapter, ClusterAdapter, ClusterMessaging {
    public unowned let namespace: Namespace
    /// This adapter's id on the wire (16 hex characters, as ClusterAdapter's `randomId`).
    public let uid: String
    public let client: RedisShardedClient
    /// `<channelPrefix>#<nsp>#`: every message but the answers (SHARDNUMSUB of it counts the nodes).
    let channel: String
    /// `<channelPrefix>#<nsp>#<uid>#`: answers to this node's requests.
    let responseChannel: String
    let mode: ShardedSubscriptionMode
    let local: any LocalAdapter
    var nodes = ClusterNodes()
    var requests: [String: ClusterRequest] = [:]
    var ackRequests: [String: ClusterAckRequest] = [:]
    var serverSideHandlers: [String: [ServerSideEmitHandler]] = [:]
    var closed = false
    /// Rooms whose channel this adapter subscribed to (dynamic modes).
    private(set) var roomChannels: Set<String> = []
    let log = Logger("socket.io:redis-sharded")

    public init(namespace: Namespace, client: RedisShardedClient) {
        self.namespace = namespace
        self.client = client
        uid = RedisStreamsAdapter.randomID()
        mode = client.options.subscriptionMode
        channel = client.options.channelPrefix + "#" + namespace.name + "#"
        responseChannel = channel + uid + "#"
        local = namespace.makeLocalAdapter()
        // Node nodes tell a socket id from a public room by its length (see `ShardedSubscriptionMode.dynamic`).
        if mode == .dynamic { namespace.server.nodeLengthSocketIDs = true }
        subscribe(channel)
        subscribe(responseChannel)
        if mode != .static {
            let loop = namespace.server.loop
            namespace.onRoomEvent { [weak self] event in
                // Room events run on the loop of the socket concerned; the subscriptions live on this one.
                if loop.isInLoopThread {
                    self?.roomChanged(event)
                } else {
                    _ = loop.execute { [weak self] in self?.roomChanged(event) }
                }
            }
        }
        client.start()
    }

    public var requestsTimeout: UInt64 { client.options.requestsTimeout }
    var loop: EventLoop { namespace.server.loop }

    // MARK: Rooms (local)

    public func addAll(_ socketID: String, rooms: [String]) { local.addAll(socketID, rooms: rooms) }
    public func delete(_ socketID: String, room: String) { local.delete(socketID, room: room) }
    public func deleteAll(_ socketID: String) { local.deleteAll(socketID) }
    public func rooms(of socketID: String) -> Set<String> { local.rooms(of: socketID) }
    public func sockets(_ options: BroadcastOptions) -> [String] { local.sockets(options) }
    public func allRooms() -> Set<String> { local.allRooms() }

    /// This process's rooms: ClusterAdapter has no message to ask the other nodes for theirs.
    public func allRooms(completion: @escaping (SocketIOError?, Set<String>) -> Void) {
        local.allRooms { rooms in completion(nil, rooms) }
    }

    // MARK: Subscriptions

    private func subscribe(_ name: String) {
        client.subscriber.subscribe(name) { [weak self] name, payload in self?.received(payload, on: name) }
    }

    /// A room that has a channel of its own (`shouldUseASeparateNamespace`): in dynamic mode one that does not look
    /// like a socket id (Node checks its own sockets; a 20-character room is published on the namespace channel
    /// anyway, so it needs no channel), in dynamic-private every room.
    func hasChannel(_ room: String) -> Bool {
        switch mode {
        case .static: false
        case .dynamic: !RedisShardedAdapter.looksLikeASocketID(room)
        case .dynamicPrivate: true
        }
    }

    /// Node's `looksLikeASocketId`: `room.length === 20` (UTF-16 code units).
    static func looksLikeASocketID(_ room: String) -> Bool { room.utf16.count == 20 }

    private func roomChannel(_ room: String) -> String { channel + room + "#" }

    private func roomChanged(_ event: RoomEvent) {
        guard !closed else { return }
        switch event {
        case .created(let room) where hasChannel(room):
            guard roomChannels.insert(room).inserted else { return }
            subscribe(roomChannel(room))
        case .deleted(let room):
            guard roomChannels.remove(room) != nil else { return }
            client.subscriber.unsubscribe(roomChannel(room))
        default:
            break
        }
    }

    // MARK: Publishing

    /// SPUBLISH of a message (`doPublish`), on its room's channel when `computeChannel` says so.
    @discardableResult
    func publishEphemeral(_ type: ClusterMessageType, _ data: MsgPackValue?) -> Bool {
        guard !closed else { return false }
        let message = ClusterMessage(uid: uid, nsp: namespace.name, type: type, data: data)
        return client.publish(channel(for: message), message.shardedPayload())
    }

    /// `computeChannel`: a broadcast without ack to exactly one room that has a channel goes there (one with acks
    /// cannot: the answers expected are counted over every node).
    func channel(for message: ClusterMessage) -> String {
        guard mode != .static, message.kind == .broadcast, message.data?["requestId"] == nil,
              let rooms = message.data?["opts"]?["rooms"]?.stringArray, rooms.count == 1, hasChannel(rooms[0])
        else { return channel }
        return roomChannel(rooms[0])
    }

    /// An answer on the requester's own channel (`doPublishResponse`).
    func publishResponse(to requester: String, _ type: ClusterMessageType, _ data: MsgPackValue) {
        guard !closed else { return }
        let message = ClusterMessage(uid: uid, nsp: namespace.name, type: type, data: data)
        client.publish(channel + requester + "#", message.shardedPayload())
    }

    /// Nodes with this namespace: `PUBSUB SHARDNUMSUB` of its channel, at least 1.
    public func serverCount(_ completion: @escaping (Int) -> Void) {
        guard !closed else {
            completion(1)
            return
        }
        client.redis.numsub(channel, subcommand: "SHARDNUMSUB") { count in completion(max(count ?? 1, 1)) }
    }

    func answerInitialHeartbeat() {}

    // MARK: Broadcasting and operations on sockets anywhere (ClusterAdapter's, applied here at once)

    public func broadcast(_ event: OutgoingEvent, options: BroadcastOptions) {
        if !options.flags.local, !closed { publishEphemeral(.broadcast, ClusterPayload.broadcast(event, options: options)) }
        local.broadcast(event, options: options)
    }

    public func addSockets(_ options: BroadcastOptions, rooms: [String]) {
        if !options.flags.local, !closed { publishEphemeral(.socketsJoin, ClusterPayload.socketsChange(options, rooms: rooms)) }
        local.addSockets(options, rooms: rooms)
    }

    public func deleteSockets(_ options: BroadcastOptions, rooms: [String]) {
        if !options.flags.local, !closed { publishEphemeral(.socketsLeave, ClusterPayload.socketsChange(options, rooms: rooms)) }
        local.deleteSockets(options, rooms: rooms)
    }

    public func disconnectSockets(_ options: BroadcastOptions, close: Bool) {
        if !options.flags.local, !closed { publishEphemeral(.disconnectSockets, ClusterPayload.disconnect(options, close: close)) }
        local.disconnectSockets(options, close: close)
    }

    /// A broadcast from another node, to this process's sockets.
    func deliver(_ broadcast: ReceivedBroadcast, at offset: LogPosition?) {
        guard let event = broadcast.event() else {
            log.debug("ignoring a broadcast that is not an event")
            return
        }
        local.broadcast(event, options: broadcast.options.broadcastOptions)
    }

    // MARK: Receiving

    /// `onRawMessage`: what arrives on the response channel is an answer, anything else a message.
    private func received(_ payload: [UInt8], on name: String) {
        guard !closed else { return }
        guard let message = ClusterMessage(shardedPayload: payload) else {
            log.debug("ignoring a message that is neither JSON nor msgpack")
            return
        }
        if name == responseChannel {
            guard message.uid != uid, message.nsp == namespace.name else { return }
            switch message.kind {
            case .fetchSocketsResponse?, .serverSideEmitResponse?, .broadcastClientCount?, .broadcastAck?:
                received(response: message)
            default:
                return
            }
        } else {
            onMessage(message, offset: nil)
        }
    }

    // MARK: Sessions (this node's only: the sharded adapter keeps none in Redis)

    public func persistSession(_ session: PersistedSession) { local.persistSession(session) }
    public func restoreSession(pid: String, offset: String?, completion: @escaping (RecoveredSession?) -> Void) {
        local.restoreSession(pid: pid, offset: offset, completion: completion)
    }

    // MARK: Closing

    public func close() {
        guard !closed else { return }
        closed = true
        for name in [channel, responseChannel] + roomChannels.map(roomChannel) { client.subscriber.unsubscribe(name) }
        roomChannels.removeAll()
        for request in Array(requests.values) { finish(request, error: .disconnected) }
        for pending in ackRequests.values { loop.cancelTimer(pending) }
        ackRequests.removeAll()
        serverSideHandlers.removeAll()
        local.close()
    }
}

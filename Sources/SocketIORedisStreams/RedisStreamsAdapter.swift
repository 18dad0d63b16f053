import MsgPackCodec
import SIOLoop
import SocketIO
import SocketIORedis

/// The Redis streams adapter, wire-compatible with @socket.io/redis-streams-adapter 0.3.x (its lib/adapter.ts
/// over socket.io-adapter's ClusterAdapter): broadcasts and room operations are appended to a Redis stream that
/// every node reads (XREAD), so a node that loses Redis for a while catches up from where it stopped; requests
/// that need no log (fetchSockets, serverSideEmit, broadcasts with acks) and all answers go over pub/sub; with
/// connection state recovery on, sessions are kept in Redis and a broadcast's offset is its stream id, so a client
/// recovers on any node, with every packet it missed replayed from the stream.
///
/// ```swift
/// io.adapterFactory = try RedisStreamsAdapter.factory(url: "redis://127.0.0.1:6379")
/// ```
///
/// Local delivery is the composed local adapter's (`namespace.makeLocalAdapter()`). With recovery on, this node's
/// own broadcasts reach its sockets when the stream hands them back, like everyone else's, so every socket gets
/// logged packets in stream order and a client's offset says exactly what it has. Loop thread only.
public final class RedisStreamsAdapter: SocketIOAdapter, StreamConsumer, ClusterAdapter, ClusterMessaging {
    public unowned let namespace: Namespace
    /// This adapter's id on the wire (16 hex characters, as ClusterAdapter's `randomId`).
    public let uid: String
    public let client: RedisStreamsClient
    /// The stream this namespace's packets go to.
    public let streamName: String
    /// `<channelPrefix>#<nsp>#`: requests of every node (PUBSUB NUMSUB of it counts the nodes).
    let publicChannel: String
    /// `<channelPrefix>#<nsp>#<uid>#`: answers to this node's requests.
    let privateChannel: String
    let local: any LocalAdapter
    let reader: StreamReader
    let recovery: ConnectionStateRecovery?
    var nodes = ClusterNodes()
    var requests: [String: ClusterRequest] = [:]
    var ackRequests: [String: ClusterAckRequest] = [:]
    var serverSideHandlers: [String: [ServerSideEmitHandler]] = [:]
    var closed = false
    /// When this node last published anything (a heartbeat is due `heartbeatInterval` after).
    private var lastPublished: UInt64 = 0
    /// When the connected sockets' sessions were last written again.
    var lastSessionRefresh: UInt64 = 0
    private var clock: HeartbeatClock?
    let log = Logger("socket.io:redis-streams")

    public init(namespace: Namespace, client: RedisStreamsClient) {
        self.namespace = namespace
        self.client = client
        uid = RedisStreamsAdapter.randomID()
        let options = client.options
        streamName = options.streamName(forNamespace: namespace.name)
        publicChannel = options.channelPrefix + "#" + namespace.name + "#"
        privateChannel = publicChannel + uid + "#"
        local = namespace.makeLocalAdapter()
        recovery = namespace.server.options.connectionStateRecovery
        reader = client.reader(for: streamName)
        // The other loops of a multi-loop server hand sessions and direct emits to this adapter.
        namespace.server.adapterKeepsSessions = true
        client.redis.subscribe([publicChannel, privateChannel]) { [self] _, payload in receivedPubSub(payload) }
        reader.add(self, namespace: namespace.name)
        client.whenPublishing(self) { [self] in publishHeartbeat(.initialHeartbeat) }
        client.start()
        let clock = HeartbeatClock(adapter: self)
        self.clock = clock
        loop.schedule(clock, afterMilliseconds: clock.period(options))
    }

    var options: RedisStreamsAdapterOptions { client.options }
    public var requestsTimeout: UInt64 { options.requestsTimeout }
    var loop: EventLoop { namespace.server.loop }

    // MARK: Rooms (local)

    public func addAll(_ socketID: String, rooms: [String]) { local.addAll(socketID, rooms: rooms) }
    public func delete(_ socketID: String, room: String) { local.delete(socketID, room: room) }
    public func deleteAll(_ socketID: String) { local.deleteAll(socketID) }
    public func rooms(of socketID: String) -> Set<String> { local.rooms(of: socketID) }
    public func sockets(_ options: BroadcastOptions) -> [String] { local.sockets(options) }
    public func allRooms() -> Set<String> { local.allRooms() }
    public var logPosition: LogPosition? { local.logPosition }

    /// This process's rooms: ClusterAdapter has no message to ask the other nodes for theirs.
    public func allRooms(completion: @escaping (SocketIOError?, Set<String>) -> Void) {
        local.allRooms { rooms in completion(nil, rooms) }
    }

    // MARK: Publishing

    /// XADD of a message the log keeps (`doPublish` for what is not ephemeral); `logged` gets its id, or nil when
    /// it was not logged. False when it could not even be sent.
    @discardableResult
    func publishLogged(_ type: ClusterMessageType, _ data: MsgPackValue,
                       logged: @escaping (LogPosition?) -> Void = { _ in }) -> Bool {
        let message = ClusterMessage(uid: uid, nsp: namespace.name, type: type, data: data)
        published()
        return client.append(to: streamName, message.streamFields(onlyPlaintext: options.onlyPlaintext), reply: logged)
    }

    /// PUBLISH on the namespace's channel, for what needs no log (`doPublish` for ephemeral messages).
    @discardableResult
    func publishEphemeral(_ type: ClusterMessageType, _ data: MsgPackValue?) -> Bool {
        published()
        let message = ClusterMessage(uid: uid, nsp: namespace.name, type: type, data: data)
        return client.redis.publish(publicChannel, message.pubSubPayload())
    }

    /// An answer on the requester's own channel (`doPublishResponse`).
    func publishResponse(to requester: String, _ type: ClusterMessageType, _ data: MsgPackValue) {
        guard !closed else { return }
        let message = ClusterMessage(uid: uid, nsp: namespace.name, type: type, data: data)
        client.redis.publish(options.channelPrefix + "#" + namespace.name + "#" + requester + "#", message.pubSubPayload())
    }

    private func published() { lastPublished = loop.now }

    // MARK: Broadcasting

    public func broadcast(_ event: OutgoingEvent, options: BroadcastOptions) {
        guard !options.flags.local, !closed else {
            // `local`: this node only, and no offset (the reference's in-memory broadcast after ClusterAdapter's).
            local.deliverLogged(event, options: options, position: nil)
            return
        }
        let throughLog = recovery != nil
        let sent = publishLogged(.broadcast, ClusterPayload.broadcast(event, options: options)) { [self] position in
            // Not logged: nothing will hand it back, so this node's sockets get it now, without an offset.
            if throughLog, position == nil, !closed { local.deliverLogged(event, options: options, position: nil) }
        }
        // Without recovery there is no offset to wait for: delivered now, as the reference once XADD answered.
        if !throughLog || !sent { local.deliverLogged(event, options: options, position: nil) }
    }

    /// An entry of the stream this namespace uses, in order.
    func streamEntry(_ id: LogPosition, _ message: ClusterMessage) {
        guard !closed else { return }
        if message.uid == uid {
            // Our own broadcasts reach our sockets here when recovery is on (see the type's comment).
            if recovery != nil, message.kind == .broadcast, let broadcast = ReceivedBroadcast(message.data),
               broadcast.requestId == nil {
                deliver(broadcast, at: id)
            }
            return
        }
        onMessage(message, offset: id)
    }

    func streamPositioned(at position: LogPosition) {
        guard !closed else { return }
        local.advanceLog(to: position)
    }

    /// A broadcast from the log (or one sent without it): the stream id is the offset when recovery is on and the
    /// packet takes one (`addOffsetIfNecessary`).
    func deliver(_ broadcast: ReceivedBroadcast, at id: LogPosition?) {
        let offset = recovery != nil && broadcast.takesOffset ? id?.description : nil
        guard let event = broadcast.event(offset: offset) else {
            log.debug("ignoring a broadcast that is not an event")
            return
        }
        local.deliverLogged(event, options: broadcast.options.broadcastOptions, position: id)
    }

    // MARK: Operations on sockets anywhere (logged, applied here at once: ClusterAdapter's addSockets & co)

    public func addSockets(_ options: BroadcastOptions, rooms: [String]) {
        if !options.flags.local, !closed { publishLogged(.socketsJoin, ClusterPayload.socketsChange(options, rooms: rooms)) }
        local.addSockets(options, rooms: rooms)
    }

    public func deleteSockets(_ options: BroadcastOptions, rooms: [String]) {
        if !options.flags.local, !closed { publishLogged(.socketsLeave, ClusterPayload.socketsChange(options, rooms: rooms)) }
        local.deleteSockets(options, rooms: rooms)
    }

    public func disconnectSockets(_ options: BroadcastOptions, close: Bool) {
        if !options.flags.local, !closed { publishLogged(.disconnectSockets, ClusterPayload.disconnect(options, close: close)) }
        local.disconnectSockets(options, close: close)
    }

    /// Nodes with this namespace: `PUBSUB NUMSUB` of its channel (the reference's `serverCount`), at least 1.
    public func serverCount(_ completion: @escaping (Int) -> Void) {
        guard !closed else {
            completion(1)
            return
        }
        client.redis.numsub(publicChannel) { count in completion(max(count ?? 1, 1)) }
    }

    // MARK: Receiving

    private func receivedPubSub(_ payload: [UInt8]) {
        guard !closed else { return }
        guard let message = try? ClusterMessage(pubSubPayload: payload) else {
            log.debug("ignoring a message that is not msgpack")
            return
        }
        onMessage(message, offset: nil)
    }

    // MARK: Heartbeat

    func answerInitialHeartbeat() { publishHeartbeat(.heartbeat) }

    func publishHeartbeat(_ type: ClusterMessageType) {
        guard !closed else { return }
        published()
        // Not counted as unpublished when Redis is away: the next one follows anyway.
        let message = ClusterMessage(uid: uid, nsp: namespace.name, type: type)
        client.redis.command([Array("PUBLISH".utf8), Array(publicChannel.utf8), message.pubSubPayload()], reply: nil)
    }

    /// Every tick: a heartbeat when this node said nothing for `heartbeatInterval`, and the nodes silent for
    /// `heartbeatTimeout` are taken for dead.
    func tick(now: UInt64) {
        guard !closed else { return }
        if now >= lastPublished + options.heartbeatInterval { publishHeartbeat(.heartbeat) }
        refreshLiveSessions(now: now)
        for uid in nodes.silent(now: now, timeout: options.heartbeatTimeout) {
            log.info("node \(uid) of \(namespace.name) seems down (no heartbeat for \(options.heartbeatTimeout) ms)")
            removeNode(uid)
        }
    }

    // MARK: Closing

    public func close() {
        guard !closed else { return }
        publishHeartbeat(.adapterClose)
        closed = true
        if let clock { loop.cancelTimer(clock) }
        clock = nil
        client.redis.unsubscribe([publicChannel, privateChannel])
        reader.remove(namespace: namespace.name)
        client.stopWhenPublishing(self)
        for request in Array(requests.values) { finish(request, error: .disconnected) }
        for pending in ackRequests.values { loop.cancelTimer(pending) }
        ackRequests.removeAll()
        serverSideHandlers.removeAll()
        local.close()
    }

    // MARK: Ids

    /// ClusterAdapter's `randomId`: 8 random bytes in hex.
    static func randomID() -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        for byte in SecureRandom.bytes(8) {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}

/// Drives an adapter's heartbeat and its check of silent nodes.
final class HeartbeatClock: TimerTarget {
    unowned let adapter: RedisStreamsAdapter
    var timerSlot = TimerSlot()

    init(adapter: RedisStreamsAdapter) { self.adapter = adapter }

    /// Once a second as the reference's cleanup timer, or more often when the interval or timeout is shorter.
    func period(_ options: RedisStreamsAdapterOptions) -> UInt64 {
        max(10, min(1000, options.heartbeatInterval, options.heartbeatTimeout / 2))
    }

    func timerFired(now: UInt64) {
        adapter.tick(now: now)
        guard !adapter.closed else { return }
        adapter.loop.schedule(self, afterMilliseconds: period(adapter.options))
    }
}

import EngineIO
import SIOLoop
import SocketIOCodec

/// The default adapter: rooms of one namespace in this process. A broadcast is encoded once and the same Engine.IO
/// messages are handed to every recipient.
///
/// Each socket is in the room named by its id without an entry here (the namespace's socket table answers for
/// those), so a socket that joins nothing costs no room bookkeeping. With connection state recovery on, broadcast
/// events carry an offset and are kept for `maxDisconnectionDuration` to replay to recovering clients.
public final class InMemoryAdapter: SocketIOAdapter {
    unowned let namespace: Namespace
    private var rooms: [String: Set<String>] = [:]
    private var socketRooms: [String: Set<String>] = [:]

    private let recovery: ConnectionStateRecovery?
    private var sessions: [String: (session: PersistedSession, disconnectedAt: UInt64)] = [:]
    private var storedPackets: [StoredPacket] = []
    /// Packets ever kept here: the serial of the next one (a mark in the log that pruning does not move).
    private(set) var logSerial = 0
    /// Per restored socket, offsets another loop replayed to it before this loop had them: their live delivery,
    /// still on its way here, is skipped once (kept a few seconds at most; see `expectReplayed`).
    private var replayedAhead: [String: (offsets: Set<String>, at: UInt64)] = [:]
    private var lastPrune: UInt64 = 0
    /// The last log position delivered or passed here (a cluster adapter with a log hands them in order).
    private(set) var lastPosition: LogPosition?

    struct StoredPacket {
        let offset: String
        let options: BroadcastOptions
        let event: OutgoingEvent
        let at: UInt64
        let serial: Int

        /// Whether the packet reaches a socket in `rooms` (its own id among them).
        func reaches(_ rooms: Set<String>) -> Bool {
            (options.rooms.isEmpty || !options.rooms.isDisjoint(with: rooms)) && options.except.isDisjoint(with: rooms)
        }
    }

    public init(namespace: Namespace) {
        self.namespace = namespace
        self.recovery = namespace.server.options.connectionStateRecovery
    }

    // MARK: Rooms

    public func addAll(_ socketID: String, rooms newRooms: [String]) {
        let reporting = namespace.reportsRoomEvents
        var events: [RoomEvent] = []
        for room in newRooms where room != socketID {
            let created = reporting && rooms[room] == nil
            let joined = rooms[room, default: []].insert(socketID).inserted
            socketRooms[socketID, default: []].insert(room)
            if created { events.append(.created(room: room)) }
            if joined, reporting { events.append(.joined(room: room, socketID: socketID)) }
        }
        // Reported once every room is recorded: a handler that disconnects the socket then leaves nothing behind.
        for event in events { namespace.report(event) }
    }

    public func delete(_ socketID: String, room: String) {
        guard socketRooms[socketID]?.remove(room) != nil else { return }
        if socketRooms[socketID]?.isEmpty == true { socketRooms.removeValue(forKey: socketID) }
        leave(socketID, room)
    }

    public func deleteAll(_ socketID: String) {
        guard let joined = socketRooms.removeValue(forKey: socketID) else { return }
        for room in joined { leave(socketID, room) }
    }

    private func leave(_ socketID: String, _ room: String) {
        rooms[room]?.remove(socketID)
        let emptied = rooms[room]?.isEmpty == true
        if emptied { rooms.removeValue(forKey: room) }
        guard namespace.reportsRoomEvents else { return }
        namespace.report(.left(room: room, socketID: socketID))
        if emptied { namespace.report(.deleted(room: room)) }
    }

    public func rooms(of socketID: String) -> Set<String> {
        var result = socketRooms[socketID] ?? []
        if namespace.sockets[socketID] != nil { result.insert(socketID) }
        return result
    }

    public func allRooms() -> Set<String> {
        Set(rooms.keys).union(namespace.sockets.keys)
    }

    /// True when a local socket is in `room` (its own id room included): two dictionary lookups.
    public func hasRoom(_ room: String) -> Bool { rooms[room] != nil || namespace.sockets[room] != nil }

    /// Calls `body` once for each local socket `options` reaches.
    func forEachSocket(_ options: BroadcastOptions, _ body: (Socket) -> Void) {
        let sockets = namespace.sockets
        let excluded = excludedIDs(options.except)
        if options.rooms.isEmpty {
            for socket in sockets.values where !excluded.contains(socket.id) { body(socket) }
            return
        }
        if options.rooms.count == 1, let room = options.rooms.first {
            // The common case, one room: no set of recipients to build.
            if let members = rooms[room] {
                for id in members where !excluded.contains(id) {
                    if let socket = sockets[id] { body(socket) }
                }
            }
            if let socket = sockets[room], !excluded.contains(room), rooms[room]?.contains(room) != true { body(socket) }
            return
        }
        var seen = Set<String>()
        for room in options.rooms {
            for id in members(of: room) where !excluded.contains(id) && seen.insert(id).inserted {
                if let socket = sockets[id] { body(socket) }
            }
        }
    }

    private func members(of room: String) -> [String] {
        var ids = rooms[room].map(Array.init) ?? []
        if namespace.sockets[room] != nil { ids.append(room) }
        return ids
    }

    private func excludedIDs(_ except: Set<String>) -> Set<String> {
        guard !except.isEmpty else { return [] }
        var ids = Set<String>()
        for room in except { ids.formUnion(members(of: room)) }
        return ids
    }

    public func sockets(_ options: BroadcastOptions) -> [String] {
        var ids: [String] = []
        forEachSocket(options) { ids.append($0.id) }
        return ids
    }

    // MARK: Broadcasting

    public func broadcast(_ event: OutgoingEvent, options: BroadcastOptions) {
        let (stamped, offset) = stamp(event, options: options)
        let packet = EncodedPacket.event(stamped, namespace: namespace.name, ackId: nil,
                                         volatile: options.flags.volatile, compress: options.flags.compress,
                                         parser: namespace.server.parser, throughAdapter: true)
        deliver(packet, event: stamped, offset: offset, options: options)
    }

    /// With connection state recovery on, a non-volatile broadcast gets an offset as its last argument (as the
    /// reference does); the offset is returned for `deliver` to keep the packet under.
    func stamp(_ event: OutgoingEvent, options: BroadcastOptions) -> (OutgoingEvent, offset: String?) {
        guard recovery != nil, !options.flags.volatile else { return (event, nil) }
        let offset = SecureRandom.shortIdentifier()  // public: sent to every recipient
        var quoted: [UInt8] = []
        JSONScanner.appendQuoted(offset, to: &quoted)
        var stamped = event
        stamped.arguments = event.arguments.appending(jsonElement: quoted)
        return (stamped, offset)
    }

    /// Hands an encoded broadcast to every local socket `options` reaches, and keeps it for recovering clients
    /// when it has an offset. A packet at log `position` skips the sockets already replayed through it.
    func deliver(_ packet: EncodedPacket, event: OutgoingEvent, offset: String?, options: BroadcastOptions,
                 position: LogPosition? = nil) {
        if let offset { store(event, offset: offset, options: options) }
        if let position { advanceLog(to: position) }
        var delivered: UInt64 = 0
        forEachSocket(options) { socket in
            if let offset, !replayedAhead.isEmpty, skipReplayed(offset, for: socket.id) { return }
            if let position, let replayed = socket.replayedThrough {
                if position <= replayed { return }
                socket.replayedThrough = nil  // positions only grow from here
            }
            delivered &+= 1
            socket.notifyOutgoing(event)
            socket.client.write(packet)
        }
        namespace.counters.deliveries &+= delivered
    }

    /// A packet a cluster adapter logged and stamped itself: delivered as it is, not kept here.
    public func deliverLogged(_ event: OutgoingEvent, options: BroadcastOptions, position: LogPosition?) {
        let packet = EncodedPacket.event(event, namespace: namespace.name, ackId: nil,
                                         volatile: options.flags.volatile, compress: options.flags.compress,
                                         parser: namespace.server.parser, throughAdapter: true)
        deliver(packet, event: event, offset: nil, options: options, position: position)
    }

    public func advanceLog(to position: LogPosition) {
        if lastPosition.map({ position > $0 }) ?? true { lastPosition = position }
    }

    public var logPosition: LogPosition? { lastPosition }

    public func broadcastWithAck(_ event: OutgoingEvent, options: BroadcastOptions,
                                 clientCount: @escaping (Int) -> Void, ack: @escaping (SocketIOArguments) -> Void) {
        // One id for every recipient: ids come from the namespace's counter, so they never collide per socket.
        let id = namespace.nextAckID()
        let packet = EncodedPacket.event(event, namespace: namespace.name, ackId: id,
                                         volatile: options.flags.volatile, compress: options.flags.compress,
                                         parser: namespace.server.parser, throughAdapter: true)
        clientCount(deliver(packet, ackID: id, event: event, options: options, ack: ack))
    }

    /// Hands an encoded broadcast with ack id `id` to the local sockets `options` reaches; returns how many.
    func deliver(_ packet: EncodedPacket, ackID id: UInt64, event: OutgoingEvent, options: BroadcastOptions,
                 ack: @escaping (SocketIOArguments) -> Void) -> Int {
        var count = 0
        forEachSocket(options) { socket in
            count += 1
            socket.expectAck(id: id, timeout: nil) { result in
                if case .success(let arguments) = result { ack(arguments) }
            }
            socket.notifyOutgoing(event)
            socket.client.write(packet)
        }
        namespace.counters.deliveries &+= UInt64(count)
        return count
    }

    public func fetchSockets(_ options: BroadcastOptions, completion: @escaping ([RemoteSocket]) -> Void) {
        var result: [RemoteSocket] = []
        forEachSocket(options) { socket in
            result.append(RemoteSocket(id: socket.id, handshake: socket.handshake, rooms: socket.rooms,
                                       data: socket.data, socket: socket))
        }
        completion(result)
    }

    public func addSockets(_ options: BroadcastOptions, rooms: [String]) {
        var targets: [Socket] = []
        forEachSocket(options) { targets.append($0) }
        for socket in targets { socket.join(rooms) }
    }

    public func deleteSockets(_ options: BroadcastOptions, rooms: [String]) {
        var targets: [Socket] = []
        forEachSocket(options) { targets.append($0) }
        for socket in targets { for room in rooms { socket.leave(room) } }
    }

    public func disconnectSockets(_ options: BroadcastOptions, close: Bool) {
        var targets: [Socket] = []
        forEachSocket(options) { targets.append($0) }
        for socket in targets { socket.disconnect(close: close) }
    }

    public func serverCount(_ completion: @escaping (Int) -> Void) { completion(1) }

    // MARK: Connection state recovery

    /// Keeps a stamped broadcast for recovering clients.
    private func store(_ event: OutgoingEvent, offset: String, options: BroadcastOptions) {
        pruneExpired()
        storedPackets.append(StoredPacket(offset: offset, options: options, event: event, at: namespace.server.loop.now,
                                          serial: logSerial))
        logSerial += 1
    }

    public func persistSession(_ session: PersistedSession) {
        guard recovery != nil else { return }
        pruneExpired()
        sessions[session.pid] = (session, namespace.server.loop.now)
    }

    public func restoreSession(pid: String, offset: String?, completion: @escaping (RecoveredSession?) -> Void) {
        completion(restoreSession(pid: pid, offset: offset))
    }

    /// The session `pid` kept here, with the packets sent after `offset`; nil when unknown or expired, or without
    /// an offset (as the reference: what such a client missed is not known here).
    public func restoreSession(pid: String, offset: String?) -> RecoveredSession? {
        guard let recovery, let offset else { return nil }
        pruneExpired()
        guard let entry = sessions.removeValue(forKey: pid),
              entry.disconnectedAt + recovery.maxDisconnectionDuration >= namespace.server.loop.now,
              let index = storedPackets.firstIndex(where: { $0.offset == offset }) else { return nil }
        let roomSet = Set(entry.session.rooms).union([entry.session.sid])
        let missed = storedPackets[(index + 1)...].filter { $0.reaches(roomSet) }
        var restored = RecoveredSession(session: entry.session, missedPackets: missed.map(\.event))
        restored.missedOffsets = missed.map(\.offset)
        return restored
    }

    // MARK: Restores answered by another loop (ShardedAdapter)

    /// The packets kept here since `serial` that reach `session`'s socket, in this loop's order.
    func packets(since serial: Int, reaching session: PersistedSession) -> [StoredPacket] {
        let roomSet = Set(session.rooms).union([session.sid])
        guard let first = storedPackets.firstIndex(where: { $0.serial >= serial }) else { return [] }
        return storedPackets[first...].filter { $0.reaches(roomSet) }
    }

    /// Which of `offsets` (a replay another loop sent, oldest first, after the client's `offset`) this loop has not
    /// kept: broadcasts still on their way here. Looks only at the log's tail after `offset` (or, when this loop
    /// never had it, at as many entries as could matter).
    func notYetHere(_ offsets: [String], after offset: String) -> Set<String> {
        var pending = Set(offsets)
        guard !pending.isEmpty else { return pending }
        let floor = max(0, storedPackets.count - 2 * offsets.count - 64)
        var index = storedPackets.count - 1
        while index >= floor, storedPackets[index].offset != offset, !pending.isEmpty {
            pending.remove(storedPackets[index].offset)
            index -= 1
        }
        return pending
    }

    /// The socket `socketID` (restored with a replay from another loop) skips the live delivery of `offsets` once.
    func expectReplayed(_ offsets: Set<String>, socketID: String) {
        guard !offsets.isEmpty else { return }
        replayedAhead[socketID] = (offsets, namespace.server.loop.now)
    }

    private func skipReplayed(_ offset: String, for socketID: String) -> Bool {
        guard var entry = replayedAhead[socketID], entry.offsets.remove(offset) != nil else { return false }
        if entry.offsets.isEmpty { replayedAhead.removeValue(forKey: socketID) } else { replayedAhead[socketID] = entry }
        return true
    }

    /// Drops sessions and packets older than `maxDisconnectionDuration`, at most once a second.
    private func pruneExpired() {
        guard let recovery else { return }
        let now = namespace.server.loop.now
        guard now >= lastPrune + 1000 else { return }
        lastPrune = now
        let horizon = now > recovery.maxDisconnectionDuration ? now - recovery.maxDisconnectionDuration : 0
        if let keep = storedPackets.firstIndex(where: { $0.at >= horizon }) {
            if keep > 0 { storedPackets.removeFirst(keep) }
        } else {
            storedPackets.removeAll()
        }
        if sessions.count > 0 {
            sessions = sessions.filter { $0.value.disconnectedAt >= horizon }
        }
        // what crosses a restore in flight arrives within milliseconds; an entry older than that waits for a
        // packet that will not come (a direct emit kept by the other loop only, a restore that was not admitted)
        if !replayedAhead.isEmpty { replayedAhead = replayedAhead.filter { now < $0.value.at + 5000 } }
    }

    public func close() {
        rooms.removeAll()
        socketRooms.removeAll()
        sessions.removeAll()
        storedPackets.removeAll()
        replayedAhead.removeAll()
    }
}

import EngineIO
import SIOLoop
import SocketIOCodec

/// What a cluster adapter (Redis) composes for delivery in this process: the in-memory adapter with one loop,
/// the adapter across the loops with several (`Namespace.makeLocalAdapter()`).
public protocol LocalAdapter: SocketIOAdapter {
    /// False only when certainly no socket of this process is in `room` (lets a cluster adapter skip a message).
    func hasRoom(_ room: String) -> Bool
    /// Every room with a socket of this process (`allRooms()` answers for this loop only).
    func allRooms(_ completion: @escaping (Set<String>) -> Void)
    /// Ids of the sockets of this process `options` reaches (`sockets(_:)` answers for this loop only).
    func sockets(_ options: BroadcastOptions, completion: @escaping ([String]) -> Void)
    /// Delivers an event a cluster adapter logged at `position` and stamped itself (its offset, if any, already
    /// the last argument) to the sockets of this process `options` reaches: not stamped or kept again, and
    /// skipped for a socket already replayed through `position`.
    func deliverLogged(_ event: OutgoingEvent, options: BroadcastOptions, position: LogPosition?)
    /// The log reached `position` with nothing to deliver here: sockets joining from now on start there.
    func advanceLog(to position: LogPosition)
    /// The sessions of this process's connected sockets that are kept while connected (to refresh them).
    func liveSessions(_ completion: @escaping ([LiveSession]) -> Void)
    /// A client came back elsewhere and took the session socket `sid` held with `token`: that socket, wherever it
    /// is in this process, leaves without keeping the session again.
    func closeSuperseded(sid: String, token: String)
}

extension InMemoryAdapter: LocalAdapter {
    public func allRooms(_ completion: @escaping (Set<String>) -> Void) { completion(allRooms()) }
    public func sockets(_ options: BroadcastOptions, completion: @escaping ([String]) -> Void) {
        completion(sockets(options))
    }

    public func liveSessions(_ completion: @escaping ([LiveSession]) -> Void) { completion(liveSessions()) }

    func liveSessions() -> [LiveSession] {
        namespace.sockets.values.compactMap { $0.liveSession(claim: false) }
    }

    public func closeSuperseded(sid: String, token: String) {
        guard let socket = namespace.sockets[sid], socket.liveToken == token else { return }
        socket.leaveSuperseded()
    }
}

/// The adapter of one namespace on one loop of a multi-loop server. Rooms and sockets are this loop's own (an
/// in-memory adapter); what crosses sockets reaches the other loops by message only, through their submit
/// queues: a broadcast is encoded once here and every loop gets the same bytes (its own message objects around
/// them), in the order this loop sent them. Results (acks, client counts, fetched sockets, recovered sessions)
/// come back to the loop that asked, which is where completions run.
///
/// With a cluster adapter (Redis) it is the cluster adapter's local part on the first loop; on the other loops,
/// whatever must reach other nodes is handed to the first loop's cluster adapter (`upstream`), so the process is
/// one node to the others.
final class ShardedAdapter: LocalAdapter {
    unowned let namespace: Namespace
    let local: InMemoryAdapter
    /// Cluster-wide work goes to the first loop's adapter (a cluster adapter is installed there).
    let upstream: Bool

    init(namespace: Namespace, upstream: Bool) {
        self.namespace = namespace
        self.upstream = upstream
        local = InMemoryAdapter(namespace: namespace)
    }

    private var server: SocketIOServer { namespace.server }
    /// Every loop's server (the group's members: no array is built per broadcast).
    private var shards: LazyMapSequence<[ShardMember], SocketIOServer> { server.group!.members.lazy.map(\.server) }

    /// Runs `body` on each other loop with this namespace's adapter there (nil on a loop that lacks the
    /// namespace: it has no socket in it); returns how many loops were asked (a stopping loop is not).
    @discardableResult
    private func onOtherLoops(_ body: @escaping (ShardedAdapter?) -> Void) -> Int {
        let name = namespace.name
        var asked = 0
        for shard in shards where shard !== server {
            if shard.loop.execute({ body(shard.existingNamespace(name)?.shardedAdapter) }) { asked += 1 }
        }
        return asked
    }

    /// Asks every other loop (`ask` runs there, with that loop's adapter of this namespace, or nil) and gives
    /// `completion`, on this loop, `mine` combined with every answer.
    private func gather<T>(_ mine: T, ask: @escaping (ShardedAdapter?) -> T, combine: @escaping (inout T, T) -> Void,
                           completion: @escaping (T) -> Void) {
        var result = mine
        var waiting = 0
        let asked = onOtherLoops { [self] twin in
            let answer = ask(twin)
            back {
                combine(&result, answer)
                waiting -= 1
                if waiting == 0 { completion(result) }
            }
        }
        waiting = asked
        if asked == 0 { completion(result) }
    }

    /// Runs `work` on this adapter's loop (from another loop's thread).
    private func back(_ work: @escaping () -> Void) {
        if server.loop.isInLoopThread { work() } else { server.loop.execute(work) }
    }

    /// The cluster adapter keeps sessions and logs every packet itself (the Redis streams adapter): sessions,
    /// restores and direct emits go to it too.
    private var upstreamKeepsSessions: Bool { upstream && shards[0].adapterKeepsSessions }

    /// The first loop's adapter of this namespace (a cluster adapter), reached from this loop.
    private func toUpstream(_ body: @escaping (any SocketIOAdapter) -> Void) {
        let primary = server.group!.members[0].server
        let name = namespace.name
        primary.loop.execute { body(primary.of(name).adapter) }
    }

    // MARK: Rooms (this loop's)

    func addAll(_ socketID: String, rooms: [String]) { local.addAll(socketID, rooms: rooms) }
    func delete(_ socketID: String, room: String) { local.delete(socketID, room: room) }
    func deleteAll(_ socketID: String) { local.deleteAll(socketID) }
    func rooms(of socketID: String) -> Set<String> { local.rooms(of: socketID) }
    func sockets(_ options: BroadcastOptions) -> [String] { local.sockets(options) }
    func allRooms() -> Set<String> { local.allRooms() }

    func allRooms(_ completion: @escaping (Set<String>) -> Void) {
        gather(local.allRooms(), ask: { $0?.local.allRooms() ?? [] }, combine: { $0.formUnion($1) },
               completion: completion)
    }

    func sockets(_ options: BroadcastOptions, completion: @escaping ([String]) -> Void) {
        gather(local.sockets(options), ask: { $0?.local.sockets(options) ?? [] }, combine: { $0 += $1 },
               completion: completion)
    }
    /// Other loops' rooms are not known here: only a room of this loop's gives a certain answer.
    func hasRoom(_ room: String) -> Bool { true }

    // MARK: Broadcasting

    func broadcast(_ event: OutgoingEvent, options: BroadcastOptions) {
        let direct = isOneLocalSocket(options) && !upstreamKeepsSessions
        if upstream, !options.flags.local, !direct {
            toUpstream { $0.broadcast(event, options: options) }
            return
        }
        let (stamped, offset) = local.stamp(event, options: options)
        let packet = EncodedPacket.event(stamped, namespace: namespace.name, ackId: nil,
                                         volatile: options.flags.volatile, compress: options.flags.compress,
                                         parser: server.parser, throughAdapter: true)
        if !direct {
            for shard in shards where shard !== server {
                let copy = packet.copyForAnotherLoop()
                let name = namespace.name
                shard.loop.execute {
                    shard.existingNamespace(name)?.shardedAdapter?.local.deliver(
                        copy, event: stamped, offset: offset, options: options)
                }
            }
        }
        local.deliver(packet, event: stamped, offset: offset, options: options)
    }

    func deliverLogged(_ event: OutgoingEvent, options: BroadcastOptions, position: LogPosition?) {
        let packet = EncodedPacket.event(event, namespace: namespace.name, ackId: nil,
                                         volatile: options.flags.volatile, compress: options.flags.compress,
                                         parser: server.parser, throughAdapter: true)
        let name = namespace.name
        for shard in shards where shard !== server {
            let copy = packet.copyForAnotherLoop()
            shard.loop.execute {
                shard.existingNamespace(name)?.shardedAdapter?.local.deliver(
                    copy, event: event, offset: nil, options: options, position: position)
            }
        }
        local.deliver(packet, event: event, offset: nil, options: options, position: position)
    }

    func advanceLog(to position: LogPosition) {
        onOtherLoops { $0?.local.advanceLog(to: position) }
        local.advanceLog(to: position)
    }

    var logPosition: LogPosition? { local.lastPosition }

    /// A packet for one socket of this loop (a direct emit through the adapter): no other loop has it.
    private func isOneLocalSocket(_ options: BroadcastOptions) -> Bool {
        guard options.rooms.count == 1, let room = options.rooms.first else { return false }
        return namespace.sockets[room] != nil
    }

    func broadcastWithAck(_ event: OutgoingEvent, options: BroadcastOptions, clientCount: @escaping (Int) -> Void,
                          ack: @escaping (SocketIOArguments) -> Void) {
        if upstream, !options.flags.local {
            toUpstream { [self] adapter in
                adapter.broadcastWithAck(event, options: options,
                                         clientCount: { count in self.back { clientCount(count) } },
                                         ack: { reply in self.back { ack(reply) } })
            }
            return
        }
        // Ids are unique across loops (each loop's counter has its own residue), so remote sockets take this one.
        let id = namespace.nextAckID()
        let packet = EncodedPacket.event(event, namespace: namespace.name, ackId: id,
                                         volatile: options.flags.volatile, compress: options.flags.compress,
                                         parser: server.parser, throughAdapter: true)
        // One client count for the whole process, once every loop reported its own.
        var total = 0
        var waiting = 1
        let report: (Int) -> Void = { count in
            total += count
            waiting -= 1
            if waiting == 0 { clientCount(total) }
        }
        let name = namespace.name
        for shard in shards where shard !== server {
            let copy = packet.copyForAnotherLoop()
            let queued = shard.loop.execute { [self] in
                let count = shard.existingNamespace(name)?.shardedAdapter?.local.deliver(
                    copy, ackID: id, event: event, options: options,
                    ack: { reply in self.back { ack(reply) } }) ?? 0
                back { report(count) }
            }
            if queued { waiting += 1 }
        }
        report(local.deliver(packet, ackID: id, event: event, options: options, ack: ack))
    }

    // MARK: Operations on sockets of every loop

    func fetchSockets(_ options: BroadcastOptions, completion: @escaping ([RemoteSocket]) -> Void) {
        if upstream, !options.flags.local {
            toUpstream { [self] in $0.fetchSockets(options) { sockets in
                // Sockets of other loops must not be touched from here: described only.
                let described = sockets.map { $0.socket?.server === self.server ? $0 : $0.described }
                self.back { completion(described) }
            } }
            return
        }
        var mine: [RemoteSocket] = []
        local.fetchSockets(options) { mine = $0 }
        gather(mine, ask: { twin in
            var found: [RemoteSocket] = []
            twin?.local.fetchSockets(options) { found = $0.map(\.described) }
            return found
        }, combine: { $0 += $1 }, completion: completion)
    }

    func addSockets(_ options: BroadcastOptions, rooms: [String]) {
        if upstream, !options.flags.local {
            toUpstream { $0.addSockets(options, rooms: rooms) }
            return
        }
        onOtherLoops { $0?.local.addSockets(options, rooms: rooms) }
        local.addSockets(options, rooms: rooms)
    }

    func deleteSockets(_ options: BroadcastOptions, rooms: [String]) {
        if upstream, !options.flags.local {
            toUpstream { $0.deleteSockets(options, rooms: rooms) }
            return
        }
        onOtherLoops { $0?.local.deleteSockets(options, rooms: rooms) }
        local.deleteSockets(options, rooms: rooms)
    }

    func disconnectSockets(_ options: BroadcastOptions, close: Bool) {
        if upstream, !options.flags.local {
            toUpstream { $0.disconnectSockets(options, close: close) }
            return
        }
        onOtherLoops { $0?.local.disconnectSockets(options, close: close) }
        local.disconnectSockets(options, close: close)
    }

    /// The process is one server to the others; client counts of its loops are reported as one.
    func serverCount(_ completion: @escaping (Int) -> Void) {
        guard upstream else {
            completion(1)
            return
        }
        toUpstream { [self] in $0.serverCount { count in self.back { completion(count) } } }
    }

    // MARK: Connection state recovery

    func liveSessions(_ completion: @escaping ([LiveSession]) -> Void) {
        gather(local.liveSessions(), ask: { $0?.local.liveSessions() ?? [] }, combine: { $0 += $1 }, completion: completion)
    }

    func closeSuperseded(sid: String, token: String) {
        onOtherLoops { $0?.local.closeSuperseded(sid: sid, token: token) }
        local.closeSuperseded(sid: sid, token: token)
    }

    func keepLiveSession(_ live: LiveSession) {
        if upstreamKeepsSessions { toUpstream { $0.keepLiveSession(live) } }
    }

    func dropLiveSession(pid: String, token: String) {
        if upstreamKeepsSessions { toUpstream { $0.dropLiveSession(pid: pid, token: token) } }
    }

    func persistSession(_ session: PersistedSession) {
        if upstreamKeepsSessions {
            toUpstream { $0.persistSession(session) }
        } else {
            local.persistSession(session)
        }
    }

    /// Here first; else the loop that kept the session (the client's last connection may have been served by any
    /// loop) restores it with the packets it sent after `offset`, in the order it sent them. A cluster adapter
    /// that keeps sessions restores them itself.
    func restoreSession(pid: String, offset: String?, completion: @escaping (RecoveredSession?) -> Void) {
        if upstreamKeepsSessions {
            toUpstream { [self] in $0.restoreSession(pid: pid, offset: offset) { restored in
                self.back { completion(restored) }
            } }
            return
        }
        if let restored = local.restoreSession(pid: pid, offset: offset) {
            completion(restored)
            return
        }
        let mark = local.logSerial
        gather(nil, ask: { $0?.local.restoreSession(pid: pid, offset: offset) }, combine: { $0 = $0 ?? $1 }) {
            [self] found in
            completion(found.map { closingTheCrossing($0, offset: offset, loggedHereSince: mark) })
        }
    }

    /// A restore another loop answered from its log. Broadcasts reach every loop, in the same order from one
    /// sender, but not at the same moment: one that this loop logged (and delivered without this socket) after
    /// asking may have reached the keeper only after it answered, so it is missing from the replay: it is
    /// added; one in the replay may not have reached this loop yet: the socket skips it when it comes. Without
    /// both, a broadcast crossing the restore was lost or delivered twice (jitter scenario on 2 loops).
    private func closingTheCrossing(_ found: RecoveredSession, offset: String?, loggedHereSince mark: Int)
        -> RecoveredSession {
        guard let offset, let replayed = found.missedOffsets, replayed.count == found.missedPackets.count else {
            return found
        }
        var result = found
        let inReplay = Set(replayed)
        let missing = local.packets(since: mark, reaching: found.session).filter { !inReplay.contains($0.offset) }
        result.missedPackets += missing.map(\.event)
        result.missedOffsets = replayed + missing.map(\.offset)
        local.expectReplayed(local.notYetHere(replayed, after: offset), socketID: found.session.sid)
        return result
    }

    func close() { local.close() }
}

extension RemoteSocket {
    /// The same description without the live socket (for another loop, which must not touch it).
    var described: RemoteSocket { RemoteSocket(id: id, handshake: handshake, rooms: rooms, data: data) }
}

extension EncodedPacket {
    /// The same packet for one other loop: shared bytes, message objects of its own.
    func copyForAnotherLoop() -> EncodedPacket {
        EncodedPacket(messages: messages.map { $0.copyForAnotherLoop() })
    }
}

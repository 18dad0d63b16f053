import SIOLoop
import SocketIO
import SocketIORedis

// Connection state recovery across nodes, kept in Redis as the reference keeps it (lib/adapter.ts
// `persistSession` / `restoreSession`): the session under `<sessionKeyPrefix><pid>` for maxDisconnectionDuration,
// read and deleted at once on restore, and the packets the client missed replayed from the stream after its
// offset, filtered as the reference filters them (this namespace, BROADCAST, `shouldIncludePacket`).
//
// Beyond the reference:
// - where the socket joined the log is kept beside the session, under `<session key>#since` (the session value
//   stays byte for byte the reference's), so a client that never received an event (no offset: socket.io #4888,
//   #5538) recovers too, with everything logged for it since it joined;
// - the replay reads the stream in pages until it is past what this node's reader handed on, and the restored
//   socket skips live deliveries the replay covered: every missed packet arrives once, in order, however the
//   replay and the live stream cross.

extension RedisStreamsAdapter {
    /// Stream entries per XRANGE of a replay, and how many XRANGEs one restore may make (the reference stops after
    /// 100 calls too, so a stream written faster than it is read cannot hold a restore forever).
    static let replayPage = 1000
    static let replayCalls = 100

    func sessionKey(_ pid: String) -> String { options.sessionKeyPrefix + pid }
    func sinceKey(_ pid: String) -> String { sessionKey(pid) + "#since" }

    public func persistSession(_ session: PersistedSession) {
        guard let recovery, recovery.maxDisconnectionDuration > 0 else { return }
        if keepsConnectedSessions, session.token != nil {
            // Kept since the socket joined: written once more, unless a client that came back elsewhere took it.
            write(session, conditional: true, ttl: recovery.maxDisconnectionDuration)
            return
        }
        let record = SessionRecord(session)
        let ttl = Array(String(recovery.maxDisconnectionDuration).utf8)
        let log = log
        let kept = client.redis.command(
            [Array("SET".utf8), Array(sessionKey(session.pid).utf8), record.encoded(), Array("PX".utf8), ttl]
        ) { reply in
            if reply == nil || reply?.isError == true { log.warn("session of \(session.sid) not kept: Redis did not take it") }
        }
        if !kept { log.warn("session of \(session.sid) not kept: not connected to \(client.endpoint)") }
        if let since = session.since {
            client.redis.command([Array("SET".utf8), Array(sinceKey(session.pid).utf8), Array(since.description.utf8),
                                  Array("PX".utf8), ttl], reply: nil)
        }
    }

    /// Milliseconds a restore waits for the command connection (a node just started, or reconnecting).
    static let restoreWaitsForRedis: UInt64 = 3000

    public func restoreSession(pid: String, offset: String?, completion: @escaping (RecoveredSession?) -> Void) {
        guard recovery != nil, !closed else {
            completion(nil)
            return
        }
        client.whenConnected(within: RedisStreamsAdapter.restoreWaitsForRedis) { [self] connected in
            guard connected, !closed else {
                completion(nil)
                return
            }
            restore(pid: pid, offset: offset, completion: completion)
        }
    }

    private func restore(pid: String, offset: String?, completion: @escaping (RecoveredSession?) -> Void) {
        var start: LogPosition?
        if let offset {
            // The reference's check (`/^[0-9]+-[0-9]+$/`) before anything is asked.
            guard let position = LogPosition(offset) else {
                log.debug("restore \(pid.prefix(4))…: invalid offset")
                completion(nil)
                return
            }
            start = position
        }
        // The session and its join point, read and removed at once (MULTI GET DEL, the reference's GETDEL).
        let commands: [[String]] = [["MULTI"], ["GET", sessionKey(pid)], ["DEL", sessionKey(pid)], ["GET", sinceKey(pid)],
                                    ["DEL", sinceKey(pid)]]
        for command in commands { client.redis.command(command.map { Array($0.utf8) }, reply: nil) }
        let sent = client.redis.command([Array("EXEC".utf8)]) { [self] reply in
            guard case .array(let results)? = reply, results.count == 4,
                  let record = results[0].bytes.flatMap({ SessionRecord(decoding: $0) }), record.pid == pid else {
                log.debug("restore \(pid.prefix(4))…: no session")
                completion(nil)
                return
            }
            // `<join point>[ <token>]`: the token of the socket that held it, when kept while connected.
            let since = results[2].bytes.flatMap { value in
                LogPosition(String(decoding: value.prefix { $0 != UInt8(ascii: " ") }, as: UTF8.self))
            }
            guard let from = start ?? since else {
                // No offset and no join point (a session a Node node kept): the session comes back, with nothing
                // to replay that could be known.
                completion(restored(record, missed: [], through: nil))
                return
            }
            whenStillLogged(from) { [self] found in
                guard found else {
                    log.debug("restore \(pid.prefix(4))…: \(from) is no longer in the stream")
                    completion(nil)
                    return
                }
                replay(record, after: from, missed: [], calls: 0, completion: completion)
            }
        }
        if !sent { completion(nil) }
    }

    /// Whether the entry at `position` is still in the stream (the reference's second check: if it was trimmed,
    /// so may what followed it). The start of an empty stream, 0-0, always is.
    private func whenStillLogged(_ position: LogPosition, _ completion: @escaping (Bool) -> Void) {
        guard position != .zero else {
            completion(true)
            return
        }
        let id = Array(position.description.utf8)
        let sent = client.redis.command([Array("XRANGE".utf8), Array(streamName.utf8), id, id]) { reply in
            completion(reply.map { !StreamEntry.entries(ofRange: $0).isEmpty } ?? false)
        }
        if !sent { completion(false) }
    }

    /// Reads the stream after `position` page by page, keeping what the session missed, until past both the
    /// stream's end and what this node's reader has handed on (later entries then reach the socket live).
    private func replay(_ record: SessionRecord, after position: LogPosition, missed: [OutgoingEvent], calls: Int,
                        completion: @escaping (RecoveredSession?) -> Void) {
        let sent = client.redis.command([
            Array("XRANGE".utf8), Array(streamName.utf8), Array(position.next.description.utf8), Array("+".utf8),
            Array("COUNT".utf8), Array(String(RedisStreamsAdapter.replayPage).utf8),
        ]) { [self] reply in
            guard let reply, !reply.isError else {
                completion(nil)
                return
            }
            let entries = StreamEntry.entries(ofRange: reply)
            var missed = missed
            let rooms = Set(record.rooms).union([record.sid])
            for entry in entries {
                if let event = missedEvent(entry, rooms: rooms) { missed.append(event) }
            }
            let last = entries.last?.id ?? position
            let more = entries.count == RedisStreamsAdapter.replayPage || reader.lastRead.map { $0 > last } ?? false
            if more, calls + 1 < RedisStreamsAdapter.replayCalls {
                replay(record, after: last, missed: missed, calls: calls + 1, completion: completion)
                return
            }
            if more {
                log.warn("restore of \(record.sid): stopped after \(RedisStreamsAdapter.replayCalls) reads of the "
                         + "stream; what was logged after \(last) is not replayed")
            }
            completion(restored(record, missed: missed, through: last))
        }
        if !sent { completion(nil) }
    }

    /// The entry as the event to replay, when it is a broadcast of this namespace for these rooms: its data with
    /// the entry id appended (`packet.data.push(entry.id)`).
    private func missedEvent(_ entry: StreamEntry, rooms: Set<String>) -> OutgoingEvent? {
        // The reference compares the raw fields: `entry.message.nsp === this.nsp.name && entry.message.type === "3"`.
        guard entry.field("nsp") == Array(namespace.name.utf8), entry.field("type") == Array("3".utf8),
              let message = ClusterMessage(streamFields: entry.fields), let broadcast = ReceivedBroadcast(message.data),
              shouldInclude(rooms: rooms, broadcast.options) else { return nil }
        return broadcast.event(offset: entry.id.description)
    }

    private func restored(_ record: SessionRecord, missed: [OutgoingEvent], through: LogPosition?) -> RecoveredSession {
        let session = PersistedSession(sid: record.sid, pid: record.pid, rooms: record.rooms.filter { $0 != record.sid },
                                       data: record.data, since: through)
        return RecoveredSession(session: session, missedPackets: missed, replayedThrough: through)
    }
}

extension StreamEntry {
    /// The value of field `name` (the last one, if repeated).
    func field(_ name: String) -> [UInt8]? {
        let key = Array(name.utf8)
        return fields.last { $0.key == key }?.value
    }
}

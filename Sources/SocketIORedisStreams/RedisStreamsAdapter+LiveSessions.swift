import SIOLoop
import SocketIO
import SocketIORedis

// Sessions kept while their sockets are connected (`keepsConnectedSessions`), so that a node's death loses none:
// the reference writes a session only when its socket leaves, so the clients of a node that crashes start fresh.
//
// The session key holds the reference's value, always; the `#since` key beside it holds where the socket joined
// the log and, after a space, the socket's token: its hold on the session. A socket claims the session when it
// joins; every later write (rooms changed, the periodic refresh, the final write when it leaves) goes through only
// while the token is still its own (or nothing is there: a claim that never reached Redis is made again). A client that came back elsewhere took the
// session (read and deleted it, as a restore does, then claimed it with its new socket), so the old socket's next
// write fails, and that socket leaves without writing it again (socket.io #4880, across nodes). While connected a
// session lives `maxDisconnectionDuration` + two refreshes, so it still has `maxDisconnectionDuration` to go when
// its node dies.

extension RedisStreamsAdapter {
    /// Writes the session and the join point with the socket's token. A write that is not a claim is refused (0)
    /// when another socket holds the session (its token beside it) or when a restore deleted the session but not
    /// the join point (a Node node's restore); with neither key (never claimed while Redis was away, expired, a
    /// Redis that restarted empty) it claims again. 1 when written.
    static let keepScript = """
        if ARGV[5] == '1' then
          local held = redis.call('GET', KEYS[2])
          if held then
            local suffix = ' ' .. ARGV[3]
            if string.sub(held, -string.len(suffix)) ~= suffix or redis.call('EXISTS', KEYS[1]) == 0 then
              return 0
            end
          end
        end
        redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[4])
        redis.call('SET', KEYS[2], ARGV[2] .. ' ' .. ARGV[3], 'PX', ARGV[4])
        return 1
        """

    /// Deletes both keys while the token is the socket's. 1 when deleted.
    static let dropScript = """
        local held = redis.call('GET', KEYS[2])
        local suffix = ' ' .. ARGV[1]
        if held and string.sub(held, -string.len(suffix)) == suffix then
          redis.call('DEL', KEYS[1], KEYS[2])
          return 1
        end
        return 0
        """

    var keepsConnectedSessions: Bool { recovery != nil && options.keepsConnectedSessions }

    var sessionRefreshInterval: UInt64 {
        options.sessionRefreshInterval ?? min(30_000, max(1000, (recovery?.maxDisconnectionDuration ?? 0) / 4))
    }

    public func keepLiveSession(_ live: LiveSession) {
        guard keepsConnectedSessions, let recovery, !closed else { return }
        write(live.session, conditional: !live.claim, ttl: recovery.maxDisconnectionDuration + 2 * sessionRefreshInterval)
    }

    public func dropLiveSession(pid: String, token: String) {
        guard keepsConnectedSessions, !closed else { return }
        client.redis.command([Array("EVAL".utf8), Array(RedisStreamsAdapter.dropScript.utf8), Array("2".utf8),
                              Array(sessionKey(pid).utf8), Array(sinceKey(pid).utf8), Array(token.utf8)], reply: nil)
    }

    /// The reference's value under the session key, the join point and token beside it (see the file comment).
    func write(_ session: PersistedSession, conditional: Bool, ttl: UInt64) {
        guard let token = session.token else { return }
        let record = SessionRecord(session)
        let arguments: [[UInt8]] = [
            Array("EVAL".utf8), Array(RedisStreamsAdapter.keepScript.utf8), Array("2".utf8),
            Array(sessionKey(session.pid).utf8), Array(sinceKey(session.pid).utf8),
            record.encoded(), Array((session.since?.description ?? "-").utf8), Array(token.utf8),
            Array(String(max(ttl, 1)).utf8), Array((conditional ? "1" : "0").utf8),
        ]
        let sid = session.sid
        let sent = client.redis.command(arguments) { [self] reply in
            switch reply {
            case .integer(0)?:
                // Taken by a client that came back elsewhere: this socket is the past.
                log.info("session of \(sid) was taken over by a client that came back elsewhere; closing the old socket")
                local.closeSuperseded(sid: sid, token: token)
            case .error(let message)?:
                log.warn("session of \(sid) not kept: \(message)")
            default:
                break
            }
        }
        if !sent { log.debug("session of \(sid) not kept: not connected to \(client.endpoint)") }
    }

    /// Every `sessionRefreshInterval`, each connected socket's session again: its data, and its expiry pushed on.
    func refreshLiveSessions(now: UInt64) {
        guard keepsConnectedSessions, now >= lastSessionRefresh + sessionRefreshInterval else { return }
        lastSessionRefresh = now
        local.liveSessions { [self] sessions in
            for live in sessions { keepLiveSession(live) }
        }
    }
}

import EngineIO
import SIOHTTP
import SIOLoop

/// The loops of a multi-loop server, one `SocketIOServer` (a shard) on each, as Seastar's `sharded<T>`: each
/// shard owns its connections and all their state, and reaches another only by a message on that loop's submit
/// queue. The first shard is the server the application made, on the application's loop; the others run on
/// loops of their own, which start, stop and end with the first (`EventLoop.addCompanion`).
final class ShardGroup {
    /// Every loop's server, the first included, held unowned: the first server owns the group and the group owns
    /// the others (`madeHere`), so no reference cycle keeps a stopped server alive. Written while the group is set
    /// up, before any loop of it runs; read-only afterwards.
    private(set) var members: [ShardMember] = []
    private var madeHere: [SocketIOServer] = []
    /// The servers in loop order (an array built per call: for setting up, not for the hot path).
    var shards: [SocketIOServer] { members.map(\.server) }
    var count: Int { members.count }
    /// The HTTP servers, one per loop, once the server listens or is attached.
    var http: HTTPServerGroup?
    /// Room events per namespace name (RoomCensus.swift): made on first use by any loop.
    var censuses: [String: RoomCensus] = [:]
    let censusLock = Lock()
    private let log = Logger("socket.io:loops")

    /// Makes `count - 1` more loops with a server each, beside `primary`.
    func build(primary: SocketIOServer, count: Int) {
        var loops: [EventLoop] = []
        for index in 1..<count {
            do {
                loops.append(try EventLoop())
            } catch {
                log.error("could not make loop \(index): \(error); serving with \(loops.count + 1)")
                break
            }
        }
        for loop in loops { primary.loop.addCompanion(loop) }
        build(primary: primary, loops: loops, owning: true)
    }

    /// A server on each of `loops` beside `primary`; with `owning`, each keeps its loop alive.
    func build(primary: SocketIOServer, loops: [EventLoop], owning: Bool = false) {
        members = [ShardMember(server: primary)]
        for (offset, loop) in loops.enumerated() {
            let shard = SocketIOServer(loop: loop, options: primary.options, group: self, index: offset + 1)
            if owning { shard.ownedLoop = loop }
            madeHere.append(shard)
            members.append(ShardMember(server: shard))
        }
        for member in members {
            member.server.engine.shard = EngineServer.Shard(
                index: member.server.loopIndex, count: members.count,
                transfer: { [unowned self] in http?.transfer($0, to: $1) },
                peer: { [unowned self] in members.indices.contains($0) ? members[$0].server.engine : nil })
        }
        primary.engine.siblings = madeHere.map(\.engine)
    }

    /// The shard whose loop is running the calling thread.
    var current: SocketIOServer? {
        guard let loop = EventLoop.current else { return nil }
        return members.first { $0.server.loop === loop }?.server
    }
}

/// A server of the group, not retained (see `ShardGroup.members`).
struct ShardMember {
    unowned(unsafe) let server: SocketIOServer
}

import EngineIO
import SIOHTTP
import SIOLoop

/// The loops of a multi-loop server, one `SocketIOServer` (a shard) on each, as Seastar's `sharded<T>`: each
/// shard owns its connections and all their state, and reaches another only by a message on that loop's submit
/// queue. The first shard is the server the application made, on the application's loop; the others run on
/// loops of their own, which start, stop and end with the first (`EventLoop.addCompanion`).
final class ShardGroup {
    /// Written while the group is set up, before any loop of it runs; read-only afterwards.
    private(set) var shards: [SocketIOServer] = []
    /// The HTTP servers, one per loop, once the server listens or is attached.
    var http: HTTPServerGroup?
    private let log = Logger("socket.io:loops")

    /// Makes `count - 1` more loops with a server each, beside `primary`.
    func build(primary: SocketIOServer, count: Int) {
        shards = [primary]
        for index in 1..<count {
            let loop: EventLoop
            do {
                loop = try EventLoop()
            } catch {
                log.error("could not make loop \(index): \(error); serving with \(shards.count)")
                break
            }
            shards.append(SocketIOServer(loop: loop, options: primary.options, group: self, index: index))
            primary.loop.addCompanion(loop)
        }
        for shard in shards {
            shard.engine.shard = EngineServer.Shard(index: shard.loopIndex, count: shards.count) { [unowned self] in
                http?.transfer($0, to: $1)
            }
        }
        primary.engine.siblings = Array(shards.dropFirst().map(\.engine))
    }

    /// The shard whose loop is running the calling thread.
    var current: SocketIOServer? {
        guard let loop = EventLoop.current else { return nil }
        return shards.first { $0.loop === loop }
    }
}

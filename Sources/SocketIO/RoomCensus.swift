import SIOLoop

/// Room events of one namespace across the loops of a multi-loop server, so that the application sees the
/// process's rooms, as with one loop: a room is `created` when the first loop gets a member and `deleted` when the
/// last loop loses its last one; joins and leaves are reported as they happen. Every report of the namespace goes
/// through one lock, so all loops' events reach the handlers in one order (a handler runs on the loop of the
/// socket it is about, one at a time). Only used while someone listens for room events.
final class RoomCensus: @unchecked Sendable {
    private let lock = RecursiveLock()
    /// How many loops have the room (each loop's adapter reports its own created / deleted).
    private var loopsWithRoom: [String: Int] = [:]

    /// Reports `event`, seen by one loop's adapter, to that loop's `handlers` as the process sees it.
    func report(_ event: RoomEvent, to handlers: [(RoomEvent) -> Void]) {
        lock.withLock {
            switch event {
            case .created(let room):
                loopsWithRoom[room, default: 0] += 1
                guard loopsWithRoom[room] == 1 else { return }
            case .deleted(let room):
                guard let count = loopsWithRoom[room] else { return }
                if count > 1 {
                    loopsWithRoom[room] = count - 1
                    return
                }
                loopsWithRoom.removeValue(forKey: room)
            case .joined, .left:
                break
            }
            for handler in handlers { handler(event) }
        }
    }
}

extension ShardGroup {
    /// The census of namespace `name`, shared by its twins on every loop.
    func roomCensus(_ name: String) -> RoomCensus {
        censusLock.withLock {
            if let existing = censuses[name] { return existing }
            let census = RoomCensus()
            censuses[name] = census
            return census
        }
    }
}

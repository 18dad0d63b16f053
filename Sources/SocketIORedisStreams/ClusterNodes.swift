/// The other nodes known to heartbeat, and when each was last heard from (ClusterAdapterWithHeartbeat's
/// `nodesMap`). Only a node that sent a heartbeat is tracked: Node's 0.3 adapter sends none, and a node that
/// never does cannot be told dead by its silence.
struct ClusterNodes {
    private var lastHeard: [String: UInt64] = [:]

    /// Something arrived from `uid`: a heartbeat makes it tracked, anything else keeps a tracked node alive.
    mutating func heard(_ uid: String, heartbeat: Bool, now: UInt64) {
        if heartbeat || lastHeard[uid] != nil { lastHeard[uid] = now }
    }

    /// Forgets `uid` (it said goodbye, or went silent); false when it was not tracked.
    @discardableResult
    mutating func remove(_ uid: String) -> Bool { lastHeard.removeValue(forKey: uid) != nil }

    /// The tracked nodes silent for more than `timeout` milliseconds.
    func silent(now: UInt64, timeout: UInt64) -> [String] {
        lastHeard.filter { now > $0.value + timeout }.map(\.key)
    }

    var live: Set<String> { Set(lastHeard.keys) }
    var count: Int { lastHeard.count }
}

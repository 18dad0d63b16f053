/// What one loop's namespace has counted since it was made: plain integers owned by the loop thread (no lock, no
/// atomic), read on that thread by a metrics scrape, which takes a copy (a value) and gathers every loop's copy
/// through the loops' submit queues (ServerMetrics.swift).
public struct NamespaceCounters: Sendable {
    /// Sockets that joined the namespace.
    public internal(set) var connections: UInt64 = 0
    /// Sockets that left, by `DisconnectReason.allCases` index.
    public internal(set) var disconnections = [UInt64](repeating: 0, count: DisconnectReason.allCases.count)
    /// Broadcasts emitted from this loop (`io.emit`, `to(room).emit`, ...).
    public internal(set) var broadcasts: UInt64 = 0
    /// Packets handed to this loop's sockets by broadcasts (from any loop or node).
    public internal(set) var deliveries: UInt64 = 0
    /// Acknowledgements that did not come in time (a socket's, or a broadcast's collection).
    public internal(set) var acksTimedOut: UInt64 = 0
    /// Connection state recovery: clients that came back with a session, restored or not.
    public internal(set) var recovered: UInt64 = 0
    public internal(set) var notRecovered: UInt64 = 0

    init() {}

    mutating func left(_ reason: DisconnectReason) {
        if let index = DisconnectReason.allCases.firstIndex(of: reason) { disconnections[index] &+= 1 }
    }
}

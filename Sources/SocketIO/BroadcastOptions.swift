/// Which sockets a broadcast or a cross-socket operation reaches.
public struct BroadcastOptions: Sendable {
    /// Sockets in any of these rooms; every socket of the namespace when empty.
    public var rooms: Set<String> = []
    /// Sockets in any of these rooms are left out.
    public var except: Set<String> = []
    public var flags = BroadcastFlags()

    public init(rooms: Set<String> = [], except: Set<String> = [], flags: BroadcastFlags = BroadcastFlags()) {
        self.rooms = rooms
        self.except = except
        self.flags = flags
    }
}

public struct BroadcastFlags: Sendable {
    /// Drop the packet for recipients that cannot take it now.
    public var volatile = false
    /// Allow compression of the packet.
    public var compress = true
    /// Only this node (an adapter spanning several servers does not forward it).
    public var local = false
    /// Milliseconds to wait for acknowledgements of a broadcast.
    public var timeout: UInt64?

    public init() {}
}

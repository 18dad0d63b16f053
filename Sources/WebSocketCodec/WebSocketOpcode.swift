/// The frame types of RFC 6455 section 5.2. Values 3-7 and 11-15 are reserved; a frame using one of them is a
/// protocol error, which is why they have no case here (`WebSocketOpcode(rawValue:)` returns nil for them).
public enum WebSocketOpcode: UInt8, Sendable {
    case continuation = 0
    case text = 1
    case binary = 2
    case close = 8
    case ping = 9
    case pong = 10

    /// Control frames (close, ping, pong) have the high bit of the opcode set. They may interleave with the
    /// fragments of a data message, must not be fragmented and carry at most 125 bytes (RFC 6455 5.5).
    public var isControl: Bool { rawValue & 0x8 != 0 }
}

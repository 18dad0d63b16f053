/// The seven Socket.IO v5 packet types; the raw value is the digit that starts the packet on the wire.
public enum SocketIOPacketType: UInt8, Sendable, CaseIterable {
    case connect = 0
    case disconnect = 1
    case event = 2
    case ack = 3
    case connectError = 4
    case binaryEvent = 5
    case binaryAck = 6

    /// Binary types carry an attachment count in their header and are followed by that many binary messages.
    @inlinable
    public var isBinary: Bool { self == .binaryEvent || self == .binaryAck }
}

/// One Socket.IO packet, as decoded from (or to be encoded into) one Engine.IO text message plus its binary
/// attachments.
///
/// The payload stays raw JSON bytes: the server hands arguments to the application without building a tree
/// (see `SocketIOEventArguments` and `JSONScanner`), and `JSONValue` exists for callers who want values.
public struct SocketIOPacket: Equatable, Sendable {
    public var type: SocketIOPacketType
    /// The namespace; "/" when absent on the wire.
    public var namespace: String
    /// The acknowledgement id; nil when absent.
    public var ackId: UInt64?
    /// The raw JSON after the header (nil when absent), binary placeholders left in place.
    public var payload: [UInt8]?
    /// The binary attachments, in order; empty unless the type is binary.
    public var attachments: [[UInt8]]
    /// EVENT and ACK from the msgpack parser: the arguments' own bytes, when they can be sent on as they are.
    public var packedArguments: PackedArguments?

    public init(
        type: SocketIOPacketType, namespace: String = "/", ackId: UInt64? = nil, payload: [UInt8]? = nil,
        attachments: [[UInt8]] = [], packedArguments: PackedArguments? = nil
    ) {
        self.type = type
        self.namespace = namespace
        self.ackId = ackId
        self.payload = payload
        self.attachments = attachments
        self.packedArguments = packedArguments
    }
}

/// Event names with a special meaning in the reference implementation, which the server refuses from clients
/// (an EVENT whose name is one of these is an "invalid payload", as in the reference parser).
public let socketIOReservedEvents: Set<String> = [
    "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener",
]

/// The reserved names as UTF-8, so the decoder can refuse them by comparing bytes, without making a String.
let socketIOReservedEventBytes: [[UInt8]] = socketIOReservedEvents.map { Array($0.utf8) }

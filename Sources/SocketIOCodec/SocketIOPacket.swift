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
    /// EVENT and ACK from the msgpack parser's fast path: the arguments' own bytes, which `payload` and `attachments`
    /// are read from when asked (`Socket` hands them to handlers without reading them).
    public private(set) var packedArguments: PackedArguments?
    private var storedPayload: [UInt8]?
    private var storedAttachments: [[UInt8]]

    public init(
        type: SocketIOPacketType, namespace: String = "/", ackId: UInt64? = nil, payload: [UInt8]? = nil,
        attachments: [[UInt8]] = []
    ) {
        self.type = type
        self.namespace = namespace
        self.ackId = ackId
        self.storedPayload = payload
        self.storedAttachments = attachments
    }

    /// An EVENT or ACK whose arguments stay in their message until read.
    public init(type: SocketIOPacketType, namespace: String, ackId: UInt64?, packedArguments: PackedArguments) {
        self.init(type: type, namespace: namespace, ackId: ackId)
        self.packedArguments = packedArguments
    }

    /// The raw JSON after the header (nil when absent), binary placeholders left in place.
    public var payload: [UInt8]? {
        get { packedArguments.map(\.payload) ?? storedPayload }
        set {
            unpack()
            storedPayload = newValue
        }
    }

    /// The binary attachments, in order; empty unless the type is binary (or the msgpack parser's data holds some).
    public var attachments: [[UInt8]] {
        get { packedArguments?.arguments.attachments ?? storedAttachments }
        set {
            unpack()
            storedAttachments = newValue
        }
    }

    /// Before a change: the packed arguments become stored ones, which the change then edits.
    private mutating func unpack() {
        guard let packed = packedArguments else { return }
        storedPayload = packed.payload
        storedAttachments = packed.arguments.attachments
        packedArguments = nil
    }

    /// The same packet, however its arguments are kept.
    public static func == (lhs: SocketIOPacket, rhs: SocketIOPacket) -> Bool {
        lhs.type == rhs.type && lhs.namespace == rhs.namespace && lhs.ackId == rhs.ackId
            && lhs.payload == rhs.payload && lhs.attachments == rhs.attachments
    }
}

/// Event names with a special meaning in the reference implementation, which the server refuses from clients
/// (an EVENT whose name is one of these is an "invalid payload", as in the reference parser).
public let socketIOReservedEvents: Set<String> = [
    "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener",
]

/// The reserved names as UTF-8, so the decoders can refuse them by comparing bytes, without making a String.
let socketIOReservedEventBytes: [[UInt8]] = socketIOReservedEvents.map { Array($0.utf8) }

/// Whether `name` (UTF-8) is one of `socketIOReservedEvents`, found without hashing a String.
public func isReservedEvent(utf8 name: UnsafeRawBufferPointer) -> Bool {
    for reserved in socketIOReservedEventBytes where reserved.count == name.count {
        if reserved.elementsEqual(name) { return true }
    }
    return false
}

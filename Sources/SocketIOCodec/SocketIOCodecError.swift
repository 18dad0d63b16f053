/// Why a Socket.IO packet or a JSON text was refused.
///
/// A plain struct with a reason text rather than an enum: the server only logs the reason and closes the
/// connection (as the reference server does on any parser error), so callers need no exhaustive switch, and new
/// reasons can be added without breaking them. The reasons the packet decoder produces are the named constants
/// below; their texts follow the reference parser's error messages.
public struct SocketIOCodecError: Error, Equatable, Hashable, Sendable, CustomStringConvertible {
    public var reason: String

    public init(reason: String) {
        self.reason = reason
    }

    public var description: String { reason }

    /// The first byte is not a packet type digit 0...6.
    public static let unknownPacketType = SocketIOCodecError(reason: "unknown packet type")
    /// The JSON after the header is malformed, or not of the shape the packet type requires.
    public static let invalidPayload = SocketIOCodecError(reason: "invalid payload")
    /// A binary packet's attachment count is missing, zero or not followed by "-", or a placeholder is malformed
    /// or points past the attachments received.
    public static let illegalAttachments = SocketIOCodecError(reason: "illegal attachments")
    /// A binary packet announces more attachments than `SocketIODecoderLimits.maxAttachments`.
    public static let tooManyAttachments = SocketIOCodecError(reason: "too many attachments")
    /// The acknowledgement id is not a run of at most 16 decimal digits.
    public static let invalidAckId = SocketIOCodecError(reason: "invalid ack id")
    /// The namespace is not valid UTF-8.
    public static let invalidNamespace = SocketIOCodecError(reason: "invalid namespace")
    /// A text message arrived while the attachments of a binary packet were still expected.
    public static let unexpectedText = SocketIOCodecError(reason: "got plaintext data when reconstructing a packet")
    /// A binary message arrived while no binary packet was waiting for attachments.
    public static let unexpectedBinary = SocketIOCodecError(reason: "got binary data when not reconstructing a packet")
    /// `JSONScanner.topLevelElements` was given a JSON text that is valid but not an array.
    public static let notAnArray = SocketIOCodecError(reason: "JSON text is not an array")
}

/// The fixed part of a frame as it appears on the wire (RFC 6455 5.2), decoded but not yet judged: the parser
/// decides what is allowed (masking, reserved bits, sizes) because that depends on its configuration and on the
/// message in progress.
struct WebSocketFrameHeader {
    /// Bit masks of the three reserved bits in the first byte; RSV1 marks a compressed message (RFC 7692).
    static let rsv1: UInt8 = 0x40
    static let rsv2: UInt8 = 0x20
    static let rsv3: UInt8 = 0x10

    /// The largest header: 2 fixed bytes, an 8-byte extended length and a 4-byte masking key.
    static let maximumLength = 14

    var isFinal: Bool
    /// The first byte masked to the RSV bits only, compared against `rsv1`...`rsv3`.
    var reservedBits: UInt8
    /// The raw 4-bit opcode; unknown values are kept so the parser can reject them by name.
    var opcodeValue: UInt8
    var isMasked: Bool
    /// The 7-bit length field: the length itself below 126, else a marker for the extended length that follows.
    var lengthCode: UInt8
    /// 2 to 14 bytes, known from the first two bytes alone.
    var headerLength: Int
    /// Valid only after `decode` saw the whole header.
    var payloadLength: UInt64 = 0
    /// Valid only after `decode` saw the whole header; nil for an unmasked frame.
    var mask: WebSocketMask? = nil

    /// The part of the header the first two bytes reveal, so a bad frame is refused before the rest arrives.
    init(firstByte: UInt8, secondByte: UInt8) {
        isFinal = firstByte & 0x80 != 0
        reservedBits = firstByte & 0x70
        opcodeValue = firstByte & 0x0F
        isMasked = secondByte & 0x80 != 0
        lengthCode = secondByte & 0x7F
        let extendedLengthSize = lengthCode == 126 ? 2 : (lengthCode == 127 ? 8 : 0)
        headerLength = 2 + extendedLengthSize + (isMasked ? 4 : 0)
    }

    /// The whole header at the start of `bytes`, or nil while fewer bytes than it needs have arrived.
    static func decode(_ bytes: UnsafeRawBufferPointer) -> WebSocketFrameHeader? {
        guard bytes.count >= 2 else { return nil }
        var header = WebSocketFrameHeader(firstByte: bytes[0], secondByte: bytes[1])
        guard bytes.count >= header.headerLength else { return nil }
        var cursor = 2
        switch header.lengthCode {
        case 126:
            header.payloadLength = UInt64(bytes[2]) << 8 | UInt64(bytes[3])
            cursor = 4
        case 127:
            var length: UInt64 = 0
            for position in 2..<10 {
                length = length << 8 | UInt64(bytes[position])
            }
            header.payloadLength = length
            cursor = 10
        default:
            header.payloadLength = UInt64(header.lengthCode)
        }
        if header.isMasked {
            header.mask = WebSocketMask(bytes[cursor], bytes[cursor + 1], bytes[cursor + 2], bytes[cursor + 3])
        }
        return header
    }
}

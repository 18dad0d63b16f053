/// Engine.IO v3 packets, as the reference's v3 parser (engine.io-parser 2.x, kept in engine.io as `parser-v3`)
/// reads and writes them. Text is `<type digit><data>` as in v4; binary differs: a binary packet carries its type
/// in its first byte (`0x04` + data for a message), and base64 text is `b<type digit><base64>`.
///
/// Packets the reference decodes to an unknown type (a binary packet whose first byte is not 0-6, `b` followed by
/// something else than a type digit) do nothing there: these decoders return nil for them.
public enum EngineV3Codec {
    /// A text packet: a WebSocket text frame, or one segment of a text payload. Throws for what the reference
    /// calls a parser error (no type digit, and, our choice as in v4, base64 outside the alphabet).
    public static func decodeText(_ bytes: ArraySlice<UInt8>) throws(EngineDecodeError) -> EnginePacket? {
        guard let first = bytes.first else { throw .empty }
        if first == UInt8(ascii: "b") {
            let rest = bytes.dropFirst()
            guard let type = rest.first.flatMap(packetType(digit:)) else { return nil }
            let text = rest.dropFirst()
            let decoded = text.withUnsafeBytes { Base64.decode($0) }
            guard let decoded else { throw .invalidBase64 }
            return EnginePacket(type: type, data: decoded, isBinary: true)
        }
        guard let type = packetType(digit: first) else { throw .unknownType(first) }
        return EnginePacket(type: type, data: Array(bytes.dropFirst()))
    }

    /// A binary packet: a WebSocket binary frame, or a binary segment of an XHR2 payload: `<type byte><data>`.
    public static func decodeBinary(_ bytes: ArraySlice<UInt8>) -> EnginePacket? {
        guard let first = bytes.first, first <= 6, let type = EnginePacketType(rawValue: first) else { return nil }
        return EnginePacket(type: type, data: Array(bytes.dropFirst()), isBinary: true)
    }

    /// A binary packet as a WebSocket binary frame carries it: the type byte, then the data.
    public static func appendBinary(_ type: EnginePacketType, _ data: [UInt8], to out: inout [UInt8]) {
        out.append(type.rawValue)
        out.append(contentsOf: data)
    }

    /// A binary packet as base64 text (`b64=1` clients): `b<type digit><base64>`.
    public static func appendBase64(_ type: EnginePacketType, _ data: [UInt8], to out: inout [UInt8]) {
        out.append(UInt8(ascii: "b"))
        out.append(type.wireByte)
        Base64.append(data, to: &out)
    }

    static func packetType(digit: UInt8) -> EnginePacketType? {
        guard digit >= UInt8(ascii: "0"), digit <= UInt8(ascii: "6") else { return nil }
        return EnginePacketType(rawValue: digit - UInt8(ascii: "0"))
    }
}

/// Engine.IO v4 packet types; on the wire each is one ASCII digit.
public enum EnginePacketType: UInt8, Sendable {
    case open = 0, close = 1, ping = 2, pong = 3, message = 4, upgrade = 5, noop = 6

    /// The ASCII digit that starts a text packet.
    @inline(__always) public var wireByte: UInt8 { UInt8(ascii: "0") + rawValue }
}

/// One decoded packet. `data` is the payload after the type digit (text) or the raw bytes (binary message).
public struct EnginePacket: Equatable, Sendable {
    public var type: EnginePacketType
    public var data: [UInt8]
    /// A binary message: a WebSocket binary frame, or a `b`-prefixed base64 segment over polling.
    public var isBinary: Bool

    public init(type: EnginePacketType, data: [UInt8] = [], isBinary: Bool = false) {
        self.type = type
        self.data = data
        self.isBinary = isBinary
    }
}

/// Why a packet could not be decoded (the error the decoders throw). Any of these closes the session with reason
/// "parse error".
public enum EngineDecodeError: Error, Equatable, Sendable {
    case empty
    case unknownType(UInt8)
    case invalidBase64
    case tooManyPackets
    /// Engine.IO v3 payload framing: a `<length>` that is not a length of what follows, a split character, or a
    /// binary segment header without its end.
    case invalidFraming
    /// Engine.IO v3 binary payload: a text segment that is not UTF-8 (the reference's utf8 decoder throws).
    case invalidUTF8
}

public enum EngineIOCodec {
    /// Separates packets in a polling payload (ASCII record separator).
    public static let recordSeparator: UInt8 = 0x1e

    /// Decodes a text packet: one WebSocket text frame, or one segment of a polling payload (where `b<base64>`
    /// carries binary).
    public static func decodeText(_ bytes: UnsafeRawBufferPointer) throws -> EnginePacket {
        guard let first = bytes.first else { throw EngineDecodeError.empty }
        if first == UInt8(ascii: "b") {
            guard let decoded = Base64.decode(UnsafeRawBufferPointer(rebasing: bytes.dropFirst())) else {
                throw EngineDecodeError.invalidBase64
            }
            return EnginePacket(type: .message, data: decoded, isBinary: true)
        }
        guard first >= UInt8(ascii: "0"), first <= UInt8(ascii: "6"),
              let type = EnginePacketType(rawValue: first - UInt8(ascii: "0")) else {
            throw EngineDecodeError.unknownType(first)
        }
        return EnginePacket(type: type, data: Array(bytes.dropFirst()))
    }

    /// A text segment of a polling payload. The body arrived as bytes; like the reference (which decodes it with
    /// Node's UTF-8 decoder), invalid sequences become U+FFFD, so text packets are always valid UTF-8.
    public static func decodePollingSegment(_ bytes: UnsafeRawBufferPointer) throws -> EnginePacket {
        var packet = try decodeText(bytes)
        if !packet.isBinary, String(validating: packet.data, as: UTF8.self) == nil {
            packet.data = Array(String(decoding: packet.data, as: UTF8.self).utf8)
        }
        return packet
    }

    public static func decodeText(_ bytes: [UInt8]) throws -> EnginePacket {
        do {
            return try bytes.withUnsafeBytes { raw throws in try decodeText(raw) }
        } catch {
            throw error
        }
    }

    /// Splits and decodes a polling request body. At most `maxPackets` packets (a body is already bounded by
    /// `maxHttpBufferSize`; this bounds the per-packet overhead of a body made of separators).
    public static func decodePayload(_ body: [UInt8], maxPackets: Int = 10_000) throws -> [EnginePacket] {
        var packets: [EnginePacket] = []
        var start = 0
        var failure: (any Error)?
        body.withUnsafeBytes { raw in
            var index = 0
            while index <= raw.count {
                if index == raw.count || raw[index] == recordSeparator {
                    if packets.count == maxPackets { failure = EngineDecodeError.tooManyPackets; return }
                    do {
                        packets.append(try decodePollingSegment(UnsafeRawBufferPointer(rebasing: raw[start..<index])))
                    } catch {
                        failure = error
                        return
                    }
                    start = index + 1
                }
                index += 1
            }
        }
        if let failure { throw failure }
        return packets
    }

    /// Appends a packet as a polling segment: `<type digit><text>` or `b<base64>` for binary.
    public static func appendPollingSegment(_ packet: EnginePacket, to out: inout [UInt8]) {
        if packet.isBinary {
            out.append(UInt8(ascii: "b"))
            Base64.append(packet.data, to: &out)
        } else {
            out.append(packet.type.wireByte)
            out.append(contentsOf: packet.data)
        }
    }

    /// Joins encoded segments into one polling response body.
    public static func joinPayload(_ segments: [[UInt8]]) -> [UInt8] {
        if segments.count == 1 { return segments[0] }
        var body: [UInt8] = []
        body.reserveCapacity(segments.reduce(segments.count) { $0 + $1.count })
        for (index, segment) in segments.enumerated() {
            if index > 0 { body.append(recordSeparator) }
            body.append(contentsOf: segment)
        }
        return body
    }

    /// The text of a packet as sent in a WebSocket text frame: `<type digit><data>`.
    public static func encodeText(_ type: EnginePacketType, _ data: [UInt8] = []) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(data.count + 1)
        out.append(type.wireByte)
        out.append(contentsOf: data)
        return out
    }
}

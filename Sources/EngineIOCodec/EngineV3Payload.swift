/// Engine.IO v3 polling payloads, read and written as the reference's v3 parser does (its `decodePayload`,
/// `decodePayloadAsBinary`, `encodePayload`, `encodePayloadAsBinary`):
///
/// - text: `<length>:<packet>` repeated, the length in UTF-16 code units (JavaScript's `String.length`: a
///   character outside the BMP counts 2), binary packets as `b<type digit><base64>`;
/// - XHR2 binary: per packet `0x00` (text) or `0x01` (binary), the length's decimal digits as byte values 0-9,
///   `0xFF`, then the packet (text as UTF-8, binary as type byte + data); the length counts bytes.
///
/// Decoding delivers what the reference delivers before it stops: the packets up to the first bad one (the
/// reference hands each packet on as it is read, then reports the error), and nothing after a close packet (its
/// polling transport stops reading there).
public enum EngineV3Payload {
    public struct Decoded: Equatable, Sendable {
        public var packets: [EnginePacket]
        /// Why decoding stopped early; the packets before it count.
        public var error: EngineDecodeError?
    }

    // MARK: Text payloads

    /// Decodes a text body (a POST without `application/octet-stream`, or a JSONP `d` value). Invalid UTF-8 is
    /// first repaired with U+FFFD, as Node's decoder does before the reference sees the string.
    public static func decodeText(_ body: [UInt8], maxPackets: Int = 10_000) -> Decoded {
        guard !body.isEmpty else { return Decoded(packets: [], error: .empty) }
        let text = String(validating: body, as: UTF8.self) != nil ? body : Array(String(decoding: body, as: UTF8.self).utf8)
        var packets: [EnginePacket] = []
        var lengthStart = 0
        var index = 0
        func fail(_ error: EngineDecodeError) -> Decoded { Decoded(packets: packets, error: error) }
        while index < text.count {
            guard text[index] == UInt8(ascii: ":") else {
                index += UTF16Length.sequenceLength(lead: text[index])
                continue
            }
            guard lengthStart < index else { return fail(.invalidFraming) }
            let length = JSNumber.parse(text[lengthStart..<index])
            // The reference compares the slice's length with Number(<length>): a whole number that fits.
            guard length >= 0, length <= Double(text.count), length == Double(Int(length)) else {
                return fail(.invalidFraming)
            }
            let units = Int(length)
            // Walk `units` UTF-16 units; a segment may end inside a surrogate pair, as JavaScript's slice allows.
            var end = index + 1
            var walked = 0
            var split = false
            while walked < units {
                guard end < text.count else { return fail(.invalidFraming) }
                let lead = text[end]
                if walked + UTF16Length.units(lead: lead) > units {
                    split = true
                    break
                }
                walked += UTF16Length.units(lead: lead)
                end += UTF16Length.sequenceLength(lead: lead)
            }
            if units > 0 {
                var segment = text[(index + 1)..<end]
                // The high half of a split pair stays in this packet, a lone surrogate: U+FFFD for us.
                if split { segment = ArraySlice(Array(segment) + [0xEF, 0xBF, 0xBD]) }
                let packet: EnginePacket?
                do { packet = try EngineV3Codec.decodeText(segment) } catch { return fail(error) }
                if let packet {
                    guard packets.count < maxPackets else { return fail(.tooManyPackets) }
                    packets.append(packet)
                    if packet.type == .close { return Decoded(packets: packets, error: nil) }
                }
            }
            // The low half of a split pair can only start a length that is not one.
            if split { return fail(.invalidFraming) }
            index = end
            lengthStart = end
        }
        return lengthStart < text.count ? fail(.invalidFraming) : Decoded(packets: packets, error: nil)
    }

    /// Appends one packet of a text payload: `<UTF-16 length>:<type digit><data>`, binary as `b<type><base64>`.
    public static func appendTextSegment(_ type: EnginePacketType, _ data: [UInt8], isBinary: Bool,
                                         to out: inout [UInt8]) {
        if isBinary {
            appendDecimal(2 + Base64.encodedCount(data.count), to: &out)
            out.append(UInt8(ascii: ":"))
            EngineV3Codec.appendBase64(type, data, to: &out)
        } else {
            appendDecimal(1 + UTF16Length.of(data), to: &out)
            out.append(UInt8(ascii: ":"))
            out.append(type.wireByte)
            out.append(contentsOf: data)
        }
    }

    // MARK: XHR2 binary payloads

    /// Decodes an `application/octet-stream` body, following the reference's reading of it byte for byte: the
    /// length is the concatenated decimal text of the header bytes (a byte 23 reads as "23"), at most about 310
    /// characters, a truncated last packet is taken as far as it goes, and a missing `0xFF` is an error.
    public static func decodeBinary(_ body: [UInt8], maxPackets: Int = 10_000) -> Decoded {
        var segments: [(isText: Bool, bytes: ArraySlice<UInt8>)] = []
        var tail = body[...]
        while !tail.isEmpty {
            let isText = tail[tail.startIndex] == 0
            var lengthCharacters = 0
            var length = 0
            var index = tail.startIndex + 1
            while true {
                if index < tail.endIndex, tail[index] == 0xFF { break }
                // The reference appends "undefined" past the end until its 310-character limit refuses.
                guard lengthCharacters <= 310, index < tail.endIndex else {
                    return Decoded(packets: [], error: .invalidFraming)
                }
                let byte = Int(tail[index])
                let width = byte < 10 ? 1 : byte < 100 ? 2 : 3
                lengthCharacters += width
                length = min(length * (width == 1 ? 10 : width == 2 ? 100 : 1000) + byte, 1 << 40)
                index += 1
            }
            // The reference skips as many bytes as the length had characters, then the 0xFF.
            tail = tail.dropFirst(lengthCharacters + 1)
            guard lengthCharacters > 0 else {
                // parseInt("") is NaN: an empty packet, and nothing more skipped.
                segments.append((isText, tail[tail.startIndex..<tail.startIndex]))
                continue
            }
            let start = min(tail.startIndex + 1, tail.endIndex)
            segments.append((isText, tail[start..<min(start + length, tail.endIndex)]))
            tail = tail.dropFirst(length + 1)
            if segments.count > maxPackets { return Decoded(packets: [], error: .tooManyPackets) }
        }
        var packets: [EnginePacket] = []
        for segment in segments {
            let packet: EnginePacket?
            if segment.isText {
                do { packet = try decodeBinaryPayloadText(segment.bytes) } catch {
                    return Decoded(packets: packets, error: error)
                }
            } else {
                packet = EngineV3Codec.decodeBinary(segment.bytes)
            }
            guard let packet else { continue }
            guard packets.count < maxPackets else { return Decoded(packets: packets, error: .tooManyPackets) }
            packets.append(packet)
            if packet.type == .close { break }
        }
        return Decoded(packets: packets, error: nil)
    }

    /// A text segment of a binary payload: each byte a character, `b…` base64 as is, anything else UTF-8
    /// decoded by the reference's utf8.js (non-strict: an encoded surrogate becomes U+FFFD, any other invalid
    /// sequence throws).
    static func decodeBinaryPayloadText(_ bytes: ArraySlice<UInt8>) throws(EngineDecodeError) -> EnginePacket? {
        if bytes.first == UInt8(ascii: "b") { return try EngineV3Codec.decodeText(bytes) }
        guard let text = utf8DecodingSurrogates(bytes) else { throw .invalidUTF8 }
        return try EngineV3Codec.decodeText(text[...])
    }

    /// UTF-8 as utf8.js decodes it without `strict`: the bytes with each encoded surrogate (ED A0-BF xx) replaced by
    /// U+FFFD; nil for overlong forms, stray or missing continuation bytes, and values above U+10FFFF.
    static func utf8DecodingSurrogates(_ bytes: ArraySlice<UInt8>) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        func continuation(_ at: Int) -> UInt32? {
            guard at < bytes.endIndex, bytes[at] & 0xC0 == 0x80 else { return nil }
            return UInt32(bytes[at] & 0x3F)
        }
        while index < bytes.endIndex {
            let lead = bytes[index]
            switch lead {
            case ..<0x80:
                out.append(lead)
                index += 1
            case 0xC0...0xDF:
                guard let b2 = continuation(index + 1), (UInt32(lead & 0x1F) << 6 | b2) >= 0x80 else { return nil }
                out.append(contentsOf: bytes[index..<(index + 2)])
                index += 2
            case 0xE0...0xEF:
                guard let b2 = continuation(index + 1), let b3 = continuation(index + 2) else { return nil }
                let value = UInt32(lead & 0x0F) << 12 | b2 << 6 | b3
                guard value >= 0x800 else { return nil }
                if (0xD800...0xDFFF).contains(value) {
                    out.append(contentsOf: [0xEF, 0xBF, 0xBD])
                } else {
                    out.append(contentsOf: bytes[index..<(index + 3)])
                }
                index += 3
            case 0xF0...0xF7:
                guard let b2 = continuation(index + 1), let b3 = continuation(index + 2),
                      let b4 = continuation(index + 3) else { return nil }
                let value = UInt32(lead & 0x07) << 18 | b2 << 12 | b3 << 6 | b4
                guard (0x10000...0x10FFFF).contains(value) else { return nil }
                out.append(contentsOf: bytes[index..<(index + 4)])
                index += 4
            default:
                return nil
            }
        }
        return out
    }

    /// Appends one packet of an XHR2 binary payload.
    public static func appendBinarySegment(_ type: EnginePacketType, _ data: [UInt8], isBinary: Bool,
                                           to out: inout [UInt8]) {
        out.append(isBinary ? 1 : 0)
        var digits: [UInt8] = []
        appendDecimal(1 + data.count, to: &digits)
        for digit in digits { out.append(digit - UInt8(ascii: "0")) }
        out.append(0xFF)
        out.append(isBinary ? type.rawValue : type.wireByte)
        out.append(contentsOf: data)
    }

    static func appendDecimal(_ value: Int, to out: inout [UInt8]) {
        out.append(contentsOf: String(value).utf8)
    }
}

// Harness `engineio_v3_payload`: the Engine.IO v3 polling payload decoders (EngineIOCodec/EngineV3Payload.swift):
// text bodies (`<length>:<packet>`, lengths in UTF-16 units as JavaScript's Number() reads them) and XHR2 binary
// bodies (`0x00|0x01 <digits> 0xFF <packet>`).
//
// Input: byte 0 bit 0 picks the decoder (0 text, 1 binary), bits 1-2 the packet limit (10000, 1, 2, 16); the
// rest is the body, in a heap block of exactly its size.
//
// Checked:
//  - a model written here on UTF-16 code units (the way the reference's JavaScript sees the body: `charAt`,
//    `slice`, `length`), independent of the decoder's UTF-8 walk, gives the same packets and the same verdict;
//    for binary bodies a model that builds the length string as JavaScript does (decimal text of each header
//    byte, "undefined" past the end, the 310-character limit, `parseInt`, the slices) agrees too;
//  - at most `limit` packets; text packets are valid UTF-8; no packet holds more bytes than the body justifies;
//  - without an error, the packets re-encoded (text, or binary segments) decode to the same packets.

let packetLimits = [10_000, 1, 2, 16]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size >= 1 else { return 0 }
    let config = data[0]
    let body = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let limit = packetLimits[Int(config >> 1 & 3)]
    if config & 1 == 0 { checkText(body, limit) } else { checkBinary(body, limit) }
    return 0
}

func describe(_ d: EngineV3Payload.Decoded) -> String { "\(d.packets.count) packets, error \(String(describing: d.error))" }

func checkCommon(_ decoded: EngineV3Payload.Decoded, _ body: [UInt8], _ limit: Int) {
    fuzzCheck(decoded.packets.count <= limit, "more packets than the limit")
    for packet in decoded.packets where !packet.isBinary {
        fuzzCheck(isValidUTF8(packet.data), "text packet with invalid UTF-8: \(hex(packet.data))")
    }
    fuzzCheck(decoded.packets.reduce(0) { $0 + $1.data.count } <= 3 * body.count + 3, "packets larger than the body")
}

// MARK: Text bodies

func checkText(_ body: [UInt8], _ limit: Int) {
    let decoded = body.withUnsafeBytes { raw in withExactCopy(raw) { EngineV3Payload.decodeText(Array($0), maxPackets: limit) } }
    verbose("text: \(describe(decoded))")
    let model = textModel(body, limit)
    fuzzCheck(decoded.packets == model.packets && (decoded.error == nil) == (model.error == nil),
              "text: decoder \(describe(decoded)), model \(describe(model)); input \(hex(body))")
    checkCommon(decoded, body, limit)
    guard decoded.error == nil else { return }
    var again: [UInt8] = []
    for p in decoded.packets { EngineV3Payload.appendTextSegment(p.type, p.data, isBinary: p.isBinary, to: &again) }
    let redecoded = EngineV3Payload.decodeText(again, maxPackets: limit)
    if !again.isEmpty {
        fuzzCheck(redecoded == .init(packets: decoded.packets, error: nil), "text payload does not survive re-encoding: \(hex(again))")
    }
}

/// The reference's decodePayload on UTF-16 units. A lone surrogate left in a packet becomes U+FFFD (the decoder's
/// documented mapping); base64 is the decoder's strict one.
func textModel(_ body: [UInt8], _ limit: Int) -> EngineV3Payload.Decoded {
    var packets: [EnginePacket] = []
    let s = Array(String(decoding: body, as: UTF8.self).utf16)
    if s.isEmpty { return .init(packets: [], error: .empty) }
    var length: [UInt16] = []
    var i = 0
    while i < s.count {
        let chr = s[i]
        if chr != 0x3A {
            length.append(chr)
            i += 1
            continue
        }
        let lengthUTF8 = Array(String(decoding: length, as: UTF16.self).utf8)
        let n = JSNumber.parse(lengthUTF8[...])
        if length.isEmpty || n.isNaN { return .init(packets: packets, error: .invalidFraming) }
        // slice(i + 1, i + 1 + n), then the comparison with msg.length
        let start = i + 1
        let available = s.count - start
        let wanted = n < 0 ? 0.0 : Swift.min(n, Double(available))
        let take = Int(wanted)
        let msg = Array(s[start..<(start + take)])
        if Double(msg.count) != n { return .init(packets: packets, error: .invalidFraming) }
        if !msg.isEmpty {
            let text = Array(String(decoding: msg, as: UTF16.self).utf8)
            do {
                if let packet = try modelTextPacket(text) {
                    if packets.count == limit { return .init(packets: packets, error: .tooManyPackets) }
                    packets.append(packet)
                    if packet.type == .close { return .init(packets: packets, error: nil) }
                }
            } catch {
                return .init(packets: packets, error: .invalidFraming)
            }
        }
        i = start + take
        length = []
    }
    return .init(packets: packets, error: length.isEmpty ? nil : .invalidFraming)
}

struct ModelError: Error {}

/// decodePacket on a string: `b<type><base64>` (nil for an unknown type), or a type digit and the rest.
func modelTextPacket(_ text: [UInt8]) throws -> EnginePacket? {
    guard let first = text.first else { throw ModelError() }
    if first == UInt8(ascii: "b") {
        guard text.count >= 2, (0x30...0x36).contains(text[1]) else { return nil }
        guard let data = referenceBase64(text[2...]) else { throw ModelError() }
        return EnginePacket(type: EnginePacketType(rawValue: text[1] - 0x30)!, data: data, isBinary: true)
    }
    guard (0x30...0x36).contains(first) else { throw ModelError() }
    return EnginePacket(type: EnginePacketType(rawValue: first - 0x30)!, data: Array(text.dropFirst()))
}

// MARK: Binary bodies

func checkBinary(_ body: [UInt8], _ limit: Int) {
    let decoded = EngineV3Payload.decodeBinary(body, maxPackets: limit)
    verbose("binary: \(describe(decoded))")
    let model = binaryModel(body, limit)
    fuzzCheck(decoded.packets == model.packets && (decoded.error == nil) == (model.error == nil),
              "binary: decoder \(describe(decoded)), model \(describe(model)); input \(hex(body))")
    checkCommon(decoded, body, limit)
    guard decoded.error == nil, !decoded.packets.isEmpty else { return }
    var again: [UInt8] = []
    for p in decoded.packets { EngineV3Payload.appendBinarySegment(p.type, p.data, isBinary: p.isBinary, to: &again) }
    fuzzCheck(EngineV3Payload.decodeBinary(again, maxPackets: limit) == .init(packets: decoded.packets, error: nil),
              "binary payload does not survive re-encoding: \(hex(again))")
}

/// decodePayloadAsBinary with its strings: `strLen` is built as JavaScript concatenates it.
func binaryModel(_ body: [UInt8], _ limit: Int) -> EngineV3Payload.Decoded {
    var buffers: [(Bool, [UInt8])] = []
    var tail = body
    while !tail.isEmpty {
        var strLen = ""
        let isString = tail[0] == 0
        var i = 1
        while true {
            if i < tail.count, tail[i] == 255 { break }
            if strLen.utf8.count > 310 { return .init(packets: [], error: .invalidFraming) }
            strLen += i < tail.count ? String(tail[i]) : "undefined"
            i += 1
        }
        tail = Array(tail.dropFirst(strLen.utf8.count + 1))
        // parseInt(strLen, 10): the leading digits; "" is NaN (slice(1, NaN) is empty, slice(NaN) keeps all).
        let digits = strLen.prefix { $0.isASCII && $0.isNumber }
        if digits.isEmpty {
            buffers.append((isString, []))
        } else {
            let number = Double(String(digits))!  // parseInt's value; leading zeros count for nothing
            let value = number > 1e15 ? Int.max / 2 : Int(number)
            let msg = Array(tail.dropFirst().prefix(value))
            buffers.append((isString, msg))
            tail = Array(tail.dropFirst(Swift.min(value + 1, tail.count)))
        }
        if buffers.count > limit { return .init(packets: [], error: .tooManyPackets) }
    }
    var packets: [EnginePacket] = []
    for (isString, bytes) in buffers {
        let packet: EnginePacket?
        if isString {
            do {
                if bytes.first == UInt8(ascii: "b") {
                    packet = try modelTextPacket(bytes)
                } else {
                    guard let text = modelUTF8(bytes) else { return .init(packets: packets, error: .invalidUTF8) }
                    packet = try modelTextPacket(text)
                }
            } catch {
                return .init(packets: packets, error: .invalidFraming)
            }
        } else if let first = bytes.first, first <= 6 {
            packet = EnginePacket(type: EnginePacketType(rawValue: first)!, data: Array(bytes.dropFirst()), isBinary: true)
        } else {
            packet = nil
        }
        guard let packet else { continue }
        if packets.count == limit { return .init(packets: packets, error: .tooManyPackets) }
        packets.append(packet)
        if packet.type == .close { break }
    }
    return .init(packets: packets, error: nil)
}

/// utf8.js without strict, by a different route: Swift's validation, after turning every encoded surrogate
/// (ED A0-BF xx) into U+FFFD.
func modelUTF8(_ bytes: [UInt8]) -> [UInt8]? {
    var out: [UInt8] = []
    var i = 0
    while i < bytes.count {
        if bytes[i] == 0xED, i + 2 < bytes.count, (0xA0...0xBF).contains(bytes[i + 1]), bytes[i + 2] & 0xC0 == 0x80 {
            out += [0xEF, 0xBF, 0xBD]
            i += 3
        } else {
            out.append(bytes[i])
            i += 1
        }
    }
    return isValidUTF8(out[...]) ? out : nil
}

/// RFC 4648 base64 as the codec accepts it: padding optional, `=` only at the end.
func referenceBase64(_ text: ArraySlice<UInt8>) -> [UInt8]? {
    text.withUnsafeBytes { Base64.decode($0) }
}

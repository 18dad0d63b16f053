// Harness `engineio_packet`: the Engine.IO v4 codec (EngineIOCodec): one text packet (a WebSocket text frame or
// one polling segment, `b<base64>` for binary) and a polling payload (segments joined by 0x1e).
//
// Input: byte 0 bit 0 picks the decoder (0 packet, 1 payload), bits 1-2 the payload's packet limit
// (10000, 1, 2, 16); the rest is the packet or body, in a heap block of exactly its size.
//
// Checked:
//  - a text packet decodes iff it starts with a type digit 0-6 or with `b` and valid base64 (a reference base64
//    decoder written here, RFC 4648 with optional padding, must agree byte for byte);
//  - re-encoding gives the input back for text packets, and for binary a `b` segment that decodes to the same
//    bytes; output sizes are bounded by the input (text: n-1 bytes, binary: 3/4 of the base64);
//  - a payload decodes iff every 0x1e-separated segment decodes and their number is within the limit; it gives
//    exactly the segments' packets; joined again it decodes to the same packets;
//  - text packets from a polling payload are valid UTF-8 (finding eio-text-utf8).

let packetLimits = [10_000, 1, 2, 16]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size >= 1 else { return 0 }
    let config = data[0]
    let input = UnsafeRawBufferPointer(start: data + 1, count: size - 1)
    if config & 1 == 0 {
        checkPacket(input)
    } else {
        checkPayload(Array(input), maxPackets: packetLimits[Int(config >> 1 & 3)])
    }
    return 0
}

func checkPacket(_ input: UnsafeRawBufferPointer) {
    let bytes = Array(input)
    let decoded = try? EngineIOCodec.decodeText(input)
    let fromArray = try? EngineIOCodec.decodeText(bytes)
    fuzzCheck(decoded == fromArray, "raw and array decoders differ")
    verbose("engineio_packet: \(String(describing: decoded))")
    let models = referenceAlternatives(bytes[...])
    fuzzCheck(models.contains(decoded), "decoder: \(String(describing: decoded)); reference: \(String(describing: models[0])); input \(hex(bytes))")
    guard let packet = decoded else { return }
    checkRoundTrip(packet, source: bytes[...])
}

func checkRoundTrip(_ packet: EnginePacket, source: ArraySlice<UInt8>) {
    if packet.isBinary {
        fuzzCheck(packet.type == .message, "binary packet of type \(packet.type)")
        fuzzCheck(packet.data.count <= (source.count - 1) / 4 * 3 + 2, "binary \(packet.data.count) bytes from \(source.count)")
        var segment: [UInt8] = []
        EngineIOCodec.appendPollingSegment(packet, to: &segment)
        fuzzCheck(segment.count == 1 + Base64.encodedCount(packet.data.count), "segment size")
        fuzzCheck(Base64.encode(packet.data) == Array(segment.dropFirst()), "encode and append differ")
        let again = withExactCopy(segment) { try? EngineIOCodec.decodeText($0) }
        fuzzCheck(again == packet, "binary packet does not survive re-encoding: \(hex(segment))")
        // Canonical base64 (padded, zero trailing bits) must be what we were sent, up to padding.
        if referenceCanonical(source.dropFirst()) {
            var padded = Array(source.dropFirst())
            while padded.count % 4 != 0 { padded.append(UInt8(ascii: "=")) }
            fuzzCheck(Array(segment.dropFirst()) == padded, "canonical base64 re-encodes differently")
        }
    } else {
        let text = EngineIOCodec.encodeText(packet.type, packet.data)
        if isValidUTF8(source.dropFirst()) || !isValidUTF8(packet.data) {
            fuzzCheck(packet.data.count == source.count - 1, "text data size")
            fuzzCheck(text.elementsEqual(source), "text packet does not re-encode to its input")
        } else {
            // Repaired with U+FFFD (see eio-text-utf8): at most 3 bytes per byte received.
            fuzzCheck(packet.data.count <= 3 * (source.count - 1), "repaired text size")
        }
        var segment: [UInt8] = []
        EngineIOCodec.appendPollingSegment(packet, to: &segment)
        fuzzCheck(segment == text, "polling segment differs from the text encoding")
    }
}

func checkPayload(_ body: [UInt8], maxPackets: Int) {
    let decoded: [EnginePacket]?
    var failure: (any Error)?
    do { decoded = try EngineIOCodec.decodePayload(body, maxPackets: maxPackets) } catch {
        decoded = nil
        failure = error
    }
    verbose("engineio_packet payload: \(decoded.map { "\($0)" } ?? "\(failure!)")")
    // Model: split on 0x1e, every segment must decode, at most maxPackets segments.
    let segments = body.split(separator: EngineIOCodec.recordSeparator, omittingEmptySubsequences: false)
    // Three models: as received, text repaired with U+FFFD, or refused when some text is not UTF-8 (the last two
    // are the ways to fix eio-text-utf8; they coincide with the first when all text is UTF-8).
    var asReceived: [EnginePacket]? = []
    var repaired: [EnginePacket]? = []
    var anyInvalid = false
    for segment in segments {
        let alternatives = referenceAlternatives(segment)
        guard let packet = alternatives[0] else { asReceived = nil; repaired = nil; break }
        asReceived!.append(packet)
        repaired!.append(alternatives.count > 1 ? alternatives[1]! : packet)
        if alternatives.count > 1 { anyInvalid = true }
    }
    if segments.count > maxPackets { asReceived = nil; repaired = nil }
    let model = asReceived
    fuzzCheck(decoded == asReceived || decoded == repaired || (anyInvalid && decoded == nil),
              "payload: decoder \(decoded.map { "\($0.count) packets" } ?? "\(failure!)"), model \(model.map { "\($0.count) packets" } ?? "refuses"); input \(hex(body))")
    if segments.count > maxPackets {
        fuzzCheck(failure as? EngineDecodeError == .tooManyPackets || failure != nil, "limit")
    }
    guard let packets = decoded else { return }
    // Finding eio-text-utf8: a polling body is not UTF-8-checked, so a text message with invalid UTF-8 reached
    // the application as text (and could be echoed into a WebSocket text frame, which RFC 6455 forbids). Over
    // WebSocket the frame parser refuses such text; the reference server turns the body into a JavaScript string
    // (invalid sequences become U+FFFD). Text from a polling payload must be valid UTF-8 too.
    if !skipping("eio-text-utf8") {
        for packet in packets where !packet.isBinary {
            fuzzCheck(isValidUTF8(packet.data), "text packet with invalid UTF-8 from a polling body: \(hex(packet.data))")
        }
    }
    fuzzCheck(packets.count <= maxPackets && packets.count <= body.count / 1 + 1, "packet count")
    // Repairing invalid UTF-8 turns one byte into U+FFFD's three; nothing else may grow.
    fuzzCheck(packets.reduce(0) { $0 + $1.data.count } <= 3 * body.count, "packets hold more bytes than the body justifies")
    for (packet, segment) in zip(packets, segments) { checkRoundTrip(packet, source: segment) }
    if decoded != asReceived { return }  // repaired: joined again it is the repaired text, checked above
    // Encode again, decode again.
    let joined = EngineIOCodec.joinPayload(packets.map { packet in
        var segment: [UInt8] = []
        EngineIOCodec.appendPollingSegment(packet, to: &segment)
        return segment
    })
    let again = try? EngineIOCodec.decodePayload(joined, maxPackets: maxPackets)
    fuzzCheck(again == packets, "payload does not survive re-encoding: \(hex(joined))")
}

/// What the decoder may make of one segment: as received; and for text that is not UTF-8 also repaired with
/// U+FFFD, or refused (nil).
func referenceAlternatives(_ segment: ArraySlice<UInt8>) -> [EnginePacket?] {
    let packet = referencePacket(segment)
    guard let packet, !packet.isBinary, !isValidUTF8(packet.data) else { return [packet] }
    let fixed = EnginePacket(type: packet.type, data: Array(String(decoding: packet.data, as: UTF8.self).utf8))
    return [packet, fixed, nil]
}

/// What the decoder should make of one segment: written from the protocol text, not from the decoder.
func referencePacket(_ segment: ArraySlice<UInt8>) -> EnginePacket? {
    guard let first = segment.first else { return nil }
    if first == UInt8(ascii: "b") {
        guard let data = referenceBase64(segment.dropFirst()) else { return nil }
        return EnginePacket(type: .message, data: data, isBinary: true)
    }
    guard first >= 0x30, first <= 0x36 else { return nil }
    return EnginePacket(type: EnginePacketType(rawValue: first - 0x30)!, data: Array(segment.dropFirst()))
}

func base64Value(_ c: UInt8) -> UInt32? {
    switch c {
    case 0x41...0x5A: return UInt32(c - 0x41)
    case 0x61...0x7A: return UInt32(c - 0x61 + 26)
    case 0x30...0x39: return UInt32(c - 0x30 + 52)
    case UInt8(ascii: "+"): return 62
    case UInt8(ascii: "/"): return 63
    default: return nil
    }
}

/// RFC 4648 base64, padding optional and possibly partial (the codec's documented choice, lenient like Node's
/// Buffer): up to the `=` that complete the last group, only at the end; non-zero trailing bits are tolerated.
func referenceBase64(_ text: ArraySlice<UInt8>) -> [UInt8]? {
    var body = Array(text)
    var padding = 0
    while body.last == UInt8(ascii: "=") && padding < 2 { body.removeLast(); padding += 1 }
    if body.count % 4 == 1 { return nil }
    if padding > (4 - body.count % 4) % 4 { return nil }
    var out: [UInt8] = []
    var acc: UInt32 = 0
    var bits = 0
    for c in body {
        guard let v = base64Value(c) else { return nil }
        acc = acc << 6 | v
        bits += 6
        if bits >= 8 {
            bits -= 8
            out.append(UInt8(truncatingIfNeeded: acc >> UInt32(bits)))
            acc &= (1 << UInt32(bits)) - 1
        }
    }
    return out
}

/// Whether `text` is base64 as an encoder writes it (trailing bits zero), padding optional.
func referenceCanonical(_ text: ArraySlice<UInt8>) -> Bool {
    guard let data = referenceBase64(text) else { return false }
    var stripped = Array(text)
    while stripped.last == UInt8(ascii: "=") { stripped.removeLast() }
    var encoded = Base64.encode(data)
    while encoded.last == UInt8(ascii: "=") { encoded.removeLast() }
    return encoded == stripped
}

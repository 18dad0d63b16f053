// Harness `msgpack_packet`: the msgpack parser's packet decoder (MsgPackCodec/MsgPackPacketDecoder.swift), which
// reads every message of a client when the server runs with `parser: MsgPackParser()` (socket.io-msgpack-parser).
//
// Input: the bytes of one binary WebSocket / polling message.
//
// Checked, for every packet the decoder accepts:
//  - the type is 0-4 (the msgpack parser has no BINARY_* types) and an ack id is below 2^53;
//  - the payload is valid JSON within the JSON parser's depth limit, its placeholders are valid and exactly one
//    per attachment (so handlers see what the JSON parser would give them);
//  - an EVENT's payload splits into a name that is not reserved and an arguments array, as Socket.receive does;
//  - the payload is at most 8 x the input (binaries become `{"_placeholder":true,"num":N}`, numbers their text).
//
//  - differential: the direct paths (msgpack -> JSON text, JSON values -> msgpack, JSON text -> msgpack in one
//    walk) give the same packet or error, and the same bytes, as the conversions through MsgPackValue trees
//    (harnesses/MsgPackReference.swift);
//  - the fast path (MsgPackPacketFastPath.decode): where it takes a message, the general decoder accepts it and gives
//    the same packet; the arguments' bytes it keeps are exactly what encoding their JSON writes (the promise the
//    msgpack parser's relay path keeps), and MsgPackBuffer writes them (with a namespace and an id) as msgpack-c does.
//
// Built from copies of the MsgPackCodec sources without their imports (Makefile), compiled with the SocketIOCodec
// sources as one module.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    differential(input)
    guard let packet = try? MsgPackPacketDecoder.decode(input) else { return 0 }
    verbose("msgpack_packet: \(packet)")
    fuzzCheck(packet.type.rawValue <= 4, "type \(packet.type)")
    fuzzCheck((packet.ackId ?? 0) < 1 << 53, "ack id \(String(describing: packet.ackId))")
    guard let payload = packet.payload else {
        fuzzCheck(packet.type == .connect || packet.type == .disconnect, "\(packet.type) without payload")
        fuzzCheck(packet.attachments.isEmpty, "attachments without payload")
        return 0
    }
    fuzzCheck(payload.count <= 8 * size + 64, "payload \(payload.count) bytes from \(size)")
    fuzzCheck(JSONScanner.validate(payload) == nil, "payload is not valid JSON: \(hex(payload))")
    fuzzCheck(JSONScanner.checkPlaceholders(payload, attachmentCount: packet.attachments.count) == nil,
              "placeholders invalid: \(hex(payload))")
    let count = packet.attachments.count
    fuzzCheck(payload.withUnsafeBytes { JSONScanner.placeholderCount($0, attachmentCount: count) } == count,
              "placeholders do not match \(count) attachments")
    if packet.type == .event {
        guard let (name, arguments) = try? SocketIOEventArguments.event(payload) else {
            fuzzFail("an accepted event does not split: \(hex(payload))")
        }
        fuzzCheck(!socketIOReservedEvents.contains(name), "reserved event \(name) accepted")
        fuzzCheck(arguments.first == UInt8(ascii: "["), "arguments are not an array")
    }
    return 0
}

func differential(_ input: [UInt8]) {
    let direct = Result { () throws(SocketIOCodecError) in try MsgPackPacketDecoder.decode(input) }
    let reference = Result { () throws(SocketIOCodecError) in try MsgPackReference.decode(input) }
    switch (direct, reference) {
    case (.success(let a), .success(let b)): fuzzCheck(a == b, "direct decode \(a) differs from \(b)")
    case (.failure(let a), .failure(let b)): fuzzCheck(a == b, "direct decode error \(a) differs from \(b)")
    default: fuzzFail("direct decode \(direct) differs from \(reference)")
    }
    fastPath(input, direct)
    // The way back: a JSON text (the payload, or the input itself read as JSON) written as msgpack.
    var texts: [([UInt8], [[UInt8]])] = [(input, [])]
    if case .success(let packet) = direct, let payload = packet.payload { texts.append((payload, packet.attachments)) }
    for (text, attachments) in texts {
        guard let json = try? JSONValue.parse(text) else { continue }
        let values: [JSONValue] = if case .array(let elements) = json { elements } else { [json] }
        for given in [attachments.isEmpty ? nil : attachments, nil] {
            let old = MsgPackReference.encode(values, attachments: given)
            let new = MsgPackReference.encodeDirect(values, attachments: given)
            fuzzCheck(old == new, "direct encode \(hex(new)) differs from \(hex(old))")
            // From the text itself (arrays only: arguments always are), when the one-walk path takes it.
            guard case .array = json, let walked = MsgPackReference.encodeText(text, attachments: given ?? []) else {
                continue
            }
            fuzzCheck(walked == old, "encode from the text \(hex(walked)) differs from \(hex(old))")
        }
    }
}


/// The fast path against the general decoder, and its kept bytes against the arguments' JSON encoded.
func fastPath(_ input: [UInt8], _ general: Result<SocketIOPacket, SocketIOCodecError>) {
    guard let fast = MsgPackPacketFastPath.decode(input) else { return }
    guard case .success(let packet) = general else { fuzzFail("fast path took \(fast), the decoder: \(general)") }
    guard let packed = fast.packedArguments, packed.message == input else { fuzzFail("fast path kept no bytes") }
    // Compares the payload and attachments the kept bytes give when read.
    fuzzCheck(fast == packet, "fast path \(fast) differs from \(packet)")
    guard let payload = packet.payload, case .array(var values)? = try? JSONValue.parse(payload) else {
        fuzzFail("fast path payload is not an array")
    }
    if packet.type == .event { values.removeFirst() }
    fuzzCheck(values.count == packed.location.count, "packed count \(packed.location.count), JSON has \(values.count)")
    let writer = MsgPackWriter()
    writer.writeArrayHeader(packed.location.count)
    input.withUnsafeBytes { writer.writeRaw(UnsafeRawBufferPointer(rebasing: $0[packed.location.range])) }
    let expected = MsgPackReference.encode(values, attachments: packet.attachments.isEmpty ? nil : packet.attachments)
    fuzzCheck(writer.bytes == expected, "packed arguments \(hex(writer.bytes)) differ from encoded \(hex(expected))")
    // What the parser sends around kept arguments (MsgPackBuffer): the same bytes as msgpack-c's packer.
    var buffer = MsgPackBuffer(capacity: 16)
    buffer.writeArrayHeader(packed.location.count)
    input.withUnsafeBytes { buffer.writeRaw(UnsafeRawBufferPointer(rebasing: $0[packed.location.range])) }
    buffer.writeKey("nsp")
    buffer.writeString(packet.namespace)
    buffer.writeUInt(packet.ackId ?? UInt64(input.count))
    writer.writeKey("nsp")
    writer.writeString(packet.namespace)
    writer.writeUInt(packet.ackId ?? UInt64(input.count))
    fuzzCheck(buffer.bytes == writer.bytes, "MsgPackBuffer wrote \(hex(buffer.bytes)), msgpack-c \(hex(writer.bytes))")
}

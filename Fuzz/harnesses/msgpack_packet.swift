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
// Built from copies of the MsgPackCodec sources without their imports (Makefile), compiled with the SocketIOCodec
// sources as one module.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
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

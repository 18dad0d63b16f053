// Harness `redis_stream`: what the Redis streams adapter reads from Redis and from other nodes
// (SocketIORedisStreams/ClusterMessage.swift, ClusterMessage+Sharded.swift, ClusterPayloads.swift, SessionRecord.swift, over MsgPack.swift,
// MsgPackJSON.swift, the RedisWire option/packet/socket readers, SocketIO's LogPosition.swift and EngineIOCodec's
// forgiving base64): stream entries (fields uid, nsp, type, data: JSON or base64 msgpack), pub/sub payloads
// (msgpack `{type, data, uid, nsp}`), the sharded adapter's payloads (the same message as JSON text, or notepack
// msgpack, by the first byte), what their `data` carries (broadcasts, requests, answers), session values
// (base64 msgpack `{sid, pid, rooms, data}`) and offsets (`<ms>-<seq>`).
//
// Input: one message. The whole input is a pub/sub payload, a session value and an offset; split at NUL bytes
// it is a stream entry's field/value list (field, value, field, value, ...).
//
// Checked:
//  - a decoded entry whose data is an object (what the reference writes) re-encodes (streamFields) to fields that
//    decode to the same uid, nsp and type, and to data of the same JSON;
//  - a decoded pub/sub payload re-encodes (pubSubPayload) to one that decodes to the same message (`undefined`
//    read as null);
//  - a decoded sharded payload re-encodes (shardedPayload) to one that decodes to the same uid, nsp and type; as
//    msgpack to the same data, as JSON to text that is stable after one more round trip;
//  - a broadcast's event (with an offset appended) has valid arguments; a request's server-side event too;
//  - a decoded session re-encodes to a value that decodes to the same session;
//  - an offset that parses prints back to text that parses to it;
//  - forgiving base64 never yields more than 3 bytes per 4 input characters;
//  - no trap, no allocation beyond what the input justifies, linear time.
//
// Built from copies of the sources without their module imports (Makefile), as one module.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    checkStreamEntry(fields(of: bytes))
    if let message = try? ClusterMessage(pubSubPayload: bytes) {
        verbose("pub/sub: \(message)")
        checkPubSub(message)
        checkData(message)
    }
    if let message = ClusterMessage(shardedPayload: bytes) {
        verbose("sharded: \(message)")
        checkSharded(message)
        checkData(message)
    }
    if let session = SessionRecord(decoding: bytes) {
        // Data compared as JSON text (a NaN is not equal to itself, and JSON writes it null anyway), members sorted:
        // the writer puts them in JavaScript's order (index keys first), so the first trip may reorder them; a
        // second trip must change nothing.
        let again = SessionRecord(decoding: session.encoded())
        fuzzCheck(again.map { ($0.sid, $0.pid, $0.rooms, sortedMembers($0.data).serialize()) } ?? ("", "", [], [])
                  == (session.sid, session.pid, session.rooms, sortedMembers(session.data).serialize()),
                  "session changed in a round trip: \(session) -> \(String(describing: again))")
        if let again {
            fuzzCheck(SessionRecord(decoding: again.encoded())?.data.serialize() == again.data.serialize(),
                      "a second round trip changed the session: \(again)")
        }
    }
    let text = String(decoding: bytes, as: UTF8.self)
    if let position = LogPosition(text) {
        // Leading zeros are allowed (the reference's regex allows them, Redis reads them alike) and dropped.
        fuzzCheck(LogPosition(position.description) == position, "offset \(text) printed back as \(position)")
        fuzzCheck(position.next > position || position.milliseconds == .max, "next of \(position) is not after it")
    }
    let decoded = Base64.decodeForgiving(bytes)
    fuzzCheck(decoded.count <= size / 4 * 3 + 2, "\(decoded.count) bytes of base64 from \(size) characters")
    return 0
}

/// NUL-separated parts as (field, value) pairs; an odd last part is a field without value, dropped.
func fields(of bytes: [UInt8]) -> [(key: [UInt8], value: [UInt8])] {
    let parts = bytes.split(separator: 0, omittingEmptySubsequences: false).map(Array.init)
    var result: [(key: [UInt8], value: [UInt8])] = []
    var index = 0
    while index + 1 < parts.count {
        result.append((parts[index], parts[index + 1]))
        index += 2
    }
    return result
}

func checkStreamEntry(_ fields: [(key: [UInt8], value: [UInt8])]) {
    guard let message = ClusterMessage(streamFields: fields) else { return }
    verbose("entry: \(message)")
    checkData(message)
    // Only an object survives the trip, on Node too: JSON.stringify of anything else does not start with `{`,
    // so `decode` reads it as base64. The reference only ever writes objects.
    if let data = message.data, case .map = data {} else if message.data != nil { return }
    let written = message.streamFields().map { (key: Array($0.0.utf8), value: $0.1) }
    guard let again = ClusterMessage(streamFields: written) else {
        fuzzFail("re-encoded entry does not decode: \(written.map { hex($0.value) })")
    }
    fuzzCheck(again.uid == (message.uid ?? "") && again.nsp == message.nsp && again.type == (message.type ?? 0),
              "entry changed in a round trip: \(message) -> \(again)")
    // The writer puts keys in JavaScript's property order (array-index keys first, as JSON.stringify would), so
    // the first trip may reorder members; the same members must come back, and a second trip changes nothing.
    // A type that may not carry binary is written as JSON, where a binary becomes a Node Buffer's JSON form.
    let expected = message.kind?.mayContainBinary == true ? message.data : message.data.map(asNodeBufferJSON)
    fuzzCheck(again.data.map(sortedMembers) == expected.map(sortedMembers),
              "entry data changed in a round trip: \(String(describing: message.data)) -> \(String(describing: again.data))")
    let rewritten = again.streamFields().map { (key: Array($0.0.utf8), value: $0.1) }
    fuzzCheck(rewritten.map(\.key) == written.map(\.key) && rewritten.map(\.value) == written.map(\.value),
              "a second round trip changed the entry: \(written.map { hex($0.value) }) -> \(rewritten.map { hex($0.value) })")
}

/// The JSON value with every object's members sorted by key: equal for the same members in any order.
func sortedMembers(_ value: JSONValue) -> JSONValue {
    switch value {
    case .array(let elements): return .array(elements.map(sortedMembers))
    case .object(let members): return .object(members.map { ($0.0, sortedMembers($0.1)) }.sorted { $0.0 < $1.0 })
    default: return value
    }
}

/// What JSON.stringify makes of the value: every binary as `{"type":"Buffer","data":[bytes]}`.
func asNodeBufferJSON(_ value: MsgPackValue) -> MsgPackValue {
    switch value {
    case .binary(let bytes):
        return .map([("type", .string("Buffer")), ("data", .array(bytes.map { .int(Int64($0)) }))])
    case .array(let elements): return .array(elements.map(asNodeBufferJSON))
    case .map(let members): return .map(members.map { ($0.0, asNodeBufferJSON($0.1)) })
    default: return value
    }
}

/// The value as JSON text with every map's members sorted by key: equal for the same members in any order.
func sortedMembers(_ value: MsgPackValue) -> [UInt8] {
    func sorted(_ value: MsgPackValue) -> MsgPackValue {
        switch value {
        case .array(let elements): return .array(elements.map(sorted))
        case .map(let members): return .map(members.map { ($0.0, sorted($0.1)) }.sorted { $0.0 < $1.0 })
        default: return value
        }
    }
    return sorted(value).jsonValue().serialize()
}

func checkPubSub(_ message: ClusterMessage) {
    let payload = message.pubSubPayload()
    guard let again = try? ClusterMessage(pubSubPayload: payload) else {
        fuzzFail("re-encoded payload does not decode: \(hex(payload))")
    }
    fuzzCheck(again.uid == message.uid && again.nsp == message.nsp && again.type == message.type,
              "payload changed in a round trip: \(message) -> \(again)")
    fuzzCheck(again.data.map(normalized) == message.data.map(normalized),
              "payload data changed in a round trip: \(hex(payload))")
}

func checkSharded(_ message: ClusterMessage) {
    let payload = message.shardedPayload()
    guard let again = ClusterMessage(shardedPayload: payload) else {
        fuzzFail("re-encoded sharded payload does not decode: \(hex(payload))")
    }
    fuzzCheck(again.uid == message.uid && again.nsp == message.nsp && again.type == message.type,
              "sharded payload changed in a round trip: \(message) -> \(again)")
    if payload.first == UInt8(ascii: "{") {
        // JSON loses what it cannot hold (NaN, a binary outside the types that may carry one) and JSON.parse puts
        // array-index keys first: once; from then on the text is stable.
        let text = again.shardedPayload()
        let third = ClusterMessage(shardedPayload: text)?.shardedPayload()
        fuzzCheck(third == text, "sharded JSON not stable: \(hex(text))")
    } else {
        fuzzCheck(again.data.map(normalized) == message.data.map(normalized),
                  "sharded payload data changed in a round trip: \(hex(payload))")
    }
}

/// What the adapter does with a message's data: a broadcast's event, a request's fields and server-side event.
func checkData(_ message: ClusterMessage) {
    if let broadcast = ReceivedBroadcast(message.data), let event = broadcast.event(offset: "1-2") {
        fuzzCheck((try? JSONValue.parse(event.arguments.json)) != nil, "arguments are not JSON: \(event.arguments.jsonText)")
        _ = broadcast.takesOffset
    }
    let request = ReceivedRequest(message.data)
    if let (_, arguments) = request.serverSideEvent {
        fuzzCheck((try? JSONValue.parse(arguments.json)) != nil, "server-side arguments are not JSON")
    }
    for socket in request.sockets {
        fuzzCheck((try? JSONValue.parse(socket.auth)) != nil, "socket auth is not JSON: \(hex(socket.auth))")
    }
}

/// `undefined` comes back as null.
func normalized(_ value: MsgPackValue) -> MsgPackValue {
    switch value {
    case .undefined: return .null
    case .array(let elements): return .array(elements.map(normalized))
    case .map(let members): return .map(members.map { ($0.0, normalized($0.1)) })
    default: return value
    }
}

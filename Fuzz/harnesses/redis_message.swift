// Harness `redis_message`: what the Redis adapter reads from other nodes (SocketIORedis/RedisWire.swift and
// RedisWireMessages.swift over MsgPack.swift and MsgPackJSON.swift): broadcasts (msgpack `[uid, packet, opts]`),
// requests and responses (JSON, or msgpack by the first byte), the sockets of a REMOTE_FETCH answer, and the
// conversion of what arrived into Socket.IO arguments for local delivery.
//
// Input: the bytes of one message; every decoder gets the same bytes.
//
// Checked:
//  - a decoded broadcast re-encodes (Broadcast.encoded) to bytes that decode to the same broadcast;
//  - a request of a kind this adapter also sends (REMOTE_FETCH, ALL_ROOMS, REMOTE_JOIN/LEAVE/DISCONNECT with
//    opts, BROADCAST, SERVER_SIDE_EMIT) re-encodes with the adapter's own encoder to a request that decodes to
//    the same fields; a response likewise (ALL_ROOMS, BROADCAST_CLIENT_COUNT, BROADCAST_ACK);
//  - arguments made from wire values are valid (placeholders match attachments) and stable: to wire values and
//    back gives the same arguments;
//  - every value converts to JSON text that parses (numbers that JSON cannot hold become null), at most 6 bytes
//    per input byte (a NUL in a string is written `\u0000`; a binary of n bytes is a Buffer object of <= 4n + 30);
//  - no allocation beyond what the input justifies (libFuzzer's -malloc_limit_mb), no trap, linear time.
//
// Built from copies of the SocketIORedis sources without their `import SocketIO` (Makefile), compiled with the
// SocketIOCodec sources and the two SocketIO files they use (SocketIOArguments, BroadcastOptions) as one module.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let broadcast = try? RedisWire.Broadcast.decode(bytes) {
        verbose("broadcast: \(broadcast)")
        checkBroadcast(broadcast, size: size)
    }
    if let request = try? RedisWire.Request(decoding: bytes) {
        verbose("request: \(request)")
        checkRequest(request, size: size)
    }
    if let response = try? RedisWire.Response(decoding: bytes) {
        verbose("response: \(response)")
        checkResponse(response, size: size)
    }
    return 0
}

func checkBroadcast(_ broadcast: RedisWire.Broadcast, size: Int) {
    let encoded = broadcast.encoded()
    guard let again = try? RedisWire.Broadcast.decode(encoded) else { fuzzFail("re-encoded broadcast does not decode: \(hex(encoded))") }
    fuzzCheck(normalized(again) == normalized(broadcast), "broadcast changed in a round trip: \(hex(encoded))")
    checkArguments(broadcast.packet, size: size)
}

func checkRequest(_ request: RedisWire.Request, size: Int) {
    if let packet = request.packet { checkArguments(packet, size: size) }
    if let (event, arguments) = request.serverSideEvent() {
        checkStable(arguments)
        // As the adapter sends it: binaries as Buffer objects in JSON, which a receiver keeps as objects.
        let values = (try? arguments.values()) ?? []
        let data: [JSONValue] = [.string(event)] + values.map { $0.replacingPlaceholders(arguments.attachments) }
        let sent = RedisWire.serverSideEmitRequest(uid: request.uid ?? "u", requestId: request.requestId, data: data)
        guard let back = try? RedisWire.Request(decoding: sent), let (event2, _) = back.serverSideEvent() else {
            fuzzFail("serverSideEmit request does not decode: \(hex(sent))")
        }
        fuzzCheck(event2 == event, "serverSideEmit event \(event) came back as \(event2)")
    }
    guard let uid = request.uid else { return }
    let expected: RedisWire.Request
    let sent: [UInt8]
    let options = request.options.map { RedisWire.Options(rooms: $0.rooms, except: $0.except) }
    switch request.type {
    case .remoteFetch:
        guard let requestId = request.requestId else { return }
        let opts = options ?? RedisWire.Options()
        sent = RedisWire.fetchRequest(uid: uid, requestId: requestId, rooms: opts.rooms, except: opts.except)
        expected = RedisWire.Request(type: .remoteFetch, uid: uid, requestId: requestId, options: opts)
    case .allRooms:
        guard let requestId = request.requestId else { return }
        sent = RedisWire.allRoomsRequest(uid: uid, requestId: requestId)
        expected = RedisWire.Request(type: .allRooms, uid: uid, requestId: requestId)
    case .remoteJoin, .remoteLeave:
        guard let options else { return }
        sent = RedisWire.roomsRequest(uid: uid, type: request.type, rooms: options.rooms, except: options.except,
                                      roomsToChange: request.rooms)
        expected = RedisWire.Request(type: request.type, uid: uid, options: options, rooms: request.rooms)
    case .remoteDisconnect:
        guard let options else { return }
        sent = RedisWire.disconnectRequest(uid: uid, rooms: options.rooms, except: options.except, close: request.close)
        expected = RedisWire.Request(type: .remoteDisconnect, uid: uid, options: options, close: request.close)
    case .broadcast:
        guard let requestId = request.requestId, let packet = request.packet else { return }
        let full = request.options ?? RedisWire.Options()
        sent = RedisWire.broadcastRequest(uid: uid, requestId: requestId, packet: packet, options: full)
        expected = RedisWire.Request(type: .broadcast, uid: uid, requestId: requestId, options: full, packet: packet)
    default:
        return
    }
    guard let back = try? RedisWire.Request(decoding: sent) else { fuzzFail("re-encoded request does not decode: \(hex(sent))") }
    fuzzCheck(normalized(back) == normalized(expected), "request changed in a round trip: \(hex(sent))")
}

func checkResponse(_ response: RedisWire.Response, size: Int) {
    let id = response.requestId
    if let rooms = response.rooms {
        let back = try? RedisWire.Response(decoding: RedisWire.allRoomsResponse(requestId: id, rooms: rooms))
        fuzzCheck(back?.rooms == rooms && back?.requestId == id, "allRooms response changed in a round trip")
    }
    if let count = response.clientCount {
        let back = try? RedisWire.Response(decoding: RedisWire.clientCountResponse(requestId: id, clientCount: count))
        fuzzCheck(back?.clientCount == count, "client count \(count) changed in a round trip")
    }
    if let packet = response.packet {
        let sent = RedisWire.broadcastAckResponse(requestId: id, packet: packet)
        let back = try? RedisWire.Response(decoding: sent)
        // An `undefined` member is dropped from a map, as notepack does.
        fuzzCheck(back.map { normalized($0.packet ?? .undefined) == normalized(packet) } ?? false,
                  "ack packet changed in a round trip: \(hex(sent))")
        if let arguments = try? SocketIOArguments.fromWire([packet]) { checkStable(arguments) }
        checkJSON(packet, size: size)
    }
    if let data = response.data { checkJSON(data, size: size) }
    for socket in response.sockets ?? [] {
        fuzzCheck((try? JSONValue.parse(socket.auth)) != nil, "socket auth is not JSON: \(hex(socket.auth))")
        fuzzCheck(socket.auth.count <= 6 * size + 64, "auth of \(socket.auth.count) bytes from \(size)")
    }
}

/// Arguments from the packet's values, if they make arguments, are valid and stable.
func checkArguments(_ packet: RedisWire.Packet, size: Int) {
    for value in packet.data { checkJSON(value, size: size) }
    guard let arguments = try? packet.arguments() else { return }
    checkStable(arguments)
}

func checkStable(_ arguments: SocketIOArguments) {
    guard let again = try? SocketIOArguments.fromWire(arguments.wireValues()[...]) else {
        fuzzFail("arguments do not survive wire values: \(arguments.jsonText)")
    }
    fuzzCheck(again == arguments, "arguments changed through wire values: \(arguments.jsonText) -> \(again.jsonText)")
}

/// The value's JSON text parses, and is not larger than the input justifies: at most 6 bytes per input byte (a
/// control character in a string becomes `\u00XX`; an invalid UTF-8 byte U+FFFD, 3 bytes; a binary's byte up to
/// 4 in a Buffer object), plus a constant.
func checkJSON(_ value: MsgPackValue, size: Int) {
    let text = value.jsonValue().serialize()
    fuzzCheck((try? JSONValue.parse(text)) != nil, "not JSON: \(String(decoding: text.prefix(200), as: UTF8.self))")
    fuzzCheck(text.count <= 6 * size + 64, "JSON of \(text.count) bytes from \(size)")
}

/// `undefined` inside an array is written as nil (notepack), so it comes back as null.
func normalized(_ value: MsgPackValue) -> MsgPackValue {
    switch value {
    case .undefined: return .null
    case .array(let elements): return .array(elements.map(normalized))
    case .map(let members): return .map(members.filter { !$0.1.isUndefined }.map { ($0.0, normalized($0.1)) })
    default: return value
    }
}

func normalized(_ packet: RedisWire.Packet) -> RedisWire.Packet {
    var packet = packet
    packet.data = packet.data.map(normalized)
    return packet
}

func normalized(_ broadcast: RedisWire.Broadcast) -> RedisWire.Broadcast {
    var broadcast = broadcast
    broadcast.packet = normalized(broadcast.packet)
    return broadcast
}

func normalized(_ request: RedisWire.Request) -> RedisWire.Request {
    var request = request
    request.packet = request.packet.map(normalized)
    return request
}

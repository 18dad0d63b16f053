import CMsgpack
import SocketIOCodec

/// Decodes one packet of socket.io-msgpack-parser 3.0: a msgpack map `{type, data, nsp, id}` in one binary
/// message. Pure (bytes in, a packet out), so it is fuzzed on its own (Fuzz/harnesses/msgpack_packet.swift).
///
/// Refuses what that parser refuses (a type outside 0-4, a namespace that is not a string, data of the wrong shape
/// for the type, an id that is not an integer) and, like the JSON parser, events named like the reserved ones.
/// The packet's payload is the JSON text of `data` (binaries as placeholders, their bytes as attachments), so
/// handlers see the same arguments whatever the parser.
public enum MsgPackPacketDecoder {
    private static let typeKey: [UInt8] = Array("type".utf8)
    private static let nspKey: [UInt8] = Array("nsp".utf8)
    private static let idKey: [UInt8] = Array("id".utf8)
    private static let dataKey: [UInt8] = Array("data".utf8)

    public static func decode(_ binary: [UInt8]) throws(SocketIOCodecError) -> SocketIOPacket {
        let outcome: Result<SocketIOPacket, SocketIOCodecError> = binary.withUnsafeBytes { raw in
            Result { () throws(SocketIOCodecError) -> SocketIOPacket in
                try MsgPackValue.withObject(raw) { (root) throws(SocketIOCodecError) -> SocketIOPacket in try decode(root) }
            }
        }
        return try outcome.get()
    }

    /// The packet of an unpacked root object, read in place: only the members' scalars become values, `data` is
    /// written straight to JSON.
    static func decode(_ root: msgpack_object) throws(SocketIOCodecError) -> SocketIOPacket {
        guard root.type == MSGPACK_OBJECT_MAP else { throw SocketIOCodecError.invalidPayload }
        // A repeated member takes its last value that is not `undefined`, as the JavaScript object notepack makes.
        var typeObject: msgpack_object?, nspObject: msgpack_object?, idObject: msgpack_object?
        var data: msgpack_object?
        let map = root.via.map
        for index in 0..<Int(map.size) {
            let pair = map.ptr[index]
            guard pair.key.type == MSGPACK_OBJECT_STR, !MsgPackValue.isUndefined(pair.val) else { continue }
            let key = MsgPackValue.utf8(pair.key)
            if MsgPackValue.same(key, typeKey) { typeObject = pair.val }
            else if MsgPackValue.same(key, nspKey) { nspObject = pair.val }
            else if MsgPackValue.same(key, idKey) { idObject = pair.val }
            else if MsgPackValue.same(key, dataKey) { data = pair.val }
        }
        guard let typeNumber = typeObject.flatMap({ MsgPackValue(object: $0).wholeInteger }), (0...4).contains(typeNumber),
              let type = SocketIOPacketType(rawValue: UInt8(typeNumber)) else { throw SocketIOCodecError.unknownPacketType }
        guard let namespace = nspObject.flatMap({ MsgPackValue(object: $0).stringValue }) else {
            throw SocketIOCodecError.invalidNamespace
        }
        var ackId: UInt64?
        if let idObject {
            guard let number = MsgPackValue(object: idObject).wholeNonNegative, number < 1 << 53 else {
                throw SocketIOCodecError.invalidAckId
            }
            ackId = number
        }
        let isMap = data?.type == MSGPACK_OBJECT_MAP
        switch type {
        case .connect:
            guard data == nil || isMap else { throw SocketIOCodecError.invalidPayload }
        case .disconnect:
            guard data == nil else { throw SocketIOCodecError.invalidPayload }
        case .connectError:
            guard data?.type == MSGPACK_OBJECT_STR || isMap else { throw SocketIOCodecError.invalidPayload }
        default:
            guard let data, data.type == MSGPACK_OBJECT_ARRAY else { throw SocketIOCodecError.invalidPayload }
            if type == .event {
                guard data.via.array.size > 0 else { throw SocketIOCodecError.invalidPayload }
                let first = MsgPackValue(object: data.via.array.ptr[0])
                if let name = first.stringValue {
                    guard !socketIOReservedEvents.contains(name) else { throw SocketIOCodecError.invalidPayload }
                } else if first.doubleValue == nil {
                    throw SocketIOCodecError.invalidPayload
                }
            }
        }
        var payload: [UInt8]?
        var attachments: [[UInt8]] = []
        if let data {
            var json: [UInt8] = []
            json.reserveCapacity(64)
            var lookalikes = false
            MsgPackValue.appendJSON(object: data, to: &json, attachments: &attachments, lookalikes: &lookalikes)
            // A map that looks like a placeholder would be taken for a binary: refused, as the JSON parser refuses
            // placeholders that point nowhere. Without such a map the text holds exactly the placeholders written
            // for the binaries, so the scan is only for packets that have one.
            let count = attachments.count
            guard !lookalikes || json.withUnsafeBytes({ JSONScanner.placeholderCount($0, attachmentCount: count) }) == count
            else { throw SocketIOCodecError.illegalAttachments }
            payload = json
        }
        return SocketIOPacket(type: type, namespace: namespace, ackId: ackId, payload: payload, attachments: attachments)
    }
}

extension MsgPackValue {
    public var isMap: Bool { if case .map = self { true } else { false } }
    /// An integer value of any msgpack form (a whole float included, as JavaScript's Number.isInteger sees it).
    public var wholeInteger: Int? {
        guard let number = doubleValue, number.rounded() == number, abs(number) < 1e15 else { return nil }
        return Int(number)
    }
}

import SocketIOCodec

/// Decodes one packet of socket.io-msgpack-parser 3.0: a msgpack map `{type, data, nsp, id}` in one binary
/// message. Pure (bytes in, a packet out), so it is fuzzed on its own (Fuzz/harnesses/msgpack_packet.swift).
///
/// Refuses what that parser refuses (a type outside 0-4, a namespace that is not a string, data of the wrong shape
/// for the type, an id that is not an integer) and, like the JSON parser, events named like the reserved ones.
/// The packet's payload is the JSON text of `data` (binaries as placeholders, their bytes as attachments), so
/// handlers see the same arguments whatever the parser.
public enum MsgPackPacketDecoder {
    public static func decode(_ binary: [UInt8]) throws(SocketIOCodecError) -> SocketIOPacket {
        let value: MsgPackValue
        do {
            value = try MsgPackValue.decode(binary)
        } catch {
            throw SocketIOCodecError(reason: "msgpack parser: \(error)")
        }
        guard case .map = value else { throw SocketIOCodecError.invalidPayload }
        guard let typeNumber = value["type"]?.wholeInteger, (0...4).contains(typeNumber),
              let type = SocketIOPacketType(rawValue: UInt8(typeNumber)) else { throw SocketIOCodecError.unknownPacketType }
        guard let namespace = value["nsp"]?.stringValue else { throw SocketIOCodecError.invalidNamespace }
        var ackId: UInt64?
        if let id = value["id"], !id.isUndefined {
            guard let number = id.wholeNonNegative, number < 1 << 53 else { throw SocketIOCodecError.invalidAckId }
            ackId = number
        }
        let data = value["data"].flatMap { $0.isUndefined ? nil : $0 }
        switch type {
        case .connect:
            guard data == nil || data?.isMap == true else { throw SocketIOCodecError.invalidPayload }
        case .disconnect:
            guard data == nil else { throw SocketIOCodecError.invalidPayload }
        case .connectError:
            guard data?.stringValue != nil || data?.isMap == true else { throw SocketIOCodecError.invalidPayload }
        default:
            guard let elements = data?.arrayValue else { throw SocketIOCodecError.invalidPayload }
            if type == .event {
                guard let first = elements.first else { throw SocketIOCodecError.invalidPayload }
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
            data.appendJSON(to: &json, attachments: &attachments)
            // A map that looks like a placeholder would be taken for a binary: refused, as the JSON parser refuses
            // placeholders that point nowhere.
            let count = attachments.count
            guard json.withUnsafeBytes({ JSONScanner.placeholderCount($0, attachmentCount: count) }) == count else {
                throw SocketIOCodecError.illegalAttachments
            }
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

// The msgpack parser's conversions as they were before the direct paths (MsgPackObjectJSON.swift,
// MsgPackJSONWriter.swift): through a tree of MsgPackValues. The msgpack_packet harness checks that the direct
// paths give the same packets, errors and bytes.

enum MsgPackReference {
    /// msgpack bytes -> MsgPackValue -> JSON text, as MsgPackPacketDecoder.decode did.
    static func decode(_ binary: [UInt8]) throws(SocketIOCodecError) -> SocketIOPacket {
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
            let count = attachments.count
            guard json.withUnsafeBytes({ JSONScanner.placeholderCount($0, attachmentCount: count) }) == count else {
                throw SocketIOCodecError.illegalAttachments
            }
            payload = json
        }
        return SocketIOPacket(type: type, namespace: namespace, ackId: ackId, payload: payload, attachments: attachments)
    }

    /// JSON values -> MsgPackValue -> msgpack bytes, as MsgPackParser.encode did for its `data`.
    static func encode(_ values: [JSONValue], attachments: [[UInt8]]?) -> [UInt8] {
        MsgPackValue.array(values.map { MsgPackValue(json: $0, attachments: attachments) }).encoded()
    }

    /// The same through the direct writer.
    static func encodeDirect(_ values: [JSONValue], attachments: [[UInt8]]?) -> [UInt8] {
        let writer = MsgPackWriter()
        writer.writeArrayHeader(values.count)
        for value in values { writer.write(json: value, attachments: attachments) }
        return writer.bytes
    }

    /// The same from the JSON text in one walk (MsgPackJSONText.swift), or nil where that walk declines the text.
    static func encodeText(_ text: [UInt8], attachments: [[UInt8]]) -> [UInt8]? {
        let writer = MsgPackWriter()
        let written = text.withUnsafeBytes { writer.writeArguments(json: $0, leading: nil, attachments: attachments) }
        return written ? writer.bytes : nil
    }
}

import MsgPackCodec
import SocketIOCodec

/// The msgpack parser, byte-compatible with socket.io-msgpack-parser 3.0 (notepack.io): each packet is one
/// binary message holding one map `{type, data, nsp, id}`; types 0-4 only (binaries travel inside `data`, so
/// there are no BINARY_* types and no attachments on the wire). Decoding refuses what that parser refuses
/// (type, namespace, data shape per type, integer id) and, like the JSON parser, events named like the reserved
/// ones. Handlers see the same arguments as with JSON: binaries become placeholders and attachments.
public struct MsgPackParser: SocketIOParser {
    public init() {}

    public var name: String { "msgpack" }

    /// The msgpack parser reads binary messages only (notepack cannot decode a string).
    public func decode(text: [UInt8]) throws -> SocketIOPacket {
        throw SocketIOCodecError(reason: "msgpack parser: text message")
    }

    public func decode(binary: [UInt8]) throws -> SocketIOPacket {
        try MsgPackPacketDecoder.decode(binary)
    }

    public func encode(_ packet: SocketIOOutgoingPacket) -> [SocketIOWireMessage] {
        let nsp: (String, MsgPackValue) = ("nsp", .string(packet.namespace))
        let id: (String, MsgPackValue)? = packet.ackId.map { ("id", .uint($0)) }
        var fields: [(String, MsgPackValue)]
        // The field order of the reference's packet objects (notepack writes keys in insertion order).
        switch packet.kind {
        case .event(let event):
            let data: (String, MsgPackValue) = ("data", .array([.string(event.event)] + Self.values(event.arguments)))
            fields = [("type", .uint(2)), data]
            if packet.throughAdapter {
                fields.append(nsp)
                if let id { fields.append(id) }
            } else {
                if let id { fields.append(id) }
                fields.append(nsp)
            }
        case .ack(let arguments):
            fields = (id.map { [$0] } ?? []) + [("type", .uint(3)), ("data", .array(Self.values(arguments))), nsp]
        case .control(let type, let payload):
            fields = [("type", .uint(UInt64(type.rawValue)))]
            if let payload, let json = try? JSONValue.parse(payload) { fields.append(("data", MsgPackValue(json: json))) }
            fields.append(nsp)
        }
        return [.binary(MsgPackValue.map(fields).encoded())]
    }

    /// Arguments as msgpack values, placeholders back to binaries.
    static func values(_ arguments: SocketIOArguments) -> [MsgPackValue] {
        guard let values = try? arguments.values() else { return [] }
        let attachments = arguments.attachments.isEmpty ? nil : arguments.attachments
        return values.map { MsgPackValue(json: $0, attachments: attachments) }
    }
}

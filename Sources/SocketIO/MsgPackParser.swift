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
        // Events and acks as the official client sends them in one walk, their arguments kept to be sent on as they
        // came; anything else through msgpack-c.
        if let packet = MsgPackPacketFastPath.decode(binary) { return packet }
        return try MsgPackPacketDecoder.decode(binary)
    }

    public func encode(_ packet: SocketIOOutgoingPacket) -> [SocketIOWireMessage] {
        // Written straight to the packer (no tree of values): the field order of the reference's packet objects
        // (notepack writes keys in insertion order).
        let writer = MsgPackWriter(capacity: Self.expectedSize(packet))
        func nsp() { writer.writeString("nsp"); writer.writeString(packet.namespace) }
        func id() { if let ackId = packet.ackId { writer.writeString("id"); writer.writeUInt(ackId) } }
        func type(_ number: UInt64) { writer.writeString("type"); writer.writeUInt(number) }
        let idCount = packet.ackId == nil ? 0 : 1
        switch packet.kind {
        case .event(let event):
            writer.writeMapHeader(3 + idCount)
            type(2)
            writer.writeString("data")
            Self.writeArguments(event.arguments, leading: event.event, to: writer)
            if packet.throughAdapter {
                nsp()
                id()
            } else {
                id()
                nsp()
            }
        case .ack(let arguments):
            writer.writeMapHeader(3 + idCount)
            id()
            type(3)
            writer.writeString("data")
            Self.writeArguments(arguments, leading: nil, to: writer)
            nsp()
        case .control(let controlType, let payload):
            let json = payload.flatMap { try? JSONValue.parse($0) }
            writer.writeMapHeader(json == nil ? 2 : 3)
            type(UInt64(controlType.rawValue))
            if let json {
                writer.writeString("data")
                writer.write(json: json, attachments: nil)
            }
            nsp()
        }
        return [.binary(writer.bytes)]
    }

    /// About the packet's msgpack size (its JSON arguments, binaries, names and the map's keys), so that the writer's
    /// buffer is allocated once.
    static func expectedSize(_ packet: SocketIOOutgoingPacket) -> Int {
        let arguments: SocketIOArguments?
        switch packet.kind {
        case .event(let event): arguments = event.arguments
        case .ack(let values): arguments = values
        case .control: arguments = nil
        }
        let binaries = arguments?.attachments.reduce(0) { $0 + $1.count + 5 } ?? 0
        return (arguments?.json.count ?? 64) + binaries + packet.namespace.utf8.count + 48
    }

    /// The arguments as a msgpack array (after `leading`, the event name), placeholders back to binaries: in one
    /// walk over their JSON text, or for the shapes that walk leaves alone through parsed values.
    static func writeArguments(_ arguments: SocketIOArguments, leading: String?, to writer: MsgPackWriter) {
        if let packed = arguments.packed {
            writer.writeArrayHeader(packed.location.count + (leading == nil ? 0 : 1))
            if let leading { writer.writeString(leading) }
            packed.message.withUnsafeBytes { writer.writeRaw(UnsafeRawBufferPointer(rebasing: $0[packed.location.range])) }
            return
        }
        let written = arguments.json.withUnsafeBytes {
            writer.writeArguments(json: $0, leading: leading, attachments: arguments.attachments)
        }
        if written { return }
        let values = (try? arguments.values()) ?? []
        let attachments = arguments.attachments.isEmpty ? nil : arguments.attachments
        writer.writeArrayHeader(values.count + (leading == nil ? 0 : 1))
        if let leading { writer.writeString(leading) }
        for value in values { writer.write(json: value, attachments: attachments) }
    }
}

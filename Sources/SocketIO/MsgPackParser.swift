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
        // Arguments kept as they came (an ack or relay of what a client sent): their bytes copied into one array.
        if let packed = packet.packedArguments {
            var buffer = MsgPackBuffer(capacity: Self.expectedSize(packet, packed))
            Self.write(packet, to: &buffer)
            if !buffer.abandoned { return [.binary(buffer.bytes)] }
        }
        var writer = MsgPackWriter(capacity: Self.expectedSize(packet))
        Self.write(packet, to: &writer)
        return [.binary(writer.bytes)]
    }

    /// The packet's map, with the field order of the reference's packet objects (notepack writes keys in insertion
    /// order).
    static func write<Writer: PacketWriter>(_ packet: SocketIOOutgoingPacket, to writer: inout Writer) {
        func nsp() { writer.writeKey("nsp"); writer.writeString(packet.namespace) }
        func id() { if let ackId = packet.ackId { writer.writeKey("id"); writer.writeUInt(ackId) } }
        func type(_ number: UInt64) { writer.writeKey("type"); writer.writeUInt(number) }
        let idCount = packet.ackId == nil ? 0 : 1
        switch packet.kind {
        case .event(let event):
            writer.writeMapHeader(3 + idCount)
            type(2)
            writer.writeKey("data")
            writer.writeArguments(event.arguments, leading: event.event)
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
            writer.writeKey("data")
            writer.writeArguments(arguments, leading: nil)
            nsp()
        case .control(let controlType, let payload):
            let json = payload.flatMap { try? JSONValue.parse($0) }
            writer.writeMapHeader(json == nil ? 2 : 3)
            type(UInt64(controlType.rawValue))
            if let json {
                writer.writeKey("data")
                writer.writeControlPayload(json)
            }
            nsp()
        }
    }

    /// About the packet's size when its arguments are packed (their bytes, the names, and room for the map's
    /// headers and numbers), reserved once.
    static func expectedSize(_ packet: SocketIOOutgoingPacket, _ packed: PackedArguments) -> Int {
        let leading = if case .event(let event) = packet.kind { event.event.utf8.count } else { 0 }
        return packed.location.range.count + leading + packet.namespace.utf8.count + 96
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

}

extension SocketIOOutgoingPacket {
    /// The arguments as the msgpack parser received them, when the packet passes them on.
    var packedArguments: PackedArguments? {
        switch kind {
        case .event(let event): return event.arguments.packed
        case .ack(let arguments): return arguments.packed
        case .control: return nil
        }
    }
}

/// The two writers of the msgpack parser's packets: msgpack-c's (`MsgPackWriter`) for anything, and `MsgPackBuffer`
/// around arguments kept as they came.
protocol PacketWriter {
    mutating func writeMapHeader(_ count: Int)
    mutating func writeArrayHeader(_ count: Int)
    mutating func writeString(_ text: String)
    mutating func writeKey(_ key: StaticString)
    mutating func writeUInt(_ number: UInt64)
    mutating func writeRaw(_ bytes: UnsafeRawBufferPointer)
    /// The arguments as a msgpack array, after `leading` (an event's name).
    mutating func writeArguments(_ arguments: SocketIOArguments, leading: String?)
    mutating func writeControlPayload(_ json: JSONValue)
}

extension PacketWriter {
    /// Packed arguments: their own bytes after the array header (and the name); false when they are not packed.
    fileprivate mutating func writePacked(_ arguments: SocketIOArguments, leading: String?) -> Bool {
        guard let packed = arguments.packed else { return false }
        writeArrayHeader(packed.location.count + (leading == nil ? 0 : 1))
        if let leading { writeString(leading) }
        packed.message.withUnsafeBytes { writeRaw(UnsafeRawBufferPointer(rebasing: $0[packed.location.range])) }
        return true
    }
}

extension MsgPackBuffer: PacketWriter {
    /// Packed arguments only: anything else abandons the buffer, and the packet goes through `MsgPackWriter`.
    mutating func writeArguments(_ arguments: SocketIOArguments, leading: String?) {
        if !writePacked(arguments, leading: leading) { abandon() }
    }

    mutating func writeControlPayload(_ json: JSONValue) { abandon() }
}

extension MsgPackWriter: PacketWriter {
    /// Packed arguments as they are; others in one walk over their JSON text, or for the shapes that walk leaves
    /// alone through parsed values; placeholders back to binaries.
    func writeArguments(_ arguments: SocketIOArguments, leading: String?) {
        var writer = self
        if writer.writePacked(arguments, leading: leading) { return }
        let written = arguments.json.withUnsafeBytes {
            writeArguments(json: $0, leading: leading, attachments: arguments.attachments)
        }
        if written { return }
        let values = (try? arguments.values()) ?? []
        let attachments = arguments.attachments.isEmpty ? nil : arguments.attachments
        writeArrayHeader(values.count + (leading == nil ? 0 : 1))
        if let leading { writeString(leading) }
        for value in values { write(json: value, attachments: attachments) }
    }

    func writeControlPayload(_ json: JSONValue) { write(json: json, attachments: nil) }
}

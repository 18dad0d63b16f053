import CMsgpack
import SocketIOCodec

/// JSON text written straight to MessagePack in one walk (`JSONWalker`), without parsing it into `JSONValue`s: the
/// msgpack parser's way out for every packet's arguments. The bytes are the ones `write(json:attachments:)` writes
/// for the parsed text.
extension MsgPackWriter {
    /// Writes the JSON array `json` as a msgpack array, `leading` (the event name) first; placeholders become the
    /// binaries they stand for. Returns false, having written nothing, for a text `JSONWalker` leaves to the
    /// general path (unusual objects: many members, repeated or index keys, odd placeholders).
    public func writeArguments(json: UnsafeRawBufferPointer, leading: String?, attachments: [[UInt8]]) -> Bool {
        var visitor = ArgumentsVisitor(writer: self, leading: leading, attachments: attachments)
        // The root must be an array for its header to take `leading`: arguments always are.
        guard let first = json.first(where: { $0 > 0x20 }), first == UInt8(ascii: "[") else { return false }
        return JSONWalker.walk(json, attachmentCount: attachments.count, into: &visitor)
    }

    public func writeString(utf8: UnsafeBufferPointer<UInt8>) {
        msgpack_pack_str(packer, utf8.count)
        _ = msgpack_pack_str_body(packer, utf8.baseAddress, utf8.count)
    }
}

private struct ArgumentsVisitor: JSONVisitor {
    let writer: MsgPackWriter
    let leading: String?
    let attachments: [[UInt8]]
    var atRoot = true

    mutating func beginArray(count: Int) {
        guard atRoot else {
            msgpack_pack_array(writer.packer, count)
            return
        }
        atRoot = false
        msgpack_pack_array(writer.packer, count + (leading == nil ? 0 : 1))
        if let leading { writer.writeString(leading) }
    }

    func beginObject(count: Int) { msgpack_pack_map(writer.packer, count) }
    func key(_ utf8: UnsafeBufferPointer<UInt8>) { writer.writeString(utf8: utf8) }
    func string(_ utf8: UnsafeBufferPointer<UInt8>) { writer.writeString(utf8: utf8) }
    func number(_ value: Double) { writer.write(MsgPackValue.number(value, dialect: writer.dialect)) }
    func bool(_ value: Bool) { if value { msgpack_pack_true(writer.packer) } else { msgpack_pack_false(writer.packer) } }
    func null() { msgpack_pack_nil(writer.packer) }

    func placeholder(_ index: Int) {
        attachments[index].withUnsafeBytes { raw in
            msgpack_pack_bin(writer.packer, raw.count)
            _ = msgpack_pack_bin_body(writer.packer, raw.baseAddress, raw.count)
        }
    }
}

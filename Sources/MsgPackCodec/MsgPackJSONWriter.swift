import CMsgpack
import SocketIOCodec

/// JSON values written straight to MessagePack, without building `MsgPackValue`s first (the msgpack parser's hot
/// path: every outgoing packet). The bytes are the ones `MsgPackValue(json:attachments:dialect:).encoded()` writes.
extension MsgPackWriter {
    /// Writes `json` as notepack writes the JavaScript value `JSON.parse` makes of it; placeholders become the
    /// binaries they stand for when `attachments` is given.
    public func write(json: JSONValue, attachments: [[UInt8]]?) {
        switch json {
        case .null: msgpack_pack_nil(packer)
        case .bool(let flag): if flag { msgpack_pack_true(packer) } else { msgpack_pack_false(packer) }
        case .number(let number): write(MsgPackValue.number(number, dialect: dialect))
        case .string(let text): writeString(text)
        case .array(let elements):
            msgpack_pack_array(packer, elements.count)
            for element in elements { write(json: element, attachments: attachments) }
        case .object(let members):
            if let attachments, let index = MsgPackValue.placeholderIndex(members), index < attachments.count {
                write(.binary(attachments[index]))
                return
            }
            let ordered = MsgPackValue.javaScriptOrder(members)
            msgpack_pack_map(packer, ordered.count)
            for (key, member) in ordered {
                writeString(key)
                write(json: member, attachments: attachments)
            }
        }
    }

    public func writeMapHeader(_ count: Int) { msgpack_pack_map(packer, count) }
    public func writeArrayHeader(_ count: Int) { msgpack_pack_array(packer, count) }
    public func writeUInt(_ number: UInt64) { msgpack_pack_uint64(packer, number) }
    /// A map's key known at compile time.
    public func writeKey(_ key: StaticString) {
        msgpack_pack_str(packer, key.utf8CodeUnitCount)
        _ = msgpack_pack_str_body(packer, key.utf8Start, key.utf8CodeUnitCount)
    }
    /// Bytes that already are msgpack (`PackedArguments`), as they are.
    public func writeRaw(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        _ = msgpack_sbuffer_write(buffer, base.assumingMemoryBound(to: CChar.self), bytes.count)
    }
}

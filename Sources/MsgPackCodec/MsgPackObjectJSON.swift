import CMsgpack
import SocketIOCodec
#if canImport(Glibc)
import Glibc
#endif

/// msgpack-c's unpacked objects written straight to JSON text, without building `MsgPackValue`s first (the msgpack
/// parser's hot path: every incoming packet). The text is byte for byte what `MsgPackValue(object:)` and then
/// `appendJSON(binary: .placeholder)` write; the shapes this path does not handle itself (maps whose keys are not
/// all ASCII strings, repeat a key, name an array index, or are many) go through that slower path.
extension MsgPackValue {
    /// Runs `body` on the one value filling `bytes`, decoded by msgpack-c (the same checks as `decode`). The object
    /// lives in msgpack-c's zone only during `body`.
    static func withObject<T>(
        _ bytes: UnsafeRawBufferPointer, _ body: (msgpack_object) throws(SocketIOCodecError) -> T
    ) throws(SocketIOCodecError) -> T {
        guard let base = bytes.baseAddress, bytes.count > 0, declaredSizesFit(bytes) else {
            throw SocketIOCodecError(reason: "msgpack parser: \(MsgPackError.invalid)")
        }
        // A zone sized by the input: msgpack_unpack_next's default zone is an 8 KB chunk (two mallocs, one outside
        // the allocator's small-size cache) per message, dearer than unpacking a small packet. The zone grows by
        // further chunks if the estimate is short.
        var zone = msgpack_zone()
        guard msgpack_zone_init(&zone, min(8 * bytes.count + 256, Int(MSGPACK_ZONE_CHUNK_SIZE))) else {
            throw SocketIOCodecError(reason: "msgpack parser: out of memory")
        }
        defer { msgpack_zone_destroy(&zone) }
        var object = msgpack_object()
        var offset = 0
        let result = msgpack_unpack(base.assumingMemoryBound(to: CChar.self), bytes.count, &offset, &zone, &object)
        guard result == MSGPACK_UNPACK_SUCCESS, offset == bytes.count else {
            throw SocketIOCodecError(reason: "msgpack parser: \(MsgPackError.invalid)")
        }
        return try body(object)
    }

    /// notepack's `undefined` (`d4 00 00`): dropped from maps.
    static func isUndefined(_ object: msgpack_object) -> Bool {
        guard object.type == MSGPACK_OBJECT_EXT else { return false }
        let ext = object.via.ext
        return ext.type == 0 && ext.size == 1 && UInt8(bitPattern: ext.ptr[0]) == 0
    }

    /// The bytes of a str object.
    static func utf8(_ object: msgpack_object) -> UnsafeBufferPointer<UInt8> {
        let str = object.via.str
        guard let pointer = str.ptr, str.size > 0 else { return UnsafeBufferPointer(start: nil, count: 0) }
        return UnsafeBufferPointer(start: UnsafeRawPointer(pointer).assumingMemoryBound(to: UInt8.self), count: Int(str.size))
    }

    /// Byte equality of a key with `expected`, without the generic `elementsEqual` (hot: every member of every map).
    @inline(__always)
    static func same(_ bytes: UnsafeBufferPointer<UInt8>, _ expected: UnsafeBufferPointer<UInt8>) -> Bool {
        guard bytes.count == expected.count else { return false }
        return bytes.count == 0 || memcmp(bytes.baseAddress!, expected.baseAddress!, bytes.count) == 0
    }

    @inline(__always)
    static func same(_ bytes: UnsafeBufferPointer<UInt8>, _ expected: [UInt8]) -> Bool {
        expected.withUnsafeBufferPointer { same(bytes, $0) }
    }

    /// Appends the JSON text of `object` (binaries as placeholders, their bytes appended to `attachments`).
    /// `lookalikes` turns true when a map of the input may read as a placeholder (it has a `_placeholder` key, or
    /// went through the general path): only then must the caller count the text's placeholders.
    static func appendJSON(object: msgpack_object, to out: inout [UInt8], attachments: inout [[UInt8]],
                           lookalikes: inout Bool) {
        switch object.type {
        case MSGPACK_OBJECT_STR:
            let bytes = utf8(object)
            // Valid UTF-8 comes out as it went in: ASCII needs no String (which would repair invalid sequences).
            if isASCII(UnsafeRawBufferPointer(bytes)) {
                JSONScanner.appendQuoted(utf8: bytes, to: &out)
            } else {
                MsgPackValue(object: object).appendJSON(to: &out, attachments: &attachments)
            }
        case MSGPACK_OBJECT_ARRAY:
            let array = object.via.array
            out.append(UInt8(ascii: "["))
            for index in 0..<Int(array.size) {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                appendJSON(object: array.ptr[index], to: &out, attachments: &attachments, lookalikes: &lookalikes)
            }
            out.append(UInt8(ascii: "]"))
        case MSGPACK_OBJECT_MAP:
            guard plainKeys(object.via.map) else {
                lookalikes = true
                MsgPackValue(object: object).appendJSON(to: &out, attachments: &attachments)
                return
            }
            let map = object.via.map
            out.append(UInt8(ascii: "{"))
            var first = true
            for index in 0..<Int(map.size) {
                let pair = map.ptr[index]
                if isUndefined(pair.val) { continue }
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                let key = utf8(pair.key)
                if same(key, placeholderKey) { lookalikes = true }
                JSONScanner.appendQuoted(utf8: key, to: &out)
                out.append(UInt8(ascii: ":"))
                appendJSON(object: pair.val, to: &out, attachments: &attachments, lookalikes: &lookalikes)
            }
            out.append(UInt8(ascii: "}"))
        default:
            // Scalars, binaries and extensions: MsgPackValue holds them without a tree.
            MsgPackValue(object: object).appendJSON(to: &out, attachments: &attachments)
        }
    }

    private static let placeholderKey: [UInt8] = Array("_placeholder".utf8)

    /// Whether a map's members keep their msgpack order in JavaScript: at most 16 keys, all ASCII strings (whose
    /// String equality is byte equality), none an array index, none repeated.
    static func plainKeys(_ map: msgpack_object_map) -> Bool {
        let count = Int(map.size)
        guard count <= 16 else { return false }
        for index in 0..<count {
            let key = map.ptr[index].key
            guard key.type == MSGPACK_OBJECT_STR else { return false }
            let bytes = utf8(key)
            guard isASCII(UnsafeRawBufferPointer(bytes)), arrayIndex(utf8: bytes) == nil else { return false }
            for earlier in 0..<index where same(utf8(map.ptr[earlier].key), bytes) { return false }
        }
        return true
    }
}

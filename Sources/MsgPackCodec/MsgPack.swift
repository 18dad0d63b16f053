import CMsgpack
import SocketIOCodec
#if canImport(Glibc)
import Glibc
#endif

/// A MessagePack value as notepack.io (the codec of Node's redis adapter) reads and writes them.
///
/// Encoding follows notepack.io 3.0.1 byte for byte: integers in the smallest format (positive ones unsigned),
/// every non-integer number as float64, strings as fixstr/str8/str16/str32, binaries as bin8/16/32, `undefined`
/// as nil in arrays and dropped from maps. Decoding accepts what notepack writes plus its legacy forms
/// (`d4 00 00` is `undefined`, ext type 0 an ArrayBuffer) and timestamps (ext type -1, a JavaScript Date).
///
/// The bytes are produced and parsed by msgpack-c; this type is the Swift side of it.
public enum MsgPackValue: Sendable {
    case null
    /// JavaScript's `undefined`: nil inside an array, absent from a map.
    case undefined
    case bool(Bool)
    /// Integers that fit an Int64 (non-negative ones are written in the unsigned formats, as notepack does).
    case int(Int64)
    /// Integers above Int64.max.
    case uint(UInt64)
    case double(Double)
    case string(String)
    /// A Node Buffer (bin8/16/32).
    case binary([UInt8])
    case array([MsgPackValue])
    /// Members in order; keys are strings, as in a JavaScript object.
    case map([(String, MsgPackValue)])
    /// Extension types other than the ones decoded into values (-1 timestamp is kept as ext and written as an
    /// ISO date in JSON, as `JSON.stringify` writes a Date).
    case ext(type: Int8, data: [UInt8])
}

extension MsgPackValue: Equatable {
    public static func == (lhs: MsgPackValue, rhs: MsgPackValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null), (.undefined, .undefined): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.int(let a), .int(let b)): return a == b
        case (.uint(let a), .uint(let b)): return a == b
        case (.double(let a), .double(let b)): return a == b || (a.isNaN && b.isNaN)
        case (.string(let a), .string(let b)): return a == b
        case (.binary(let a), .binary(let b)): return a == b
        case (.array(let a), .array(let b)): return a == b
        case (.map(let a), .map(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case (.ext(let t1, let d1), .ext(let t2, let d2)): return t1 == t2 && d1 == d2
        default: return false
        }
    }
}

extension MsgPackValue {
    /// A number as notepack encodes a JavaScript number: integers (within the 64-bit formats) as integers,
    /// anything else as float64.
    public static func number(_ value: Double) -> MsgPackValue {
        if value.isFinite, value.rounded(.down) == value {
            if value >= 0 {
                if value < 9_223_372_036_854_775_808.0 { return .int(Int64(value)) }
                if value < 18_446_744_073_709_551_616.0 { return .uint(UInt64(value)) }
            } else if value >= -9_223_372_036_854_775_808.0 {
                return .int(Int64(value))
            }
        }
        return .double(value)
    }

    /// The value of the member `key` of a map, or nil.
    public subscript(key: String) -> MsgPackValue? {
        guard case .map(let members) = self else { return nil }
        return members.last(where: { $0.0 == key })?.1
    }

    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    public var arrayValue: [MsgPackValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// The number as a Double (integers included).
    public var doubleValue: Double? {
        switch self {
        case .int(let value): return Double(value)
        case .uint(let value): return Double(value)
        case .double(let value): return value
        default: return nil
        }
    }

    /// The number rounded to a whole count that is not negative (a timeout or a time in milliseconds, as Node
    /// writes them), or nil for a negative number, one beyond UInt64, or not a number.
    public var wholeNonNegative: UInt64? {
        doubleValue.flatMap { $0 >= 0 ? UInt64(exactly: $0.rounded()) : nil }
    }

    /// The number if it is an integer that fits an Int.
    public var intValue: Int? {
        switch self {
        case .int(let value): return Int(exactly: value)
        case .uint(let value): return Int(exactly: value)
        case .double(let value): return Int(exactly: value)
        default: return nil
        }
    }

    /// The strings of an array (other elements skipped), or nil when this is not an array.
    public var stringArray: [String]? {
        guard case .array(let elements) = self else { return nil }
        return elements.compactMap { element -> String? in
            switch element {
            case .string(let s): return s
            // JavaScript rooms may be numbers; they travel as numbers and name the room by their text.
            case .int, .uint, .double: return element.javaScriptText
            default: return nil
            }
        }
    }

    /// `undefined` or absent.
    public var isUndefined: Bool {
        if case .undefined = self { return true }
        return false
    }

    /// A number's text as JavaScript's `String(n)` writes it.
    public var javaScriptText: String? {
        switch self {
        case .int(let value) where value.magnitude <= 1 << 53: return String(value)
        default:
            guard let double = doubleValue else { return nil }
            return String(decoding: JSONValue.number(double).serialize(), as: UTF8.self)
        }
    }
}

// MARK: Encoding (msgpack-c packer)

extension MsgPackValue {
    /// The MessagePack bytes of the value, as notepack.io writes them.
    public func encoded() -> [UInt8] {
        let writer = MsgPackWriter()
        writer.write(self)
        return writer.bytes
    }
}

/// A msgpack-c packer writing into an `msgpack_sbuffer`; both live at fixed addresses (the packer keeps a pointer
/// to the buffer) until `deinit`.
public final class MsgPackWriter {
    let buffer: UnsafeMutablePointer<msgpack_sbuffer>
    let packer: UnsafeMutablePointer<msgpack_packer>
    let dialect: MsgPackDialect

    /// `capacity`: the bytes to expect. msgpack-c's buffer otherwise starts at 8 KB, a malloc and free per packet
    /// that costs more than packing a small one.
    public init(dialect: MsgPackDialect = .notepack, capacity: Int = 256) {
        self.dialect = dialect
        buffer = .allocate(capacity: 1)
        msgpack_sbuffer_init(buffer)
        if let data = malloc(max(capacity, 16)) {
            buffer.pointee.data = data.assumingMemoryBound(to: CChar.self)
            buffer.pointee.alloc = max(capacity, 16)
        }
        packer = .allocate(capacity: 1)
        sio_msgpack_packer_init_sbuffer(packer, buffer)
    }

    deinit {
        msgpack_sbuffer_destroy(buffer)
        buffer.deallocate()
        packer.deallocate()
    }

    public var bytes: [UInt8] {
        guard buffer.pointee.size > 0, let data = buffer.pointee.data else { return [] }
        return [UInt8](UnsafeRawBufferPointer(start: data, count: buffer.pointee.size))
    }

    public func write(_ value: MsgPackValue) {
        switch value {
        case .null, .undefined:
            msgpack_pack_nil(packer)
        case .bool(let flag):
            if flag { msgpack_pack_true(packer) } else { msgpack_pack_false(packer) }
        case .int(let number):
            // msgpack-c picks the smallest format, unsigned ones for non-negative values, as notepack does.
            if number >= 0 { msgpack_pack_uint64(packer, UInt64(number)) } else { msgpack_pack_int64(packer, number) }
        case .uint(let number):
            msgpack_pack_uint64(packer, number)
        case .double(let number):
            msgpack_pack_double(packer, number)
        case .string(let text):
            writeString(text)
        case .binary(let data):
            msgpack_pack_bin(packer, data.count)
            data.withUnsafeBytes { raw in _ = msgpack_pack_bin_body(packer, raw.baseAddress, raw.count) }
        case .array(let elements):
            msgpack_pack_array(packer, elements.count)
            for element in elements { write(element) }
        case .map(let members):
            let present = dialect == .notepack ? members.filter { !$0.1.isUndefined } : members
            msgpack_pack_map(packer, present.count)
            for (key, member) in present {
                writeString(key)
                write(member)
            }
        case .ext(let type, let data):
            msgpack_pack_ext(packer, data.count, type)
            data.withUnsafeBytes { raw in _ = msgpack_pack_ext_body(packer, raw.baseAddress, raw.count) }
        }
    }

    public func writeString(_ text: String) {
        var text = text
        text.withUTF8 { utf8 in
            msgpack_pack_str(packer, utf8.count)
            _ = msgpack_pack_str_body(packer, utf8.baseAddress, utf8.count)
        }
    }
}

// MARK: Decoding (msgpack-c unpacker)

public enum MsgPackError: Error, Equatable, Sendable {
    /// Not one complete MessagePack value (truncated, malformed, nested too deep, or trailing bytes).
    case invalid
}

extension MsgPackValue {
    /// Decodes exactly one value filling `bytes`. Nesting is bounded by msgpack-c's unpacker stack (32 levels).
    public static func decode(_ bytes: [UInt8]) throws(MsgPackError) -> MsgPackValue {
        let outcome: Result<MsgPackValue, MsgPackError> = bytes.withUnsafeBytes { raw in
            do throws(MsgPackError) {
                return .success(try decode(raw))
            } catch {
                return .failure(error)
            }
        }
        return try outcome.get()
    }

    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(MsgPackError) -> MsgPackValue {
        guard let base = bytes.baseAddress, bytes.count > 0 else { throw .invalid }
        // msgpack-c reserves room for an array's or map's members from the count in its header: refuse counts the
        // input cannot hold before it allocates (fuzz finding msgpack-alloc: 5 bytes asked for 8 GiB).
        guard declaredSizesFit(bytes) else { throw .invalid }
        var unpacked = msgpack_unpacked()
        msgpack_unpacked_init(&unpacked)
        defer { msgpack_unpacked_destroy(&unpacked) }
        var offset = 0
        let result = msgpack_unpack_next(&unpacked, base.assumingMemoryBound(to: CChar.self), bytes.count, &offset)
        guard result == MSGPACK_UNPACK_SUCCESS, offset == bytes.count else { throw .invalid }
        return MsgPackValue(object: unpacked.data)
    }

    init(object: msgpack_object) {
        switch object.type {
        case MSGPACK_OBJECT_NIL:
            self = .null
        case MSGPACK_OBJECT_BOOLEAN:
            self = .bool(object.via.boolean)
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
            let value = object.via.u64
            self = value <= UInt64(Int64.max) ? .int(Int64(value)) : .uint(value)
        case MSGPACK_OBJECT_NEGATIVE_INTEGER:
            self = .int(object.via.i64)
        case MSGPACK_OBJECT_FLOAT32, MSGPACK_OBJECT_FLOAT64:
            self = .double(object.via.f64)
        case MSGPACK_OBJECT_STR:
            self = .string(MsgPackValue.text(object.via.str.ptr, Int(object.via.str.size)))
        case MSGPACK_OBJECT_BIN:
            self = .binary(MsgPackValue.bytes(object.via.bin.ptr, Int(object.via.bin.size)))
        case MSGPACK_OBJECT_ARRAY:
            let array = object.via.array
            var elements: [MsgPackValue] = []
            elements.reserveCapacity(Int(array.size))
            for index in 0..<Int(array.size) { elements.append(MsgPackValue(object: array.ptr[index])) }
            self = .array(elements)
        case MSGPACK_OBJECT_MAP:
            let map = object.via.map
            var members: [(String, MsgPackValue)] = []
            members.reserveCapacity(Int(map.size))
            for index in 0..<Int(map.size) {
                let pair = map.ptr[index]
                let value = MsgPackValue(object: pair.val)
                if value.isUndefined { continue }
                let key = MsgPackValue(object: pair.key)
                let name: String
                switch key {
                case .string(let s): name = s
                case .null: name = "null"
                case .bool(let b): name = b ? "true" : "false"
                default: name = key.javaScriptText ?? ""
                }
                // A repeated key keeps its first position and takes the last value, as a JavaScript object does.
                if let position = members.firstIndex(where: { $0.0 == name }) {
                    members[position].1 = value
                } else {
                    members.append((name, value))
                }
            }
            self = .map(members)
        case MSGPACK_OBJECT_EXT:
            let ext = object.via.ext
            let data = MsgPackValue.bytes(ext.ptr, Int(ext.size))
            if ext.type == 0 {
                // notepack: `d4 00 00` is undefined; other ext type 0 payloads are ArrayBuffers.
                self = data == [0] ? .undefined : .binary(data)
            } else {
                self = .ext(type: ext.type, data: data)
            }
        default:
            self = .null
        }
    }

    private static func bytes(_ pointer: UnsafePointer<CChar>?, _ count: Int) -> [UInt8] {
        guard let pointer, count > 0 else { return [] }
        return [UInt8](UnsafeRawBufferPointer(start: pointer, count: count))
    }

    private static func text(_ pointer: UnsafePointer<CChar>?, _ count: Int) -> String {
        guard let pointer, count > 0 else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: pointer, count: count), as: UTF8.self)
    }
}

/// Whether every length and member count in a msgpack value fits in the bytes that follow it (each member takes at
/// least one byte). One linear pass over the headers, allocating nothing.
func declaredSizesFit(_ bytes: UnsafeRawBufferPointer) -> Bool {
    let count = bytes.count
    var index = 0
    while index < count {
        guard let (header, payload, members) = msgpackLayout(bytes, at: index) else { return false }
        let rest = count - index - header
        guard rest >= 0, payload <= rest, members <= rest else { return false }
        index += header + payload
    }
    return true
}

/// The layout of the value starting at `index`: its header's length, the bytes of payload after the header, and
/// the values nested in it (two per map member). Nil for the unused 0xC1 or a header cut short.
func msgpackLayout(_ bytes: UnsafeRawBufferPointer, at index: Int) -> (header: Int, payload: Int, members: Int)? {
    let count = bytes.count
    func bigEndian(_ at: Int, _ width: Int) -> Int? {
        guard at + width <= count else { return nil }
        var value = 0
        for index in 0..<width { value = value << 8 | Int(bytes[at + index]) }
        return value
    }
    let byte = bytes[index]
    var header = 1, payload = 0, members = 0
    switch byte {
    case 0x00...0x7F, 0xC0, 0xC2, 0xC3, 0xE0...0xFF: break
    case 0x80...0x8F: members = 2 * Int(byte & 0x0F)
    case 0x90...0x9F: members = Int(byte & 0x0F)
    case 0xA0...0xBF: payload = Int(byte & 0x1F)
    case 0xCC, 0xD0: payload = 1
    case 0xCD, 0xD1, 0xD4: payload = 2
    case 0xD5: payload = 3
    case 0xCA, 0xCE, 0xD2: payload = 4
    case 0xD6: payload = 5
    case 0xCB, 0xCF, 0xD3: payload = 8
    case 0xD7: payload = 9
    case 0xD8: payload = 17
    case 0xC4, 0xD9, 0xC7, 0xC5, 0xDA, 0xC8, 0xC6, 0xDB, 0xC9, 0xDC, 0xDD, 0xDE, 0xDF:
        let width: Int = switch byte {
        case 0xC4, 0xD9, 0xC7: 1
        case 0xC5, 0xDA, 0xC8, 0xDC, 0xDE: 2
        default: 4
        }
        guard let declared = bigEndian(index + 1, width) else { return nil }
        header = 1 + width
        switch byte {
        case 0xDC, 0xDD: members = declared
        case 0xDE, 0xDF: members = 2 * declared
        case 0xC7, 0xC8, 0xC9: payload = declared + 1  // ext: a type byte, then the data
        default: payload = declared
        }
    default: return nil  // 0xC1 is never used
    }
    return (header, payload, members)
}

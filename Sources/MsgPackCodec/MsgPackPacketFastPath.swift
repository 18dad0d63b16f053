import SocketIOCodec
#if canImport(Glibc)
import Glibc
#endif

/// The msgpack parser's fast path for EVENT and ACK packets in the form the official client sends them: one walk
/// over the bytes checks the form and gives the packet with its arguments left in their bytes (`PackedArguments`),
/// so that a handler passing them on (an ack echoing them, a relay) sends those bytes, and their JSON text is
/// written only when somebody reads it (the same walk, writing this time). Anything outside that form returns nil
/// and goes through `MsgPackPacketDecoder`, which decides; where this path answers, it answers what that decoder
/// would (the fuzz harness msgpack_packet checks it).
///
/// The form: a fixmap root with fixstr keys (`type` 2 or 3 as a fixint, `nsp` an ASCII string, `id` an unsigned
/// integer below 2^53, `data` an array; each at most once; other members skipped), an event name that is an ASCII
/// string, and arguments that encoding their JSON would write again byte for byte, i.e. as notepack writes the
/// JavaScript values: every header in its smallest form, integers smallest and unsigned when not negative, other
/// numbers as float64, no float32, no extension types, ASCII strings, maps with at most 16 plain keys (ASCII,
/// unescaped in JSON, unique, none an array index or `_placeholder`: the keys whose JavaScript order is their
/// msgpack order), nesting at most `maxDepth` deep.
public enum MsgPackPacketFastPath {
    /// Nesting deeper than this takes the general path (well within msgpack-c's own limit there).
    static let maxDepth = 16

    /// A member's key against one of the four (literals: nothing to initialise on every packet).
    @inline(__always) private static func same(_ key: UnsafeRawBufferPointer, _ expected: StaticString) -> Bool {
        sameBytes(key, UnsafeRawBufferPointer(start: expected.utf8Start, count: expected.utf8CodeUnitCount))
    }

    public static func decode(_ message: [UInt8]) -> SocketIOPacket? {
        message.withUnsafeBytes { decode($0, message: message) }
    }

    private static func decode(_ bytes: UnsafeRawBufferPointer, message: [UInt8]) -> SocketIOPacket? {
        var reader = Reader(bytes: bytes)
        guard let tag = reader.byte(), 0x80...0x8f ~= tag else { return nil }
        var type: SocketIOPacketType?, namespace: String?, ackId: UInt64?
        var dataStart: Int?
        var arguments: Arguments?
        for _ in 0..<Int(tag & 0x0f) {
            guard let keyTag = reader.byte(), 0xa0...0xbf ~= keyTag else { return nil }
            let keyStart = reader.offset
            guard reader.advance(UInt64(keyTag & 0x1f)) else { return nil }
            let key = UnsafeRawBufferPointer(rebasing: bytes[keyStart..<reader.offset])
            if same(key, "type") {
                guard type == nil, let number = reader.byte(), number == 2 || number == 3 else { return nil }
                type = number == 2 ? .event : .ack
            } else if same(key, "nsp") {
                guard namespace == nil, let name = reader.asciiStringValue() else { return nil }
                namespace = name
            } else if same(key, "id") {
                guard ackId == nil, let id = reader.unsignedInteger(), id < 1 << 53 else { return nil }
                ackId = id
            } else if same(key, "data") {
                guard dataStart == nil else { return nil }
                dataStart = reader.offset
                // The official client writes `type` first; otherwise `data` is skipped now and read at the end.
                if let type {
                    guard let read = Arguments.read(&reader, type: type) else { return nil }
                    arguments = read
                } else {
                    guard let count = reader.arrayHeader(), reader.skip(elements: count) else { return nil }
                }
            } else {
                guard reader.skip(depth: 0) else { return nil }
            }
        }
        guard reader.offset == bytes.count, let type, let namespace, let dataStart else { return nil }
        if arguments == nil {
            reader.offset = dataStart
            arguments = Arguments.read(&reader, type: type)
        }
        guard let arguments else { return nil }
        let packed = PackedArguments(message: message, location: arguments.location, eventName: arguments.eventName,
                                     reader: readJSON)
        return SocketIOPacket(type: type, namespace: namespace, ackId: ackId, packedArguments: packed)
    }

    /// The JSON text and attachments of arguments this path took (`PackedArguments` asks when they are read).
    @Sendable static func readJSON(_ elements: UnsafeRawBufferPointer, count: Int) -> PackedArguments.Read {
        var reader = Reader(bytes: elements)
        var text = JSONText(capacity: elements.count + 16)
        text.append(UInt8(ascii: "["))
        for index in 0..<count {
            if index > 0 { text.append(UInt8(ascii: ",")) }
            // Cannot fail: the decoder walked the same bytes.
            guard reader.json(depth: 0, into: &text) else { break }
        }
        text.append(UInt8(ascii: "]"))
        return PackedArguments.Read(json: text.json, attachments: text.attachments)
    }

    /// The `data` array of an EVENT or ACK, its form checked: the event name and where the arguments sit.
    private struct Arguments {
        var eventName: String?
        var location: PackedArguments.Location

        static func read(_ reader: inout Reader, type: SocketIOPacketType) -> Arguments? {
            guard var count = reader.arrayHeader() else { return nil }
            var eventName: String?
            if type == .event {
                guard count > 0, let name = reader.asciiString(), !isReservedEvent(utf8: name) else { return nil }
                eventName = String(decoding: name, as: UTF8.self)
                count -= 1
            }
            let start = reader.offset
            var check = FormCheck()
            for _ in 0..<count {
                guard reader.json(depth: 0, into: &check) else { return nil }
            }
            return Arguments(eventName: eventName,
                             location: PackedArguments.Location(range: start..<reader.offset, count: count))
        }
    }
}

/// Where the walk over arguments writes: nowhere while the decoder checks their form (`FormCheck`), their JSON
/// text and attachments when they are read (`JSONText`). One walk for both, so the two cannot disagree.
private protocol JSONOutput {
    mutating func append(_ byte: UInt8)
    mutating func append(literal: StaticString)
    mutating func integer(_ value: Int64)
    mutating func number(_ value: Double)
    /// A string of ASCII bytes, quoted and escaped.
    mutating func quoted(_ text: UnsafeRawBufferPointer)
    /// A binary: its placeholder in the text, its bytes the next attachment.
    mutating func binary(_ bytes: UnsafeRawBufferPointer)
}

private struct FormCheck: JSONOutput {
    @inline(__always) mutating func append(_ byte: UInt8) {}
    @inline(__always) mutating func append(literal: StaticString) {}
    @inline(__always) mutating func integer(_ value: Int64) {}
    @inline(__always) mutating func number(_ value: Double) {}
    @inline(__always) mutating func quoted(_ text: UnsafeRawBufferPointer) {}
    @inline(__always) mutating func binary(_ bytes: UnsafeRawBufferPointer) {}
}

private struct JSONText: JSONOutput {
    var json: [UInt8] = []
    var attachments: [[UInt8]] = []

    init(capacity: Int) { json.reserveCapacity(capacity) }

    mutating func append(_ byte: UInt8) { json.append(byte) }

    mutating func append(literal: StaticString) {
        json.append(contentsOf: UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

    /// |value| < 2^53: JavaScript writes its digits.
    mutating func integer(_ value: Int64) {
        if value < 0 { json.append(UInt8(ascii: "-")) }
        SocketIOPacketEncoder.appendDecimal(value.magnitude, to: &json)
    }

    mutating func number(_ value: Double) { JSONValue.number(value).append(to: &json) }

    mutating func quoted(_ text: UnsafeRawBufferPointer) {
        JSONScanner.appendQuoted(utf8: text.assumingMemoryBound(to: UInt8.self), to: &json)
    }

    mutating func binary(_ bytes: UnsafeRawBufferPointer) {
        SocketIOPacketEncoder.appendPlaceholder(attachments.count, to: &json)
        attachments.append(Array(bytes))
    }
}

/// Byte equality without the generic `elementsEqual` (every key of every packet).
@inline(__always) private func sameBytes(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
    a.count == b.count && (a.count == 0 || memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0)
}

private struct Reader {
    let bytes: UnsafeRawBufferPointer
    var offset = 0

    init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    mutating func byte() -> UInt8? {
        guard offset < bytes.count else { return nil }
        defer { offset += 1 }
        return bytes[offset]
    }

    /// A big-endian unsigned integer of `size` bytes.
    mutating func uint(_ size: Int) -> UInt64? {
        guard size <= bytes.count - offset else { return nil }
        var value: UInt64 = 0
        for index in 0..<size { value = value << 8 | UInt64(bytes[offset + index]) }
        offset += size
        return value
    }

    mutating func advance(_ count: UInt64) -> Bool {
        guard count <= UInt64(bytes.count - offset) else { return false }
        offset += Int(count)
        return true
    }

    mutating func arrayHeader() -> Int? {
        guard let tag = byte() else { return nil }
        switch tag {
        case 0x90...0x9f: return Int(tag & 0x0f)
        case 0xdc: return uint(2).map { Int($0) }
        case 0xdd: return uint(4).map { Int($0) }
        default: return nil
        }
    }

    /// A str of any header form.
    mutating func string() -> UnsafeRawBufferPointer? {
        guard let tag = byte() else { return nil }
        let length: UInt64?
        switch tag {
        case 0xa0...0xbf: length = UInt64(tag & 0x1f)
        case 0xd9: length = uint(1)
        case 0xda: length = uint(2)
        case 0xdb: length = uint(4)
        default: return nil
        }
        guard let length, length <= UInt64(bytes.count - offset) else { return nil }
        let start = offset
        offset += Int(length)
        return UnsafeRawBufferPointer(rebasing: bytes[start..<offset])
    }

    /// Skips one value of any form.
    mutating func skip(depth: Int) -> Bool {
        guard depth <= MsgPackPacketFastPath.maxDepth, offset < bytes.count,
              let (header, payload, members) = msgpackLayout(bytes, at: offset),
              header + payload <= bytes.count - offset else { return false }
        offset += header + payload
        for _ in 0..<members where !skip(depth: depth + 1) { return false }
        return true
    }

    /// Skips `count` values.
    mutating func skip(elements count: Int) -> Bool {
        for _ in 0..<count where !skip(depth: 1) { return false }
        return true
    }

    /// A str of any header form holding ASCII only.
    mutating func asciiString() -> UnsafeRawBufferPointer? {
        guard let text = string(), isASCII(text) else { return nil }
        return text
    }

    mutating func asciiStringValue() -> String? {
        asciiString().map { String(decoding: $0, as: UTF8.self) }
    }

    /// An unsigned integer in any of its forms (a positive fixint or uint 8 to 64).
    mutating func unsignedInteger() -> UInt64? {
        guard let tag = byte() else { return nil }
        switch tag {
        case 0x00...0x7f: return UInt64(tag)
        case 0xcc: return uint(1)
        case 0xcd: return uint(2)
        case 0xce: return uint(4)
        case 0xcf: return uint(8)
        default: return nil
        }
    }

    /// Reads one value and writes its JSON text to `out` (binaries as placeholders and attachments), as
    /// `MsgPackValue.appendJSON` writes it; false, having written part of it, when it is not in the form the JSON
    /// round trip writes again byte for byte.
    mutating func json<Output: JSONOutput>(depth: Int, into out: inout Output) -> Bool {
        guard depth <= MsgPackPacketFastPath.maxDepth, let tag = byte() else { return false }
        switch tag {
        case 0x00...0x7f: out.integer(Int64(tag)); return true
        case 0xe0...0xff: out.integer(Int64(Int8(bitPattern: tag))); return true
        case 0xc0: out.append(literal: "null"); return true
        case 0xc2: out.append(literal: "false"); return true
        case 0xc3: out.append(literal: "true"); return true
        // Unsigned integers in their smallest form; above 2^53 a JavaScript number is not the integer any more.
        case 0xcc: return uint(1).map { integer(Int64($0), above: 0x7f, into: &out) } ?? false
        case 0xcd: return uint(2).map { integer(Int64($0), above: 0xff, into: &out) } ?? false
        case 0xce: return uint(4).map { integer(Int64($0), above: 0xffff, into: &out) } ?? false
        case 0xcf: return uint(8).map { $0 < 1 << 53 && integer(Int64($0), above: 0xffff_ffff, into: &out) } ?? false
        // Signed forms only for negative values that need them.
        case 0xd0: return uint(1).map { signed(Int64(Int8(truncatingIfNeeded: $0)), below: -32, into: &out) } ?? false
        case 0xd1: return uint(2).map { signed(Int64(Int16(truncatingIfNeeded: $0)), below: -0x80, into: &out) } ?? false
        case 0xd2: return uint(4).map { signed(Int64(Int32(truncatingIfNeeded: $0)), below: -0x8000, into: &out) } ?? false
        case 0xd3:
            guard let bits = uint(8), Int64(bitPattern: bits) > -(1 << 53) else { return false }
            return signed(Int64(bitPattern: bits), below: -0x8000_0000, into: &out)
        // float64 for the numbers notepack does not write as integers (and JSON can carry: finite ones).
        case 0xcb:
            guard let bits = uint(8) else { return false }
            let value = Double(bitPattern: bits)
            guard value.isFinite, case .double = MsgPackValue.number(value) else { return false }
            out.number(value)
            return true
        case 0xa0...0xbf: return string(length: UInt64(tag & 0x1f), into: &out)
        case 0xd9: return uint(1).map { $0 >= 32 && string(length: $0, into: &out) } ?? false
        case 0xda: return uint(2).map { $0 > 0xff && string(length: $0, into: &out) } ?? false
        case 0xdb: return uint(4).map { $0 > 0xffff && string(length: $0, into: &out) } ?? false
        case 0xc4: return uint(1).map { binary(length: $0, into: &out) } ?? false
        case 0xc5: return uint(2).map { $0 > 0xff && binary(length: $0, into: &out) } ?? false
        case 0xc6: return uint(4).map { $0 > 0xffff && binary(length: $0, into: &out) } ?? false
        case 0x90...0x9f: return elements(UInt64(tag & 0x0f), depth: depth, into: &out)
        case 0xdc: return uint(2).map { $0 >= 16 && elements($0, depth: depth, into: &out) } ?? false
        case 0xdd: return uint(4).map { $0 > 0xffff && elements($0, depth: depth, into: &out) } ?? false
        case 0x80...0x8f: return members(Int(tag & 0x0f), depth: depth, into: &out)
        case 0xde: return uint(2).map { $0 == 16 && members(16, depth: depth, into: &out) } ?? false
        default: return false  // float32, extensions (undefined, dates, buffers), map32, the unused 0xc1
        }
    }

    /// A uint form's value, when a smaller form could not hold it.
    private func integer<Output: JSONOutput>(_ value: Int64, above smaller: Int64, into out: inout Output) -> Bool {
        guard value > smaller else { return false }
        out.integer(value)
        return true
    }

    private func signed<Output: JSONOutput>(_ value: Int64, below limit: Int64, into out: inout Output) -> Bool {
        guard value < limit else { return false }
        out.integer(value)
        return true
    }

    private mutating func string<Output: JSONOutput>(length: UInt64, into out: inout Output) -> Bool {
        guard length <= UInt64(bytes.count - offset) else { return false }
        let text = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + Int(length))])
        offset += Int(length)
        guard isASCII(text) else { return false }
        out.quoted(text)
        return true
    }

    private mutating func binary<Output: JSONOutput>(length: UInt64, into out: inout Output) -> Bool {
        guard length <= UInt64(bytes.count - offset) else { return false }
        out.binary(UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + Int(length))]))
        offset += Int(length)
        return true
    }

    private mutating func elements<Output: JSONOutput>(_ count: UInt64, depth: Int, into out: inout Output) -> Bool {
        out.append(UInt8(ascii: "["))
        for index in 0..<count {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            guard json(depth: depth + 1, into: &out) else { return false }
        }
        out.append(UInt8(ascii: "]"))
        return true
    }

    /// At most 16 members (the header already says so) with plain keys.
    private mutating func members<Output: JSONOutput>(_ count: Int, depth: Int, into out: inout Output) -> Bool {
        out.append(UInt8(ascii: "{"))
        let plain = withUnsafeTemporaryAllocation(of: Range<Int>.self, capacity: 16) { keys in
            for index in 0..<count {
                let headerStart = offset
                guard let key = string(), key.count < 32, offset - headerStart == key.count + 1, plainKey(key) else {
                    return false
                }
                for earlier in keys[..<index] where sameBytes(UnsafeRawBufferPointer(rebasing: bytes[earlier]), key) {
                    return false
                }
                keys[index] = (offset - key.count)..<offset
                if index > 0 { out.append(UInt8(ascii: ",")) }
                out.quoted(key)
                out.append(UInt8(ascii: ":"))
                guard json(depth: depth + 1, into: &out) else { return false }
            }
            return true
        }
        out.append(UInt8(ascii: "}"))
        return plain
    }

    /// A key JSON writes as it is, whose JavaScript property order is its msgpack order, and that no placeholder
    /// test trips on. (Keys of 32 bytes or more take the round trip: they are rare and need a str8 header.)
    private func plainKey(_ key: UnsafeRawBufferPointer) -> Bool {
        for byte in key where byte < 0x20 || byte >= 0x80 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
            return false
        }
        if MsgPackValue.arrayIndex(utf8: key) != nil { return false }
        return !JSONStringCoding.placeholderKey.withUnsafeBytes { sameBytes(key, $0) }
    }
}

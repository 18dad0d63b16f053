import SocketIOCodec
#if canImport(Glibc)
import Glibc
#endif

/// How a binary value is written as JSON.
public enum BinaryJSONStyle: Sendable {
    /// A Socket.IO placeholder `{"_placeholder":true,"num":N}`, the bytes appended to the attachments: how
    /// arguments travel to clients.
    case placeholder
    /// `{"type":"Buffer","data":[...]}`, what `JSON.stringify` makes of a Node Buffer: how binaries travel inside
    /// the adapter's JSON requests (serverSideEmit) and responses.
    case nodeBuffer
}

extension MsgPackValue {
    /// A JSON value as notepack would see the JavaScript value `JSON.parse` makes of it. Socket.IO placeholders
    /// become the binaries they stand for when `attachments` is given.
    /// Numbers are converted as `dialect` encodes a JavaScript number, and an object's members are in the order a
    /// JavaScript object holds them (`javaScriptOrder`), as a Node node writes it.
    public init(json: JSONValue, attachments: [[UInt8]]? = nil, dialect: MsgPackDialect = .notepack) {
        switch json {
        case .null: self = .null
        case .bool(let flag): self = .bool(flag)
        case .number(let number): self = .number(number, dialect: dialect)
        case .string(let text): self = .string(text)
        case .array(let elements):
            self = .array(elements.map { MsgPackValue(json: $0, attachments: attachments, dialect: dialect) })
        case .object(let members):
            if let attachments, let index = MsgPackValue.placeholderIndex(members), index < attachments.count {
                self = .binary(attachments[index])
            } else {
                self = .map(MsgPackValue.javaScriptOrder(members).map {
                    ($0.0, MsgPackValue(json: $0.1, attachments: attachments, dialect: dialect))
                })
            }
        }
    }

    /// The members of the object `JSON.parse` makes of `members`: array-index keys ("0" ... "4294967294", no
    /// leading zero) first in ascending order, then the other keys in the order they came (ECMAScript
    /// OrdinaryOwnPropertyKeys); a key that comes again keeps its first place and takes the later value. Unchanged
    /// (no copy) when no key is an index and none repeats.
    public static func javaScriptOrder<Value>(_ members: [(String, Value)]) -> [(String, Value)] {
        guard members.count > 1 else { return members }
        guard members.contains(where: { arrayIndex($0.0) != nil }) || hasRepeatedKey(members) else { return members }
        var ordered: [(String, Value)] = []
        var position: [String: Int] = [:]
        for (key, value) in members {
            if let at = position[key] {
                ordered[at].1 = value
            } else {
                position[key] = ordered.count
                ordered.append((key, value))
            }
        }
        let indexes = ordered.compactMap { member in arrayIndex(member.0).map { ($0, member) } }
            .sorted { $0.0 < $1.0 }.map(\.1)
        return indexes + ordered.filter { arrayIndex($0.0) == nil }
    }

    private static func hasRepeatedKey<Value>(_ members: [(String, Value)]) -> Bool {
        // Small objects (the usual case) without allocating a set.
        if members.count <= 16 {
            for i in 1..<members.count where members[..<i].contains(where: { $0.0 == members[i].0 }) { return true }
            return false
        }
        var seen = Set<String>()
        return members.contains { !seen.insert($0.0).inserted }
    }

    /// The array index a property key names, or nil: the canonical decimal text of an integer below 2^32 - 1.
    static func arrayIndex(_ key: String) -> UInt32? { arrayIndex(utf8: key.utf8) }

    /// `arrayIndex` of a key's UTF-8 bytes.
    static func arrayIndex<Bytes: Collection<UInt8>>(utf8: Bytes) -> UInt32? {
        guard let first = utf8.first, first >= UInt8(ascii: "0"), first <= UInt8(ascii: "9"), utf8.count <= 10,
              first != UInt8(ascii: "0") || utf8.count == 1 else { return nil }
        var value: UInt64 = 0
        for byte in utf8 {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + UInt64(byte - UInt8(ascii: "0"))
        }
        return value < 4_294_967_295 ? UInt32(value) : nil
    }

    /// The attachment index of a placeholder object `{"_placeholder":true,"num":N}`, or nil.
    public static func placeholderIndex(_ members: [(String, JSONValue)]) -> Int? {
        guard members.contains(where: { $0.0 == "_placeholder" && $0.1 == .bool(true) }),
              let num = members.last(where: { $0.0 == "num" })?.1.intValue, num >= 0 else { return nil }
        return num
    }

    /// Writes the value as JSON text, as `JSON.stringify` would write the JavaScript value notepack decodes.
    /// Binaries become placeholders (appended to `attachments`) or Buffer objects, per `binary`.
    public func appendJSON(to out: inout [UInt8], attachments: inout [[UInt8]], binary: BinaryJSONStyle = .placeholder) {
        switch self {
        case .null, .undefined:
            out.append(contentsOf: Array("null".utf8))
        case .bool(let flag):
            out.append(contentsOf: Array((flag ? "true" : "false").utf8))
        case .int, .uint, .double:
            // Non-finite numbers come out as `null`, as JSON.stringify writes them.
            out.append(contentsOf: Array((javaScriptText ?? "null").utf8))
        case .string(let text):
            JSONScanner.appendQuoted(text, to: &out)
        case .binary(let data):
            switch binary {
            case .placeholder:
                SocketIOPacketEncoder.appendPlaceholder(attachments.count, to: &out)
                attachments.append(data)
            case .nodeBuffer:
                out.append(contentsOf: Array("{\"type\":\"Buffer\",\"data\":[".utf8))
                for (position, byte) in data.enumerated() {
                    if position > 0 { out.append(UInt8(ascii: ",")) }
                    out.append(contentsOf: Array(String(byte).utf8))
                }
                out.append(contentsOf: Array("]}".utf8))
            }
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (position, element) in elements.enumerated() {
                if position > 0 { out.append(UInt8(ascii: ",")) }
                element.appendJSON(to: &out, attachments: &attachments, binary: binary)
            }
            out.append(UInt8(ascii: "]"))
        case .map(let members):
            out.append(UInt8(ascii: "{"))
            var first = true
            // In the order the JavaScript object notepack decodes holds its members (a msgpack map may repeat a
            // key or put an index key late), so that what a Node node reads and writes back is the same text.
            for (key, member) in MsgPackValue.javaScriptOrder(members) where !member.isUndefined {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                JSONScanner.appendQuoted(key, to: &out)
                out.append(UInt8(ascii: ":"))
                member.appendJSON(to: &out, attachments: &attachments, binary: binary)
            }
            out.append(UInt8(ascii: "}"))
        case .ext(let type, let data):
            if type == -1, let date = MsgPackValue.timestampJSON(data) {
                out.append(contentsOf: date.serialize())
            } else {
                // Unknown extensions decode to objects with no enumerable members in notepack.
                out.append(contentsOf: Array("{}".utf8))
            }
        }
    }

    /// The value as a `JSONValue` (binaries as Buffer objects unless told otherwise; placeholders have no meaning
    /// without their attachments).
    public func jsonValue() -> JSONValue {
        switch self {
        case .null, .undefined: return .null
        case .bool(let flag): return .bool(flag)
        case .int(let number): return .number(Double(number))
        case .uint(let number): return .number(Double(number))
        case .double(let number): return .number(number)
        case .string(let text): return .string(text)
        case .binary(let data):
            return .object([("type", .string("Buffer")), ("data", .array(data.map { .number(Double($0)) }))])
        case .array(let elements): return .array(elements.map { $0.jsonValue() })
        case .map(let members):
            return .object(members.filter { !$0.1.isUndefined }.map { ($0.0, $0.1.jsonValue()) })
        case .ext(let type, let data):
            if type == -1, let date = MsgPackValue.timestampJSON(data) { return date }
            return .object([])
        }
    }

    /// A msgpack timestamp (ext -1) as JSON, as notepack's `Date` and then `Date.prototype.toJSON` write it: an ISO
    /// date (`2026-11-27T10:33:30.111Z`; years beyond 0-9999 as `+275760`), null beyond the ±8.64e15 ms a
    /// JavaScript Date holds. Nil when the data is not a timestamp (4, 8 or 12 bytes).
    static func timestampJSON(_ data: [UInt8]) -> JSONValue? {
        func big(_ bytes: ArraySlice<UInt8>) -> UInt64 { bytes.reduce(0) { $0 << 8 | UInt64($1) } }
        let seconds: Int64, nanoseconds: UInt64
        switch data.count {
        case 4:
            (seconds, nanoseconds) = (Int64(big(data[0..<4])), 0)
        case 8:
            let value = big(data[0..<8])
            (seconds, nanoseconds) = (Int64(value & 0x3_FFFF_FFFF), value >> 34)
        case 12:
            (seconds, nanoseconds) = (Int64(bitPattern: big(data[4..<12])), big(data[0..<4]))
        default:
            return nil
        }
        // As `new Date(seconds * 1e3 + nanoseconds / 1e6)`: doubles, the time clipped toward zero.
        let exact = Double(seconds) * 1000 + Double(nanoseconds) / 1_000_000
        guard exact.magnitude <= 8.64e15 else { return .null }
        let millis = Int64(exact.rounded(.towardZero))
        let millisOfSecond = (millis % 1000 + 1000) % 1000  // 0-999 before the epoch too
        // Within ±8.64e15 ms the year is within ±275,760: no overflow below, and gmtime_r cannot fail.
        var time = time_t((millis - millisOfSecond) / 1000)
        var parts = tm()
        guard gmtime_r(&time, &parts) != nil else { return .null }
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value.magnitude)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        let year = Int(parts.tm_year) + 1900
        let yearText = (0...9999).contains(year) ? pad(year, 4) : (year < 0 ? "-" : "+") + pad(year, 6)
        return .string("\(yearText)-\(pad(Int(parts.tm_mon) + 1, 2))-\(pad(Int(parts.tm_mday), 2))T"
            + "\(pad(Int(parts.tm_hour), 2)):\(pad(Int(parts.tm_min), 2)):\(pad(Int(parts.tm_sec), 2))."
            + "\(pad(Int(millisOfSecond), 3))Z")
    }
}

extension JSONValue {
    /// The value with every Socket.IO placeholder replaced by the Buffer object `JSON.stringify` makes of the
    /// binary it stands for (how Node's adapter sends binaries inside JSON requests).
    public func replacingPlaceholders(_ attachments: [[UInt8]]) -> JSONValue {
        guard !attachments.isEmpty else { return self }
        switch self {
        case .array(let elements):
            return .array(elements.map { $0.replacingPlaceholders(attachments) })
        case .object(let members):
            if let index = MsgPackValue.placeholderIndex(members), index < attachments.count {
                return MsgPackValue.binary(attachments[index]).jsonValue()
            }
            return .object(members.map { ($0.0, $0.1.replacingPlaceholders(attachments)) })
        default:
            return self
        }
    }
}

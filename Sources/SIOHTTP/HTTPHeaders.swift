/// Request headers in one compact buffer: `name\0value\0name\0value\0...`, names lower-cased.
///
/// A session keeps its handshake's headers for its whole life (Socket.IO exposes them), so they are stored as one
/// allocation instead of an array of string pairs (which cost several allocations per connection).
public struct HTTPHeaders: Sequence, Sendable, ExpressibleByArrayLiteral {
    private var storage: [UInt8] = []

    /// Number of headers (two NUL bytes per header; counted, not stored).
    public var count: Int { storage.reduce(0) { $0 + ($1 == 0 ? 1 : 0) } / 2 }

    public init() {}

    /// RFC 7230 3.2 field-value: visible bytes, space, tab and obs-text; no other control byte.
    public static func isFieldValue(_ bytes: some Sequence<UInt8>) -> Bool {
        !bytes.contains { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F }
    }

    public init(_ pairs: [(name: String, value: String)]) {
        for pair in pairs { append(name: pair.name, value: pair.value) }
    }

    public init(arrayLiteral elements: (String, String)...) {
        for (name, value) in elements { append(name: name, value: value) }
    }

    /// Appends a header; the name is lower-cased, NUL bytes (never valid in HTTP) are dropped.
    public mutating func append(name: String, value: String) {
        for byte in name.utf8 where byte != 0 {
            storage.append(byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte)
        }
        storage.append(0)
        for byte in value.utf8 where byte != 0 { storage.append(byte) }
        storage.append(0)
    }

    /// Appends raw bytes as they came from the parser.
    mutating func append(name: [UInt8], value: [UInt8]) {
        for byte in name where byte != 0 {
            storage.append(byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte)
        }
        storage.append(0)
        for byte in value where byte != 0 { storage.append(byte) }
        storage.append(0)
    }

    /// Gives back memory the parser over-reserved (headers live as long as their session).
    mutating func shrink() {
        if storage.capacity > storage.count + 16 { storage = Array(storage) }
    }

    /// The first value of `name` (any case). Compares in place: no allocation but the result.
    public subscript(name: String) -> String? {
        let wanted = name.utf8
        return storage.withUnsafeBufferPointer { bytes -> String? in
            var index = 0
            while index < bytes.count {
                var nameEnd = index
                while bytes[nameEnd] != 0 { nameEnd += 1 }
                var valueEnd = nameEnd + 1
                while bytes[valueEnd] != 0 { valueEnd += 1 }
                if nameEnd - index == wanted.count {
                    var equal = true
                    var position = index
                    for byte in wanted {
                        let lower = byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte
                        if bytes[position] != lower {
                            equal = false
                            break
                        }
                        position += 1
                    }
                    if equal {
                        return String(decoding: UnsafeBufferPointer(rebasing: bytes[(nameEnd + 1)..<valueEnd]), as: UTF8.self)
                    }
                }
                index = valueEnd + 1
            }
            return nil
        }
    }

    public func contains(where predicate: ((name: String, value: String)) -> Bool) -> Bool {
        for pair in self where predicate(pair) { return true }
        return false
    }

    public func makeIterator() -> Iterator { Iterator(storage: storage) }

    public struct Iterator: IteratorProtocol {
        let storage: [UInt8]
        var index = 0

        public mutating func next() -> (name: String, value: String)? {
            guard index < storage.count else { return nil }
            let nameEnd = storage[index...].firstIndex(of: 0)!
            let valueEnd = storage[(nameEnd + 1)...].firstIndex(of: 0)!
            defer { index = valueEnd + 1 }
            return (String(decoding: storage[index..<nameEnd], as: UTF8.self),
                    String(decoding: storage[(nameEnd + 1)..<valueEnd], as: UTF8.self))
        }
    }
}

extension HTTPHeaders {
    /// RFC 7230 3.2.6 `tchar`.
    public static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }
}

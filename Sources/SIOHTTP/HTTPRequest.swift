/// One parsed HTTP/1.1 request. Header names are lower-cased; values are as sent.
public struct HTTPRequest: Sendable {
    public var method: String
    /// The request target as sent: path and query (`/socket.io/?EIO=4&transport=polling`).
    public var target: String
    public var headers: HTTPHeaders
    public var body: [UInt8]
    /// Stored narrow: a session keeps its handshake request for its whole life.
    private var version: (major: UInt8, minor: UInt8)
    public var httpMajor: Int { Int(version.major) }
    public var httpMinor: Int { Int(version.minor) }
    /// The client wants the connection kept open after the response.
    public var keepAlive: Bool
    /// It came over TLS (HTTPS, WSS).
    public var isSecure = false

    public init(method: String, target: String, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = [],
                httpMajor: Int = 1, httpMinor: Int = 1, keepAlive: Bool = true) {
        self.method = method
        self.target = target
        self.headers = headers
        self.body = body
        self.version = (UInt8(clamping: httpMajor), UInt8(clamping: httpMinor))
        self.keepAlive = keepAlive
    }

    /// The first value of a header (name in any case).
    public func header(_ name: String) -> String? { headers[name] }

    /// Query parameters, percent-decoded, in order (parsed on each call, over UTF-8 bytes).
    public var query: [(name: String, value: String)] { QueryString.parse(target.utf8) }

    /// The path without the query.
    public var path: String {
        guard let mark = target.utf8.firstIndex(of: UInt8(ascii: "?")) else { return target }
        return String(target[..<mark])
    }

    /// The raw query string (after `?`), or "".
    public var queryString: Substring {
        guard let mark = target.utf8.firstIndex(of: UInt8(ascii: "?")) else { return "" }
        // A UTF-8 step, not a Character step: a combining mark right after `?` belongs to the query.
        return target[target.utf8.index(after: mark)...]
    }

    /// The first value of a query parameter, found without building the whole list.
    public func queryValue(_ name: String) -> String? { QueryString.value(of: name, in: target.utf8) }
}

/// `application/x-www-form-urlencoded` query decoding.
public enum QueryString {
    /// The parameters of the query in a request target (what follows `?`), or of a bare query string.
    public static func parse(_ target: String.UTF8View) -> [(name: String, value: String)] {
        let bytes = Array(target)
        guard let mark = bytes.firstIndex(of: UInt8(ascii: "?")) else { return [] }
        return parse(bytes[(mark + 1)...])
    }

    /// The first value of `name` in the query of a request target.
    public static func value(of name: String, in target: String.UTF8View) -> String? {
        guard let mark = target.firstIndex(of: UInt8(ascii: "?")) else { return nil }
        let wanted = Array(name.utf8)
        var start = target.index(after: mark)
        while start < target.endIndex {
            let end = target[start...].firstIndex(of: UInt8(ascii: "&")) ?? target.endIndex
            guard end > start else {
                // An empty pair (`&&`): skipped, as `parse` skips it.
                start = target.index(after: end)
                continue
            }
            let equals = target[start..<end].firstIndex(of: UInt8(ascii: "=")) ?? end
            let key = target[start..<equals]
            let plain = !key.contains(UInt8(ascii: "%")) && !key.contains(UInt8(ascii: "+"))
            if plain ? key.elementsEqual(wanted) : decode(ArraySlice(key)) == name {
                return equals < end ? decode(ArraySlice(target[target.index(after: equals)..<end])) : ""
            }
            start = end < target.endIndex ? target.index(after: end) : end
        }
        return nil
    }

    public static func parse(_ query: Substring) -> [(name: String, value: String)] {
        parse(ArraySlice(query.utf8))
    }

    /// Splits on `&` and the first `=` of each pair, byte by byte (no Character work on the hot path).
    static func parse(_ bytes: ArraySlice<UInt8>) -> [(name: String, value: String)] {
        var items: [(name: String, value: String)] = []
        var start = bytes.startIndex
        while start < bytes.endIndex {
            let end = bytes[start...].firstIndex(of: UInt8(ascii: "&")) ?? bytes.endIndex
            if end > start {
                let pair = bytes[start..<end]
                if let equals = pair.firstIndex(of: UInt8(ascii: "=")) {
                    items.append((decode(pair[..<equals]), decode(pair[(equals + 1)...])))
                } else {
                    items.append((decode(pair), ""))
                }
            }
            start = end + 1
        }
        return items
    }

    public static func decode(_ text: Substring) -> String { decode(ArraySlice(text.utf8)) }

    /// Percent-decoding with `+` as space; malformed escapes are kept literally, invalid UTF-8 is repaired.
    static func decode(_ utf8: ArraySlice<UInt8>) -> String {
        guard utf8.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "+") }) else {
            return String(decoding: utf8, as: UTF8.self)
        }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count)
        var index = utf8.startIndex
        while index < utf8.endIndex {
            let byte = utf8[index]
            if byte == UInt8(ascii: "+") {
                out.append(UInt8(ascii: " "))
            } else if byte == UInt8(ascii: "%"), index + 2 < utf8.endIndex,
                      let high = hexValue(utf8[index + 1]), let low = hexValue(utf8[index + 2]) {
                out.append(high << 4 | low)
                index += 2
            } else {
                out.append(byte)
            }
            index += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

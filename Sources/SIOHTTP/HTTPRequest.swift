/// One parsed HTTP/1.1 request. Header names are lower-cased; values are as sent.
public struct HTTPRequest: Sendable {
    public var method: String
    /// The request target as sent: path and query (`/socket.io/?EIO=4&transport=polling`).
    public var target: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    public var httpMajor: Int
    public var httpMinor: Int
    /// The client wants the connection kept open after the response.
    public var keepAlive: Bool

    public init(method: String, target: String, headers: [(name: String, value: String)] = [], body: [UInt8] = [],
                httpMajor: Int = 1, httpMinor: Int = 1, keepAlive: Bool = true) {
        self.method = method
        self.target = target
        self.headers = headers
        self.body = body
        self.httpMajor = httpMajor
        self.httpMinor = httpMinor
        self.keepAlive = keepAlive
    }

    /// The first value of a header (name in any case).
    public func header(_ name: String) -> String? {
        let lower = name.lowercased()
        return headers.first { $0.name == lower }?.value
    }

    /// The path without the query.
    public var path: String {
        guard let mark = target.utf8.firstIndex(of: UInt8(ascii: "?")) else { return target }
        return String(target[..<mark])
    }

    /// The raw query string (after `?`), or "".
    public var queryString: Substring {
        guard let mark = target.utf8.firstIndex(of: UInt8(ascii: "?")) else { return "" }
        return target[target.index(after: mark)...]
    }

    /// Query parameters, percent-decoded, in order.
    public var query: [(name: String, value: String)] { QueryString.parse(queryString) }

    /// The first value of a query parameter.
    public func queryValue(_ name: String) -> String? {
        for pair in queryString.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            if QueryString.decode(parts[0]) == name {
                return parts.count > 1 ? QueryString.decode(parts[1]) : ""
            }
        }
        return nil
    }
}

/// `application/x-www-form-urlencoded` query decoding.
public enum QueryString {
    public static func parse(_ query: Substring) -> [(name: String, value: String)] {
        query.split(separator: "&", omittingEmptySubsequences: true).map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (decode(parts[0]), parts.count > 1 ? decode(parts[1]) : "")
        }
    }

    /// Percent-decoding with `+` as space; malformed escapes are kept literally, invalid UTF-8 is repaired.
    public static func decode(_ text: Substring) -> String {
        let utf8 = Array(text.utf8)
        guard utf8.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "+") }) else { return String(text) }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count)
        var index = 0
        while index < utf8.count {
            let byte = utf8[index]
            if byte == UInt8(ascii: "+") {
                out.append(UInt8(ascii: " "))
            } else if byte == UInt8(ascii: "%"), index + 2 < utf8.count,
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

import SIOHTTP
import SocketIOCodec
#if canImport(Glibc)
import Glibc
#endif

/// What a client sent when it connected to a namespace: the HTTP handshake of its Engine.IO session and the auth
/// payload of its CONNECT packet.
public struct Handshake: Sendable {
    /// Request headers (names lower-cased), in one compact buffer.
    public let headers: HTTPHeaders
    /// The CONNECT packet's auth payload as JSON text (`{}` when none).
    public var auth: [UInt8] { sentAuth ?? Handshake.emptyAuth }
    private let sentAuth: [UInt8]?
    private static let emptyAuth: [UInt8] = Array("{}".utf8)
    public let address: String
    /// Milliseconds since the epoch when the namespace connection was made.
    public let time: UInt64
    public let url: String
    public let secure: Bool

    init(request: HTTPRequest, auth: [UInt8]?, address: String, time: UInt64) {
        headers = request.headers
        url = request.target
        sentAuth = auth
        self.address = address
        self.time = time
        secure = request.isSecure
    }

    /// A handshake known from elsewhere (another node of a cluster).
    public init(headers: HTTPHeaders, url: String, auth: [UInt8], address: String, time: UInt64, secure: Bool = false) {
        self.headers = headers
        self.url = url
        sentAuth = auth
        self.address = address
        self.time = time
        self.secure = secure
    }

    public func header(_ name: String) -> String? { headers[name] }

    /// The handshake request's query string, raw (derived from `url`, not stored twice).
    public var queryString: Substring {
        guard let mark = url.utf8.firstIndex(of: UInt8(ascii: "?")) else { return "" }
        return url[url.utf8.index(after: mark)...]
    }

    public var query: [(name: String, value: String)] { QueryString.parse(url.utf8) }

    public func queryValue(_ name: String) -> String? { QueryString.value(of: name, in: url.utf8) }

    public var authText: String { String(decoding: auth, as: UTF8.self) }

    /// The reference's handshake object: `{headers, time, address, xdomain, secure, issued, url, query, auth}`
    /// (repeated headers joined with ", ", as Node does; `time` as text, `issued` in milliseconds).
    public var json: JSONValue {
        var headerValues: [(String, JSONValue)] = []
        for header in headers {
            if let index = headerValues.firstIndex(where: { $0.0 == header.name }), case .string(let first) = headerValues[index].1 {
                headerValues[index].1 = .string(first + ", " + header.value)
            } else {
                headerValues.append((header.name, .string(header.value)))
            }
        }
        var queryValues: [(String, JSONValue)] = []
        for item in query where !queryValues.contains(where: { $0.0 == item.name }) {
            queryValues.append((item.name, .string(item.value)))
        }
        return .object([
            ("headers", .object(headerValues)), ("time", .string(Handshake.describe(milliseconds: time))),
            ("address", .string(address)), ("xdomain", .bool(header("origin") != nil)), ("secure", .bool(secure)),
            ("issued", .number(Double(time))), ("url", .string(url)), ("query", .object(queryValues)),
            ("auth", (try? JSONValue.parse(auth)) ?? .object([])),
        ])
    }

    /// A date in the shape of JavaScript's `Date.prototype.toString` in UTC.
    static func describe(milliseconds: UInt64) -> String {
        utc(milliseconds: milliseconds, format: "%a %b %d %Y %H:%M:%S GMT+0000 (Coordinated Universal Time)")
    }

    /// `strftime(format)` of a time in UTC (whole seconds).
    static func utc(milliseconds: UInt64, format: String) -> String {
        var seconds = time_t(milliseconds / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var buffer = [CChar](repeating: 0, count: 64)
        let count = strftime(&buffer, buffer.count, format, &parts)
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

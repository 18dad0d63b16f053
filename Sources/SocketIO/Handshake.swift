import SIOHTTP

/// What a client sent when it connected to a namespace: the HTTP handshake of its Engine.IO session and the auth
/// payload of its CONNECT packet.
public struct Handshake: Sendable {
    /// Request headers (names lower-cased).
    public let headers: [(name: String, value: String)]
    /// The handshake request's query string, raw.
    public let queryString: String
    /// The CONNECT packet's auth payload as JSON text (`{}` when none).
    public let auth: [UInt8]
    public let address: String
    /// Milliseconds since the epoch when the namespace connection was made.
    public let time: UInt64
    public let url: String
    public let secure: Bool

    init(request: HTTPRequest, auth: [UInt8]?, address: String, time: UInt64) {
        headers = request.headers
        queryString = String(request.queryString)
        url = request.target
        self.auth = auth ?? Array("{}".utf8)
        self.address = address
        self.time = time
        secure = false
    }

    public func header(_ name: String) -> String? {
        let lower = name.lowercased()
        return headers.first { $0.name == lower }?.value
    }

    public var query: [(name: String, value: String)] { QueryString.parse(Substring(queryString)) }

    public func queryValue(_ name: String) -> String? { query.first { $0.name == name }?.value }

    public var authText: String { String(decoding: auth, as: UTF8.self) }
}

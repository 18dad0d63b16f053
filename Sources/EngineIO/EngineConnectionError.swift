import SIOHTTP

/// A request the engine refused, as the reference's `connection_error` event reports it: the way to find out why
/// clients cannot connect (a session id unknown after a restart or behind a proxy without sticky sessions, an
/// Engine.IO v3 client, a handshake `allowRequest` refused). The request has been answered already.
public struct EngineConnectionError {
    public let request: HTTPRequest
    public let remoteAddress: String
    public let code: EngineErrorCode
    /// What was wrong, with the reference's keys: `transport` (unknown transport), `sid` (unknown session),
    /// `method` (a handshake that is not a GET), `protocol` (the EIO value sent), `message` (allowRequest's), or
    /// `name` (`TRANSPORT_MISMATCH` with `transport` and `previousTransport`, `TRANSPORT_HANDSHAKE_ERROR`,
    /// `INVALID_ORIGIN` with `origin`). Values are the request's text.
    public let context: [(name: String, value: String)]

    /// The code's text, e.g. "Session ID unknown".
    public var message: String { code.message }

    /// `context` as a JSON object text, e.g. `{"sid":"abc"}`.
    public var contextJSON: String {
        var out: [UInt8] = [UInt8(ascii: "{")]
        for (index, member) in context.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            JSONText.appendQuoted(member.name, to: &out)
            out.append(UInt8(ascii: ":"))
            JSONText.appendQuoted(member.value, to: &out)
        }
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }
}

/// Why `EngineServer.verify` refuses a request.
struct EngineRequestRefusal {
    let code: EngineErrorCode
    /// The body's message when it is not the code's text (an `allowRequest` refusal's own message).
    var message: String? = nil
    var context: [(name: String, value: String)]
}

import EngineIOCodec
import SIOHTTP

/// Engine.IO v3 polling: a text payload (`<length>:<packet>`, binary as base64) unless the batch holds binary
/// and the client can take XHR2 binary (no `b64` at its handshake), then an `application/octet-stream` payload;
/// POSTs in either form, by their Content-Type.
struct V3PollingFormat: PollingFormat {
    /// False when the handshake carried a non-empty `b64` (the reference's `!req._query.b64`).
    let supportsBinary: Bool

    func encode(_ messages: [EngineMessage]) -> (body: [UInt8], contentType: String) {
        if supportsBinary, messages.contains(where: { $0.isBinary }) {
            return (concatenate(messages.map { $0.v3BinarySegment }), "application/octet-stream")
        }
        return (concatenate(messages.map { $0.v3TextSegment }), "text/plain; charset=UTF-8")
    }

    func decode(_ request: HTTPRequest) -> PollingBody {
        guard Self.isBinaryContent(request) else { return decode(text: request.body) }
        let decoded = EngineV3Payload.decodeBinary(request.body)
        return .packets(decoded.packets, error: decoded.error)
    }

    func decode(text: [UInt8]) -> PollingBody {
        let decoded = EngineV3Payload.decodeText(text)
        return .packets(decoded.packets, error: decoded.error)
    }

    func headers(for request: HTTPRequest) -> [(name: String, value: String)] { Self.referenceHeaders(for: request) }

    private func concatenate(_ segments: [[UInt8]]) -> [UInt8] {
        if segments.count == 1 { return segments[0] }
        var body: [UInt8] = []
        body.reserveCapacity(segments.reduce(0) { $0 + $1.count })
        for segment in segments { body.append(contentsOf: segment) }
        return body
    }
}

/// JSONP polling (a `j` query parameter at the handshake, with `allowEIO3`): the session's own format inside
/// `___eio[<j>]("…");` for GETs, and inside a form field `d` for POSTs.
struct JSONPPollingFormat: PollingFormat {
    let inner: any PollingFormat
    /// The digits of the handshake's `j`: every response of the session calls the same index.
    let index: [UInt8]

    func encode(_ messages: [EngineMessage]) -> (body: [UInt8], contentType: String) {
        let (payload, type) = inner.encode(messages)
        let body = type == "application/octet-stream"
            ? JSONP.wrap(binary: payload, index: index) : JSONP.wrap(text: payload, index: index)
        return (body, "text/plain; charset=UTF-8")
    }

    /// Binary content, no `d` field, or several: nothing happens (the reference's `qs.parse(…).d` is not a
    /// string), and the POST is answered "ok".
    func decode(_ request: HTTPRequest) -> PollingBody {
        guard !Self.isBinaryContent(request), let payload = JSONP.payload(fromBody: request.body) else {
            return .packets([], error: nil)
        }
        return inner.decode(text: payload)
    }

    func decode(text: [UInt8]) -> PollingBody { inner.decode(text: text) }

    func headers(for request: HTTPRequest) -> [(name: String, value: String)] { Self.referenceHeaders(for: request) }
}

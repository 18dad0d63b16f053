import EngineIOCodec
import SIOHTTP

/// How one polling session puts packets in HTTP bodies, chosen at its handshake: Engine.IO v4's segments joined
/// by 0x1e, v3's length-prefixed text or XHR2 binary payloads, or either inside JSONP.
protocol PollingFormat {
    /// The body of a GET response carrying `messages` (at least one), and its Content-Type.
    func encode(_ messages: [EngineMessage]) -> (body: [UInt8], contentType: String)
    /// The packets of a POST.
    func decode(_ request: HTTPRequest) -> PollingBody
    /// The packets of a text payload (a POST body, or the `d` field of a JSONP one).
    func decode(text: [UInt8]) -> PollingBody
    /// Headers every polling response of the session carries, besides CORS and Content-Type.
    func headers(for request: HTTPRequest) -> [(name: String, value: String)]
}

/// What a POST carried.
enum PollingBody {
    /// Packets to deliver in order; with `error`, decoding stopped there: the POST is answered 400 and the session
    /// closes with "parse error" after the packets before it.
    case packets([EnginePacket], error: EngineDecodeError?)
    /// A body this session does not take (binary content in v4): answered 400, the session closes with
    /// "transport error".
    case refused
}

extension PollingFormat {
    func headers(for request: HTTPRequest) -> [(name: String, value: String)] { [] }

    static func isBinaryContent(_ request: HTTPRequest) -> Bool {
        request.header("content-type") == "application/octet-stream"
    }

    /// The headers the reference's polling transport adds to its responses (its `headers()`): no caching, and
    /// IE's XSS filter off for IE user agents.
    static func referenceHeaders(for request: HTTPRequest) -> [(name: String, value: String)] {
        var headers: [(name: String, value: String)] = []
        if let agent = request.header("user-agent"), agent.contains(";MSIE") || agent.contains("Trident/") {
            headers.append(("X-XSS-Protection", "0"))
        }
        headers.append(("cache-control", "no-store"))
        return headers
    }
}

/// Engine.IO v4: `<type><data>` segments (binary as `b<base64>`) joined by 0x1e; binary content is refused.
struct V4PollingFormat: PollingFormat {
    func encode(_ messages: [EngineMessage]) -> (body: [UInt8], contentType: String) {
        (EngineIOCodec.joinPayload(messages.map { $0.pollingSegment }), "text/plain; charset=UTF-8")
    }

    func decode(_ request: HTTPRequest) -> PollingBody {
        Self.isBinaryContent(request) ? .refused : decode(text: request.body)
    }

    /// All or nothing: a bad segment delivers none of the packets.
    func decode(text: [UInt8]) -> PollingBody {
        do {
            return .packets(try EngineIOCodec.decodePayload(text), error: nil)
        } catch {
            return .packets([], error: error as? EngineDecodeError ?? .empty)
        }
    }
}

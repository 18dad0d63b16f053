import CHTTPParser

/// Limits on what one request may cost before it is refused.
public struct HTTPLimits: Sendable {
    /// Request line plus headers, in bytes (Node's default is 16 KiB). Over it: 431.
    public var maxHeaderBytes: Int = 16 * 1024
    /// Number of header lines (Node's `maxHeadersCount`, 2000). Over it: 431. The bytes limit is what binds in
    /// practice: 16 KiB hold about 3,000 of the shortest headers, and the reference accepts 1,000 small ones.
    public var maxHeaderCount: Int = 2000
    /// Request body, in bytes. Over it: 413. The Engine.IO server sets it to `maxHttpBufferSize`.
    public var maxBodyBytes: Int = 1_000_000

    public init() {}
}

/// Why a request was refused while it was being read; each maps to the status the connection answers with.
public enum HTTPParseFailure: Error, Equatable {
    case malformed(String)
    case headersTooLarge
    case bodyTooLarge

    public var status: Int {
        switch self {
        case .malformed: return 400
        case .headersTooLarge: return 431
        case .bodyTooLarge: return 413
        }
    }
}

/// Incremental HTTP/1.1 request parser over libhttp-parser, with limits. Produces complete requests; stops at an
/// `Upgrade` request and reports where the upgraded protocol's bytes start.
struct HTTPRequestParser {
    enum Output {
        case request(HTTPRequest)
        /// An upgrade request; `remainder` is what followed its headers in the same read (the first WebSocket bytes).
        case upgrade(HTTPRequest, remainder: [UInt8])
        /// The headers of a request with a body are complete; its `.request` follows once the body is read.
        case bodyStarted(HTTPRequest)
    }

    private let state: UnsafeMutablePointer<ParserState>

    init(limits: HTTPLimits) {
        state = .allocate(capacity: 1)
        state.initialize(to: ParserState(limits: limits))
        http_parser_init(&state.pointee.parser, HTTP_REQUEST)
    }

    func deallocate() {
        state.deinitialize(count: 1)
        state.deallocate()
    }

    /// Parses `bytes`, appending complete requests to `outputs`. After an upgrade, parsing stops for good.
    func feed(_ bytes: UnsafeRawBufferPointer, into outputs: inout [Output]) throws(HTTPParseFailure) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        state.pointee.parser.data = UnsafeMutableRawPointer(state)
        let parsed = http_parser_execute(&state.pointee.parser, &Self.settings,
                                         base.assumingMemoryBound(to: CChar.self), bytes.count)
        // A failure, ours or the parser's, wins over whatever this read completed: nothing after a refusal is
        // handed out, however the bytes were split into reads.
        let errno = http_errno(rawValue: state.pointee.parser.http_errno)
        if state.pointee.failure != nil || errno != HPE_OK {
            state.pointee.completed.removeAll(keepingCapacity: true)
            throw state.pointee.failure ?? .malformed(String(cString: http_errno_description(errno)))
        }
        outputs.append(contentsOf: state.pointee.completed)
        state.pointee.completed.removeAll(keepingCapacity: true)
        if state.pointee.parser.upgrade != 0, let request = state.pointee.upgradeRequest {
            state.pointee.upgradeRequest = nil
            let rest = parsed < bytes.count ? Array(UnsafeRawBufferPointer(rebasing: bytes[parsed...])) : []
            outputs.append(.upgrade(request, remainder: rest))
        } else if parsed != bytes.count {
            throw .malformed("unparsed bytes")
        }
    }

    /// True while a request has begun but not ended (what a header timeout watches).
    var isInsideRequest: Bool { state.pointee.inMessage }

    // The C callbacks: `parser.data` points at the ParserState.
    private static var settings: http_parser_settings = {
        var s = http_parser_settings()
        s.on_message_begin = { parser in
            let st = ParserState.from(parser)
            st.pointee.beginMessage()
            return 0
        }
        s.on_url = { parser, at, length in
            let st = ParserState.from(parser)
            guard st.pointee.countHeaderBytes(length) else { return -1 }
            st.pointee.url.append(contentsOf: UnsafeRawBufferPointer(start: at, count: length))
            return 0
        }
        s.on_header_field = { parser, at, length in
            let st = ParserState.from(parser)
            if st.pointee.lastWasValue {
                st.pointee.commitHeader()
                if st.pointee.failure != nil { return -1 }
            }
            st.pointee.lastWasValue = false
            guard st.pointee.countHeaderBytes(length) else { return -1 }
            st.pointee.field.append(contentsOf: UnsafeRawBufferPointer(start: at, count: length))
            return 0
        }
        s.on_header_value = { parser, at, length in
            let st = ParserState.from(parser)
            st.pointee.lastWasValue = true
            guard st.pointee.countHeaderBytes(length) else { return -1 }
            st.pointee.value.append(contentsOf: UnsafeRawBufferPointer(start: at, count: length))
            return 0
        }
        s.on_headers_complete = { parser in
            ParserState.from(parser).pointee.headersComplete()
        }
        s.on_body = { parser, at, length in
            ParserState.from(parser).pointee.appendBody(at, length)
        }
        s.on_message_complete = { parser in
            ParserState.from(parser).pointee.messageComplete()
        }
        return s
    }()
}

/// Everything the callbacks build up for the request in progress.
private struct ParserState {
    var parser = http_parser()
    let limits: HTTPLimits
    var url: [UInt8] = []
    var field: [UInt8] = []
    var value: [UInt8] = []
    var lastWasValue = false
    var headers = HTTPHeaders()
    var headerCount = 0
    var headerBytes = 0
    var body: [UInt8] = []
    var inMessage = false
    var failure: HTTPParseFailure?
    var completed: [HTTPRequestParser.Output] = []
    var current: HTTPRequest?
    var upgradeRequest: HTTPRequest?

    init(limits: HTTPLimits) { self.limits = limits }

    static func from(_ parser: UnsafeMutablePointer<http_parser>?) -> UnsafeMutablePointer<ParserState> {
        parser!.pointee.data.assumingMemoryBound(to: ParserState.self)
    }

    mutating func beginMessage() {
        url.removeAll(keepingCapacity: true)
        field.removeAll(keepingCapacity: true)
        value.removeAll(keepingCapacity: true)
        headers = HTTPHeaders()
        headerCount = 0
        headerBytes = 0
        body = []
        lastWasValue = false
        inMessage = true
    }

    /// Counts request-line and header bytes against the limit; false (and the failure recorded) when over it.
    mutating func countHeaderBytes(_ length: Int) -> Bool {
        headerBytes += length
        if headerBytes > limits.maxHeaderBytes {
            failure = .headersTooLarge
            return false
        }
        return true
    }

    /// RFC 7230 3.2.6 `tchar`: a field name with a space, a colon or a control byte is refused (400), so
    /// `Transfer-Encoding : chunked` cannot smuggle a body past the framing.
    static func isToken(_ bytes: [UInt8]) -> Bool {
        !bytes.isEmpty && bytes.allSatisfy(HTTPHeaders.isTokenByte)
    }

    mutating func commitHeader() {
        guard ParserState.isToken(field) else {
            failure = .malformed("invalid header name")
            return
        }
        guard HTTPHeaders.isFieldValue(value) else {
            failure = .malformed("invalid header value")
            return
        }
        headers.append(name: field, value: value)
        headerCount += 1
        if headerCount > limits.maxHeaderCount { failure = .headersTooLarge }
        field.removeAll(keepingCapacity: true)
        value.removeAll(keepingCapacity: true)
    }

    mutating func headersComplete() -> Int32 {
        if lastWasValue || !field.isEmpty { commitHeader() }
        // Trailer fields of a chunked body come through the same callbacks: start them clean.
        lastWasValue = false
        if failure != nil { return -1 }
        // RFC 7230 3.1.1: the request-target has no whitespace or control bytes (the lenient parser lets a tab by).
        if url.contains(where: { $0 <= 0x20 || $0 == 0x7F }) { return fail(.malformed("invalid request target")) }
        guard headerCount <= limits.maxHeaderCount else { return fail(.headersTooLarge) }
        // Refuse an oversize body up front from its declared length, before reading any of it.
        let declared = parser.content_length
        if declared != UInt64.max, declared > UInt64(limits.maxBodyBytes) { return fail(.bodyTooLarge) }
        let method = String(cString: http_method_str(http_method(rawValue: parser.method)))
        current = HTTPRequest(
            method: method, target: String(decoding: url, as: UTF8.self), headers: headers,
            httpMajor: Int(parser.http_major), httpMinor: Int(parser.http_minor),
            keepAlive: http_should_keep_alive(&parser) != 0)
        headers.shrink()
        // Ask the parser itself whether the body is chunked: it decides from every Transfer-Encoding line, not
        // only the first.
        let chunked = parser.flags & F_CHUNKED.rawValue != 0
        if parser.upgrade == 0, chunked || (declared != UInt64.max && declared > 0), let current {
            completed.append(.bodyStarted(current))
        }
        return 0
    }

    mutating func appendBody(_ at: UnsafePointer<CChar>?, _ length: Int) -> Int32 {
        guard body.count + length <= limits.maxBodyBytes else { return fail(.bodyTooLarge) }
        body.append(contentsOf: UnsafeRawBufferPointer(start: at, count: length))
        return 0
    }

    mutating func messageComplete() -> Int32 {
        // A chunked body's last trailer field ends with the message, not with another field: check it here, so
        // the verdict does not depend on how the bytes were split into reads.
        if lastWasValue || !field.isEmpty {
            commitHeader()
            lastWasValue = false
        }
        if failure != nil { return -1 }
        inMessage = false
        guard var request = current else { return 0 }
        current = nil
        request.body = body
        body = []
        if parser.upgrade != 0 {
            upgradeRequest = request
        } else {
            completed.append(.request(request))
        }
        return 0
    }

    /// Records the failure and stops the parser. -1, not 1: from on_headers_complete, 1 means "skip the body".
    mutating func fail(_ failure: HTTPParseFailure) -> Int32 {
        self.failure = failure
        return -1
    }
}

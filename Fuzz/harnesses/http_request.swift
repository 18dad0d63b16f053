// Harness `http_request`: the HTTP/1.1 request glue over libhttp-parser (HTTPRequestParser, HTTPRequest,
// HTTPHeaders, QueryString), and what the server reads from a request's headers: Accept-Encoding
// (HTTPCompression.negotiate), the WebSocket handshake (WebSocketHandshake.validate) and Sec-WebSocket-Extensions
// (PerMessageDeflate.negotiate).
//
// Input: byte 0 picks the limits (bits 0-1: default 16 KiB/100 headers/1 MB body; 256 B/8/64 B; 64 B/3/8 B;
// default with no body allowed). Byte 1 seeds the split into reads (0 = one byte per read: a trickling client).
// The rest is the byte stream from the client.
//
// Checked (finding ids in brackets; FUZZ_SKIP=id silences one, see Fuzz/README.md):
//  - fed whole and fed in random reads (each in a heap block of exactly its size), the parser gives the same
//    requests, bodies and upgrade (its remainder plus the unread bytes), or fails in both, the single read giving
//    no output the reads did not (see Parsed.==) [http-continues-after-refusal];
//  - what libhttp-parser alone accepts (a bare parse with recording callbacks), within the limits and with token
//    field names, the glue does not refuse [http-trailer-refused]; a header value with a control byte on the wire
//    is refused [http-header-value-ctl];
//  - header names are RFC 7230 tokens [http-header-name]; values and the target hold no control byte
//    [http-header-value-ctl]; every request with a body is announced by .bodyStarted [http-chunked-body-started];
//  - limits: headers per request <= maxHeaderCount, body <= maxBodyBytes, request head <= 3 x maxHeaderBytes
//    (U+FFFD repair of invalid UTF-8), all requests <= 3 x the input, at most one output per 8 input bytes;
//  - a parsed request written out again (method, target, version, headers, Content-Length body) parses to the
//    same request;
//  - path + "?" + queryString is the target, byte for byte [http-query-string-combining]; queryValue(n) is the
//    first value query lists for n [http-query-empty-pair]; header(n) is the first match;
//  - an accepted permessage-deflate offer's response header, offered again, is accepted with the same terms;
//  - a handshake that validates has a 24-character key whose accept value is 28 base64 characters.

import CHTTPParser

let limitChoices: [(Int, Int, Int)] = [(16 * 1024, 100, 1_000_000), (256, 8, 64), (64, 3, 8), (16 * 1024, 100, 0)]

/// A request reduced to comparable parts.
struct RequestKey: Equatable {
    var kind: UInt8  // 0 request, 1 bodyStarted, 2 upgrade
    var method: String
    var target: String
    var headers: [String]
    var body: [UInt8]
    var version: Int
    var keepAlive: Bool

    init(_ kind: UInt8, _ r: HTTPRequest) {
        self.kind = kind
        method = r.method
        target = r.target
        headers = r.headers.flatMap { [$0.name, $0.value] }
        body = r.body
        version = r.httpMajor << 16 | r.httpMinor
        keepAlive = r.keepAlive
    }
}

struct Parsed: Equatable, CustomStringConvertible {
    var outputs: [RequestKey] = []
    var described: [String] = []  // only with FUZZ_VERBOSE
    var requests: [HTTPRequest] = []
    var upgrade: (HTTPRequest, [UInt8])? = nil
    var failure: Int? = nil

    /// Without a failure: the same outputs and the same upgrade remainder. With one: both failed, and what the
    /// single read produced is a prefix of what the reads produced. (Outputs completed before the failure in the
    /// failing read may be dropped, so fewer is fine; more is not: that is the parser going on after refusing,
    /// finding http-continues-after-refusal.) The status may differ: libhttp-parser hands a span (URL, header
    /// field or value) to its callback when the span ends or the read ends, so a limit counted in the callback can
    /// trip before a syntax error later in the same span when the span is cut across reads (431 or 413), and
    /// after it when it is not (400).
    static func == (whole: Parsed, split: Parsed) -> Bool {
        guard (whole.failure == nil) == (split.failure == nil) else { return false }
        if whole.failure == nil { return whole.outputs == split.outputs && whole.upgrade?.1 == split.upgrade?.1 }
        return whole.outputs.count <= split.outputs.count && Array(split.outputs.prefix(whole.outputs.count)) == whole.outputs
    }

    var description: String {
        "\(outputs.count) outputs \(outputs.map { k in "\(k.kind):\(k.method) \(k.target.debugDescription) \(k.headers) body \(hex(k.body, limit: 32))" }.joined(separator: " | ")) upgrade-remainder \(upgrade.map { hex($0.1) } ?? "none") failure \(failure.map(String.init) ?? "none")"
    }
}

func describe(_ r: HTTPRequest) -> String {
    let headers = r.headers.map { "\($0.name)=\($0.value.debugDescription)" }.joined(separator: ",")
    return "\(r.method) \(r.target.debugDescription) \(r.httpMajor).\(r.httpMinor) ka=\(r.keepAlive) [\(headers)] body=\(hex(r.body, limit: 32))"
}

func record(_ output: HTTPRequestParser.Output, into parsed: inout Parsed, unread: @autoclosure () -> [UInt8]) {
    switch output {
    case .request(let r):
        parsed.outputs.append(RequestKey(0, r))
        if fuzzVerbose { parsed.described.append("request " + describe(r)) }
        parsed.requests.append(r)
    case .bodyStarted(let r):
        parsed.outputs.append(RequestKey(1, r))
        if fuzzVerbose { parsed.described.append("bodyStarted " + describe(r)) }
    case .upgrade(let r, let remainder):
        parsed.outputs.append(RequestKey(2, r))
        if fuzzVerbose { parsed.described.append("upgrade " + describe(r)) }
        parsed.upgrade = (r, remainder + unread())
    }
}

func parse(_ stream: UnsafeRawBufferPointer, limits: HTTPLimits, chunks: [Range<Int>]) -> Parsed {
    let parser = HTTPRequestParser(limits: limits)
    defer { parser.deallocate() }
    var parsed = Parsed()
    for range in chunks {
        var outputs: [HTTPRequestParser.Output] = []
        var failure: Int? = nil
        withExactCopy(stream[range]) { chunk in
            do throws(HTTPParseFailure) { try parser.feed(chunk, into: &outputs) } catch {
                failure = error.status
                verbose("  read \(range): \(error)")
            }
        }
        for output in outputs {
            fuzzCheck(parsed.upgrade == nil, "output after an upgrade")
            record(output, into: &parsed, unread: Array(stream[range.upperBound...]))
        }
        if let failure {
            parsed.failure = failure
            break
        }
        if parsed.upgrade != nil { break }
    }
    return parsed
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size >= 2 else { return 0 }
    var limits = HTTPLimits()
    (limits.maxHeaderBytes, limits.maxHeaderCount, limits.maxBodyBytes) = limitChoices[Int(data[0] & 3)]
    let stream = UnsafeRawBufferPointer(start: data + 2, count: size - 2)
    guard stream.count > 0 else { return 0 }

    let whole = parse(stream, limits: limits, chunks: [0..<stream.count])
    verbose("http_request: \(whole)")
    let split = parse(stream, limits: limits, chunks: splitPoints(count: stream.count, seed: data[1]))
    verbose("http_request, fed in reads: \(split)")
    // Finding http-continues-after-refusal: a refusal in on_headers_complete returned 1, which libhttp-parser
    // reads as "skip the body", so it went on parsing the refused body as further requests in the same read.
    if skipping("http-continues-after-refusal") && whole.failure != nil && split.failure != nil { return 0 }
    fuzzCheck(whole == split, "fed whole: \(whole)\nfed in reads: \(split)\ninput \(hex(UnsafeBufferPointer(start: data, count: size), limit: 400))")

    // Finding http-trailer-refused: what libhttp-parser accepts, within the limits and with token names, the glue
    // accepts too (a chunked body with a trailer field was refused as "invalid header name").
    let bare = BareParse.run(stream, limits: limits)
    if whole.failure != nil && !skipping("http-trailer-refused") {
        fuzzCheck(!bare.acceptable,
                  "refused (\(whole.failure!)) a stream that libhttp-parser accepts within the limits, names all tokens: \(hex(stream, limit: 300))")
    }

    // http-header-value-ctl, on the raw bytes (HTTPHeaders drops NUL, so the parsed value cannot show it): a
    // request whose header value holds a control byte is refused, even when the request itself would complete.
    // The message holding it is never delivered whole (an earlier one may be; a later value may still be unread).
    if let bad = bare.firstBadMessage, !skipping("http-header-value-ctl") {
        let delivered = whole.outputs.filter { $0.kind != 1 }.count
        fuzzCheck(delivered <= bad, "message \(bad) has a header value with a control byte, yet \(delivered) requests were delivered: \(hex(stream, limit: 300))")
    }

    // Limits and sizes.
    fuzzCheck(whole.outputs.count <= stream.count / 8 + 1, "\(whole.outputs.count) outputs from \(stream.count) bytes")
    var total = 0
    var all = whole.requests
    if let upgrade = whole.upgrade {
        all.append(upgrade.0)
        fuzzCheck(upgrade.1.count <= stream.count, "remainder larger than the stream")
    }
    for r in all {
        // RFC 7230 3.2.4: no whitespace between a field name and its colon; a server MUST answer 400.
        // Finding http-header-name: libhttp-parser (non-strict build) lets spaces into names, so
        // "Transfer-Encoding : chunked" was honoured as chunked under the name "transfer-encoding ".
        if !skipping("http-header-name") {
            for h in r.headers {
                fuzzCheck(!h.name.isEmpty && h.name.utf8.allSatisfy(isTokenChar),
                          "header name \(h.name.debugDescription) is not a token (RFC 7230 3.2.4 says 400): \(describe(r))")
            }
        }
        // Finding http-header-value-ctl: libhttp-parser 2.9.4 does not check the first byte of a header value, so a
        // value could start with a control byte (NUL, which HTTPHeaders then dropped silently, ESC, DEL...).
        // RFC 7230 3.2: field-content is VCHAR, obs-text, SP and HTAB only. The target has no controls or spaces.
        if !skipping("http-header-value-ctl") {
            for h in r.headers {
                fuzzCheck(!h.value.utf8.contains { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F },
                          "header \(h.name) has a control byte in its value \(h.value.debugDescription)")
            }
            fuzzCheck(!r.target.utf8.contains { $0 <= 0x20 || $0 == 0x7F }, "control byte or space in the target \(r.target.debugDescription)")
        }
        fuzzCheck(r.headers.count <= limits.maxHeaderCount, "\(r.headers.count) headers")
        fuzzCheck(r.body.count <= limits.maxBodyBytes, "body of \(r.body.count) bytes")
        let headerBytes = r.target.utf8.count + r.headers.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count }
        fuzzCheck(headerBytes <= 3 * limits.maxHeaderBytes, "request head of \(headerBytes) bytes")
        total += headerBytes + r.body.count
        checkAccessors(r)
    }
    fuzzCheck(total <= 3 * stream.count, "requests hold \(total) bytes from \(stream.count)")
    for r in whole.requests { checkRoundTrip(r, limits: limits) }

    // Every request that carries a body was announced with .bodyStarted first (the connection relies on it).
    var announced: RequestKey? = nil
    for output in whole.outputs {
        if output.kind == 1 { announced = output; continue }
        // Finding http-chunked-body-started: with two Transfer-Encoding lines ("gzip", then "chunked") the glue
        // looked only at the first, missed that the body is chunked, and did not announce it.
        if output.kind == 0 && !output.body.isEmpty && !skipping("http-chunked-body-started") {
            var expected = output
            expected.kind = 1
            expected.body = []
            fuzzCheck(announced == expected, "a request with a body was not announced by .bodyStarted: \(whole)")
        }
        announced = nil
    }
    return 0
}

/// RFC 7230 tchar.
func isTokenChar(_ c: UInt8) -> Bool {
    switch c {
    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
        return true
    default:
        return Array("!#$%&'*+-.^_`|~".utf8).contains(c)
    }
}

/// Writes the request out again and parses it: the same method, target, version, headers and body.
func checkRoundTrip(_ r: HTTPRequest, limits: HTTPLimits) {
    // Framing headers are rewritten; requests that ask to switch protocols are not requests we re-serialize.
    if r.method == "CONNECT" || r.header("upgrade") != nil { return }
    // Text the parser repaired (invalid UTF-8) or that HTTP cannot carry back verbatim is out of scope.
    let strings = [r.target] + r.headers.flatMap { [$0.name, $0.value] }
    if strings.contains(where: { $0.unicodeScalars.contains { $0 == "\u{FFFD}" || $0 == "\r" || $0 == "\n" } }) { return }
    // libhttp-parser 2.9.4 marks "uses Transfer-Encoding" as soon as a name starts with "transfer-encoding"
    // (e.g. "Transfer-Encoding-X"), and then refuses any Content-Length: an upstream quirk, not re-serializable.
    if r.headers.contains(where: { $0.name.hasPrefix("transfer-encoding") }) { return }
    // Names that are not tokens are finding http-header-name (checked above); they cannot be written back either.
    if r.headers.contains(where: { !$0.name.utf8.allSatisfy(isTokenChar) }) { return }
    let kept = r.headers.filter { $0.name != "content-length" && $0.name != "transfer-encoding" }
    var text = "\(r.method) \(r.target) HTTP/\(r.httpMajor).\(r.httpMinor)\r\n"
    for h in kept { text += "\(h.name): \(h.value)\r\n" }
    if !r.body.isEmpty { text += "content-length: \(r.body.count)\r\n" }
    text += "\r\n"
    var bytes = Array(text.utf8) + r.body
    var big = HTTPLimits()
    big.maxHeaderBytes = 1 << 20
    big.maxHeaderCount = 1000
    big.maxBodyBytes = 1 << 20
    let parser = HTTPRequestParser(limits: big)
    defer { parser.deallocate() }
    var outputs: [HTTPRequestParser.Output] = []
    do {
        try bytes.withUnsafeMutableBytes { try parser.feed(UnsafeRawBufferPointer($0), into: &outputs) }
    } catch {
        fuzzFail("re-serialized request refused (\(error)): \(describe(r))\nwritten as \(String(decoding: bytes, as: UTF8.self).debugDescription)")
    }
    bytes = []
    let again = outputs.compactMap { output -> HTTPRequest? in
        if case .request(let q) = output { return q }
        return nil
    }
    guard again.count == 1, let q = again.first else { fuzzFail("re-serialized request gave \(outputs.count) outputs: \(describe(r))") }
    let keptAgain = q.headers.filter { $0.name != "content-length" && $0.name != "transfer-encoding" }
    fuzzCheck(q.method == r.method && q.target == r.target && q.httpMajor == r.httpMajor && q.httpMinor == r.httpMinor
              && q.body == r.body && keptAgain.map { $0.name } == kept.map { $0.name }
              && keptAgain.map { $0.value } == kept.map { $0.value },
              "round trip: \(describe(r)) became \(describe(q))")
}

func checkAccessors(_ r: HTTPRequest) {
    // path and queryString put back together give the target.
    let hasQuery = r.target.utf8.contains(UInt8(ascii: "?"))
    // Finding http-query-string-combining: queryString stepped over the "?" with the Character view, so combining
    // marks right after it ("?\u{64B}EIO=4") were dropped with it.
    if !skipping("http-query-string-combining") {
        fuzzCheck(Array((r.path + (hasQuery ? "?" + r.queryString : "")).utf8) == Array(r.target.utf8),
                  "path/query split of \(r.target.debugDescription): path \(r.path.debugDescription) query \(r.queryString.debugDescription)")
    }
    let query = r.query
    for (name, value) in query.prefix(16) {
        let first = query.first { $0.name == name }!.value
        // Finding http-query-empty-pair: queryValue("") matched the empty pair of "?&=x" that query skips.
        if name.isEmpty && skipping("http-query-empty-pair") { continue }
        fuzzCheck(r.queryValue(name) == first, "queryValue(\(name.debugDescription)) = \(String(describing: r.queryValue(name))) but query has \(value.debugDescription) first \(first.debugDescription)")
    }
    for h in r.headers.prefix(16) {
        fuzzCheck(r.header(h.name) == r.headers.first { $0.name == h.name }!.value, "header(\(h.name))")
        fuzzCheck(h.name == h.name.lowercased(), "header name not lower-cased")
    }
    _ = HTTPCompression.negotiate(r.header("accept-encoding"))
    if WebSocketHandshake.validate(r) == nil {
        let key = r.header("sec-websocket-key")!
        fuzzCheck(key.utf8.count == 24, "key length")
        fuzzCheck(WebSocketHandshake.acceptValue(forKey: key).utf8.count == 28, "accept value length")
    }
    if let offer = r.header("sec-websocket-extensions") {
        for options in [PerMessageDeflate.Options(), PerMessageDeflate.Options(
            serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 10,
            clientMaxWindowBits: 12)]
        {
            guard let agreed = PerMessageDeflate.negotiate(offer: offer, options: options) else { continue }
            let response = agreed.responseHeaderValue
            let again = PerMessageDeflate.negotiate(offer: response, options: options)
            fuzzCheck(again == agreed, "offer \(offer.debugDescription) agreed as \(response.debugDescription), which offered again gives \(String(describing: again))")
            fuzzCheck((9...15).contains(agreed.serverMaxWindowBits) && (8...15).contains(agreed.clientMaxWindowBits),
                      "window bits out of range")
        }
    }
}

/// libhttp-parser alone, with callbacks that only record: whether it accepts the stream, and for each message the
/// sizes the glue's limits apply to (trailer fields counted too, so the model is never more lenient than the
/// glue may be) and whether every field name is a token. Where this says "acceptable", the glue must not refuse.
final class BareParse {
    var ok = true
    var messages = 0
    var headerBytes = 0
    var headerLines = 0
    var bodyBytes = 0
    var overLimit = false
    var badName = false
    /// The request-target holds whitespace or a control byte (RFC 7230 3.1.1), which the glue refuses.
    var badTarget = false
    /// Some header value (trailers included) holds a control byte other than HTAB (raw, as on the wire).
    var controlInValue = false
    /// The index of the first message with such a value.
    var firstBadMessage: Int? = nil
    var field: [UInt8] = []
    var inField = false
    let limits: HTTPLimits

    init(limits: HTTPLimits) { self.limits = limits }

    static func from(_ p: UnsafeMutablePointer<http_parser>?) -> BareParse {
        Unmanaged<BareParse>.fromOpaque(p!.pointee.data).takeUnretainedValue()
    }

    func endField() {
        if inField {
            if field.isEmpty || !field.allSatisfy(isTokenChar) { badName = true }
            headerLines += 1
            if headerLines > limits.maxHeaderCount { overLimit = true }
            field = []
            inField = false
        }
    }

    static var settings: http_parser_settings = {
        var s = http_parser_settings()
        s.on_message_begin = { p in
            let b = BareParse.from(p)
            b.headerBytes = 0; b.headerLines = 0; b.bodyBytes = 0; b.field = []; b.inField = false
            return 0
        }
        s.on_url = { p, at, n in
            let b = BareParse.from(p)
            if UnsafeRawBufferPointer(start: at, count: n).contains(where: { $0 <= 0x20 || $0 == 0x7F }) {
                b.badTarget = true
            }
            b.headerBytes += n
            if b.headerBytes > b.limits.maxHeaderBytes { b.overLimit = true }
            return 0
        }
        s.on_header_field = { p, at, n in
            let b = BareParse.from(p)
            b.inField = true
            b.field += UnsafeRawBufferPointer(start: at, count: n)
            b.headerBytes += n
            if b.headerBytes > b.limits.maxHeaderBytes { b.overLimit = true }
            return 0
        }
        s.on_header_value = { p, at, n in
            let b = BareParse.from(p)
            b.endField()
            if UnsafeRawBufferPointer(start: at, count: n).contains(where: { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F }) {
                b.controlInValue = true
                if b.firstBadMessage == nil { b.firstBadMessage = b.messages }
            }
            b.headerBytes += n
            if b.headerBytes > b.limits.maxHeaderBytes { b.overLimit = true }
            return 0
        }
        s.on_headers_complete = { p in
            let b = BareParse.from(p)
            b.endField()
            let declared = p!.pointee.content_length
            if declared != UInt64.max, declared > UInt64(b.limits.maxBodyBytes) { b.overLimit = true }
            return 0
        }
        s.on_body = { p, _, n in
            let b = BareParse.from(p)
            b.bodyBytes += n
            if b.bodyBytes > b.limits.maxBodyBytes { b.overLimit = true }
            return 0
        }
        s.on_message_complete = { p in
            let b = BareParse.from(p)
            b.endField()  // a trailer field without a value
            b.messages += 1
            return 0
        }
        return s
    }()

    /// Whether the glue has no reason to refuse the stream: libhttp-parser accepts it, no limit is passed, every
    /// field name (trailers included) is a token, no value holds a control byte, the target no whitespace.
    static func acceptable(_ stream: UnsafeRawBufferPointer, limits: HTTPLimits) -> Bool {
        run(stream, limits: limits).acceptable
    }

    static func run(
        _ stream: UnsafeRawBufferPointer, limits: HTTPLimits
    ) -> (acceptable: Bool, controlInValue: Bool, firstBadMessage: Int?) {
        let model = BareParse(limits: limits)
        var parser = http_parser()
        http_parser_init(&parser, HTTP_REQUEST)
        parser.data = Unmanaged.passUnretained(model).toOpaque()
        let parsed = withExtendedLifetime(model) {
            http_parser_execute(&parser, &settings, stream.baseAddress!.assumingMemoryBound(to: CChar.self), stream.count)
        }
        model.endField()
        let bad = model.firstBadMessage
        if http_errno(rawValue: parser.http_errno) != HPE_OK { return (false, model.controlInValue, bad) }
        if parser.upgrade == 0 && parsed != stream.count { return (false, model.controlInValue, bad) }
        return (!model.overLimit && !model.badName && !model.controlInValue && !model.badTarget, model.controlInValue, bad)
    }
}

import Testing
@testable import SIOHTTP

@Suite struct HTTPRequestParserTests {
    private func parse(_ text: String, limits: HTTPLimits = HTTPLimits(), chunk: Int = .max) throws -> [HTTPRequestParser.Output] {
        let parser = HTTPRequestParser(limits: limits)
        defer { parser.deallocate() }
        var outputs: [HTTPRequestParser.Output] = []
        let bytes = Array(text.utf8)
        var start = 0
        while start < bytes.count {
            let end = min(bytes.count, start + chunk)
            try bytes[start..<end].withUnsafeBytes { try parser.feed($0, into: &outputs) }
            start = end
        }
        return outputs
    }

    private func requests(_ outputs: [HTTPRequestParser.Output]) -> [HTTPRequest] {
        outputs.compactMap { if case .request(let request) = $0 { return request } else { return nil } }
    }

    @Test func parsesPipelinedRequestsFedByteByByte() throws {
        let text = "GET /a?x=1&y=%20b HTTP/1.1\r\nHost: h\r\nX-Long: one\r\n\r\n"
            + "POST /b HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
        let parsed = requests(try parse(text, chunk: 1))
        #expect(parsed.count == 2)
        #expect(parsed[0].method == "GET")
        #expect(parsed[0].path == "/a")
        #expect(parsed[0].queryValue("y") == " b")
        #expect(parsed[0].header("x-long") == "one")
        #expect(parsed[1].body == Array("hello".utf8))
    }

    @Test func reportsABodyStillArriving() throws {
        let outputs = try parse("POST /b HTTP/1.1\r\nContent-Length: 10\r\n\r\nhel")
        #expect(outputs.count == 1)
        if case .bodyStarted(let request) = outputs[0] { #expect(request.method == "POST") } else { Issue.record() }
    }

    @Test func refusesOversizeBodiesFromTheirDeclaredLength() {
        var limits = HTTPLimits()
        limits.maxBodyBytes = 4
        #expect(throws: HTTPParseFailure.bodyTooLarge) {
            try parse("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n", limits: limits)
        }
    }

    @Test func refusesHeaderFloods() {
        var limits = HTTPLimits()
        limits.maxHeaderCount = 10
        let many = (0..<11).map { "X-\($0): v\r\n" }.joined()
        #expect(throws: HTTPParseFailure.headersTooLarge) { try parse("GET / HTTP/1.1\r\n\(many)\r\n", limits: limits) }
        let big = "GET / HTTP/1.1\r\nX: \(String(repeating: "a", count: 20_000))\r\n\r\n"
        #expect(throws: HTTPParseFailure.headersTooLarge) { try parse(big) }
    }

    @Test func stopsAtAnUpgradeAndKeepsTheRest() throws {
        let text = "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\u{81}\u{80}"
        let outputs = try parse(text)
        guard case .upgrade(let request, let remainder) = outputs.last else {
            Issue.record("no upgrade")
            return
        }
        #expect(request.path == "/ws")
        #expect(remainder == [0xC2, 0x81, 0xC2, 0x80])  // the two characters above, UTF-8 encoded
    }

    /// Fuzz finding http-header-name: a field name must be a token (RFC 7230 3.2.4), or `Transfer-Encoding :`
    /// would be honoured under another name.
    @Test(arguments: ["X Y: z", "Transfer-Encoding : chunked", "X\u{01}: z", "X-Folded:\u{1f}one", "X: a\u{7f}b"])
    func refusesHeaderNamesThatAreNotTokens(_ line: String) {
        #expect(throws: HTTPParseFailure.self) { try parse("POST /x HTTP/1.1\r\n\(line)\r\n\r\n") }
    }

    /// Fuzz finding http-continues-after-refusal: nothing parsed after a refused request is handed out.
    @Test func handsOutNothingAfterARefusal() throws {
        var limits = HTTPLimits()
        limits.maxBodyBytes = 10
        let parser = HTTPRequestParser(limits: limits)
        defer { parser.deallocate() }
        var outputs: [HTTPRequestParser.Output] = []
        let text = "POST /a HTTP/1.1\r\nContent-Length: 11\r\n\r\nGET /after-refusal HTTP/1.1\r\n\r\n"
        #expect(throws: HTTPParseFailure.bodyTooLarge) {
            try Array(text.utf8).withUnsafeBytes { try parser.feed($0, into: &outputs) }
        }
        #expect(outputs.isEmpty)
    }

    /// Fuzz finding http-chunked-body-started: the parser's own chunked flag announces the body, whichever
    /// Transfer-Encoding line says chunked.
    @Test func announcesAChunkedBodyDeclaredOnASecondLine() throws {
        let outputs = try parse("POST /x HTTP/1.1\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
        guard case .bodyStarted = outputs.first else {
            Issue.record("no bodyStarted: \(outputs)")
            return
        }
    }

    /// Fuzz finding http-query-empty-pair: `queryValue` agrees with `query` about empty pairs.
    @Test func queryValueSkipsEmptyPairsAsQueryDoes() {
        let request = HTTPRequest(method: "GET", target: "/engine.io/?&=x&EIO=4")
        #expect(request.query.first { $0.name == "" }?.value == "x")
        #expect(request.queryValue("") == "x")
        #expect(request.queryValue("EIO") == "4")
    }

    /// Fuzz finding http-query-string-combining: the query starts right after `?`, by bytes.
    @Test func keepsACombiningMarkAfterTheQuestionMark() {
        let request = HTTPRequest(method: "GET", target: "/x?\u{64B}EIO=4")
        #expect(request.queryString == "\u{64B}EIO=4")
    }

    /// Fuzz finding http-trailer-refused: a chunked request with a trailer field is a valid request.
    @Test func acceptsAChunkedBodyWithATrailer() throws {
        let text = "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-Trailer: t\r\n\r\n"
        let parsed = requests(try parse(text))
        #expect(parsed.count == 1)
        #expect(parsed.first?.body == Array("abc".utf8))
    }

    /// Fuzz finding (CI smoke): the last trailer field is checked like the others, whole or byte by byte.
    @Test func refusesAControlByteInTheLastTrailer() {
        let text = "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nX-Trailer:\u{0f}\r\n\r\n"
        #expect(throws: HTTPParseFailure.self) { try parse(text) }
        #expect(throws: HTTPParseFailure.self) { try parse(text, chunk: 1) }
    }

    /// Fuzz finding: a tab inside the request target is refused.
    @Test func refusesControlBytesInTheTarget() {
        #expect(throws: HTTPParseFailure.self) { try parse("GET /engine.\to/?EIO=4 HTTP/1.1\r\n\r\n") }
    }

    @Test func refusesGarbage() {
        #expect(throws: HTTPParseFailure.self) { try parse("NOT HTTP AT ALL\r\n\r\n") }
    }

    @Test func negotiatesCompressionLikeAccepts() {
        #expect(HTTPCompression.negotiate("gzip, deflate, br") == .gzip)
        #expect(HTTPCompression.negotiate("deflate") == .deflate)
        #expect(HTTPCompression.negotiate("gzip;q=0, deflate") == .deflate)
        #expect(HTTPCompression.negotiate("identity") == nil)
        #expect(HTTPCompression.negotiate(nil) == nil)
    }

    @Test func computesTheRFCAcceptKey() {
        // RFC 6455 section 1.3.
        #expect(WebSocketHandshake.acceptValue(forKey: "dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }
}

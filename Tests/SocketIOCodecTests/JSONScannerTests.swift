import Testing
import SocketIOCodec

/// JSONTestSuite-style cases (y_ must be accepted, n_ refused, i_ implementation-defined), written for this
/// scanner; the expectations are what JavaScript's JSON.parse does, plus UTF-8 validity.
@Suite("JSON scanner")
struct JSONScannerTests {
    @Test(arguments: [
        "[]", "{}", "[[]]", "[{}]", #"{"a":[]}"#, " [ ] ", "\t\n\r [1] \t\n\r",
        "0", "-0", "1", "-1", "123", "0.5", "-0.5", "1e5", "1E5", "1e+5", "1e-5", "1.5E-05", "0e1", "-0.0e-0",
        "1e400", "123456789012345678901234567890", "true", "false", "null",
        #""""#, #""abc""#, #"" ""#, #""\"\\\/\b\f\n\r\t""#, #""\u0000""#, #""\u00e9\u00E9""#,
        #""\ud83d\ude00""#, "\"é😀ñ中\"", "\"\u{7F}\"", "\"\u{10FFFF}\"",
        #"[1,-1,0.5,1e5,1E+5,-0,0e1,true,false,null,"s",[],{}]"#,
        #"{"a":1,"b":{"c":[1,{"d":null}]},"e":"f"}"#,
        #"{"a":1,"a":2}"#,
        #"{"":0}"#,
        #"[ 1 , 2 , { "a" : "b" } ]"#,
        "\"0123456789abcdefghijklmnopqrstuvwxyz long enough to take the eight-byte path\"",
    ])
    func accepts(json: String) {
        #expect(JSONScanner.validate(bytes(json)) == nil, "\(json)")
    }

    /// Lone surrogate escapes: RFC 8259 leaves them undefined; JSON.parse accepts them, so do we.
    @Test(arguments: [#""\ud800""#, #""\udc00""#, #""\ud800\ud800""#, #""\ude00\ud83d""#])
    func acceptsLoneSurrogateEscapesAsJSONParseDoes(json: String) {
        #expect(JSONScanner.validate(bytes(json)) == nil)
    }

    @Test(arguments: [
        "", " ", "[", "]", "{", "}", "[1,]", "[,1]", "[,]", "[1,,2]", "[1 2]", "[1]]", "[[1]", "[1] [2]", "[1],",
        #"{"a":1,}"#, #"{,"a":1}"#, #"{"a" 1}"#, #"{"a":}"#, #"{"a"}"#, "{1:2}", "{a:1}", #"{'a':1}"#, #"{"a":1"#,
        #"{"a":1]"#, #"[1}"#,
        "01", "-01", "00", "-", "+1", "1.", ".1", "1.e1", "1e", "1e+", "1E-", "0x1", "1.5.5", "- 1", "Infinity", "NaN",
        "-Infinity", "1_000",
        "tru", "truex", "nul", "nulll", "True", "NULL", "fals", "falsee",
        #""abc"#, #"""#, #""\x""#, #""\u12""#, #""\u12G4""#, #""\U0041""#, #""\"#, #""\'""#, "'a'", #""a"b""#,
        "\"\t\"", "\"\n\"", "\"\u{0}\"", "\"\u{1F}\"", "[\"a\"\u{0}]",
        "\u{FEFF}[]", "\u{A0}[]", "[1]\u{0}", "abc", "[a]", "/**/[]", "[] //",
    ])
    func refuses(json: String) {
        #expect(JSONScanner.validate(bytes(json)) != nil, "\(json)")
    }

    @Test(arguments: [
        [0x22, 0x80, 0x22],  // lone continuation byte
        [0x22, 0xC0, 0x80, 0x22],  // overlong NUL
        [0x22, 0xC1, 0xBF, 0x22],  // overlong
        [0x22, 0xE0, 0x80, 0x80, 0x22],  // overlong 3-byte
        [0x22, 0xED, 0xA0, 0x80, 0x22],  // UTF-16 surrogate encoded in UTF-8
        [0x22, 0xF0, 0x80, 0x80, 0x80, 0x22],  // overlong 4-byte
        [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22],  // above U+10FFFF
        [0x22, 0xF5, 0x80, 0x80, 0x80, 0x22],
        [0x22, 0xFF, 0x22],
        [0x22, 0xE2, 0x82, 0x22],  // truncated sequence
        [0x22, 0xE2, 0x82],  // truncated at the end
        [0x22, 0xC3, 0x28, 0x22],  // bad continuation
        [0x5B, 0xC3, 0xA9, 0x5D],  // valid UTF-8, but outside a string
    ] as [[UInt8]])
    func refusesInvalidUTF8(json: [UInt8]) {
        #expect(JSONScanner.validate(json) != nil)
    }

    @Test func acceptsAllUTF8Lengths() {
        #expect(JSONScanner.validate([0x22, 0x24, 0xC2, 0xA2, 0xE2, 0x82, 0xAC, 0xF0, 0x90, 0x8D, 0x88, 0x22]) == nil)
        #expect(JSONScanner.validate([0x22, 0xED, 0x9F, 0xBF, 0xEE, 0x80, 0x80, 0xF4, 0x8F, 0xBF, 0xBF, 0x22]) == nil)
    }

    @Test func nestingLimit() {
        let depth64 = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        let depth65 = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        #expect(JSONScanner.validate(bytes(depth64)) == nil)
        #expect(JSONScanner.validate(bytes(depth65)) != nil)
        #expect(JSONScanner.validate(bytes(depth65), maxDepth: 65) == nil)
        #expect(JSONScanner.validate(bytes("[1]"), maxDepth: 0) != nil)
        #expect(JSONScanner.validate(bytes("1"), maxDepth: 0) == nil)
        let objects = String(repeating: #"{"a":"#, count: 65) + "1" + String(repeating: "}", count: 65)
        #expect(JSONScanner.validate(bytes(objects)) != nil)
    }

    @Test func hugeNestingNeitherOverflowsNorAllocatesPerLevel() {
        let open = [UInt8](repeating: 0x5B, count: 1_000_000)
        #expect(JSONScanner.validate(open) != nil)
        #expect(JSONScanner.validate(open, maxDepth: Int.max) != nil)  // unexpected end, after 10^6 levels
        let balanced = [UInt8](repeating: 0x5B, count: 200_000) + [UInt8](repeating: 0x5D, count: 200_000)
        #expect(JSONScanner.validate(balanced, maxDepth: 1_000_000) == nil)
    }

    @Test func errorsSayWhere() {
        #expect(JSONScanner.validate(bytes("[1,]"))?.reason == "invalid JSON: unexpected byte at offset 3")
        #expect(JSONScanner.validate(bytes(#"["a"#))?.reason == "invalid JSON: unexpected end at offset 3")
        #expect(JSONScanner.validate(bytes("[1] x"))?.reason == "invalid JSON: trailing data at offset 4")
    }

    @Test func topLevelElements() throws {
        let json = bytes(#" [ 1 , "two" , {"three":[3]} , [] , null ] "#)
        let ranges = try JSONScanner.topLevelElements(json)
        #expect(ranges.map { String(decoding: json[$0], as: UTF8.self) } == ["1", #""two""#, #"{"three":[3]}"#, "[]", "null"])
        #expect(try JSONScanner.topLevelElements(bytes("[]")) == [])
        #expect(try JSONScanner.topLevelElements(bytes("[[1,2]]")) == [1..<6])
        #expect(throws: SocketIOCodecError.notAnArray) { try JSONScanner.topLevelElements(bytes(#"{"a":1}"#)) }
        #expect(throws: SocketIOCodecError.self) { try JSONScanner.topLevelElements(bytes("[1,")) }
    }

    @Test func checkPlaceholders() {
        let two = bytes(#"["a",{"_placeholder":true,"num":0},[{"num":1,"_placeholder":true}]]"#)
        #expect(JSONScanner.checkPlaceholders(two, attachmentCount: 2) == nil)
        #expect(JSONScanner.checkPlaceholders(two, attachmentCount: 1) == .illegalAttachments)
        #expect(two.withUnsafeBytes { JSONScanner.placeholderCount($0, attachmentCount: 2) } == 2)
        #expect(JSONScanner.checkPlaceholders(bytes(#"[{"_placeholder":true,"num":"0"}]"#), attachmentCount: 1)
            == .illegalAttachments)
        #expect(JSONScanner.checkPlaceholders(bytes(#"[{"_placeholder":true,"num":0}"#), attachmentCount: 1)
            != nil)
        #expect(JSONScanner.checkPlaceholders(bytes("[]"), attachmentCount: 0) == nil)
    }

    @Test func appendQuotedMatchesJSONStringify() {
        func quoted(_ s: String) -> String {
            var out: [UInt8] = []
            JSONScanner.appendQuoted(s, to: &out)
            return String(decoding: out, as: UTF8.self)
        }
        #expect(quoted("") == #""""#)
        #expect(quoted("plain") == #""plain""#)
        #expect(quoted("a\"b\\c/d") == #""a\"b\\c/d""#)
        #expect(quoted("\u{8}\u{C}\n\r\t") == #""\b\f\n\r\t""#)
        #expect(quoted("\u{0}\u{1}\u{1F}\u{7F}") == "\"\\u0000\\u0001\\u001f\u{7F}\"")
        #expect(quoted("é😀\u{2028}") == "\"é😀\u{2028}\"")
        let quotedText = quoted("x\"\n\u{3}y")
        #expect(JSONScanner.validate(bytes(quotedText)) == nil)
    }
}

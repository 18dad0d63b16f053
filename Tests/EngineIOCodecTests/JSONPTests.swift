import Testing
@testable import EngineIOCodec

/// JSONP polling as the reference's polling-jsonp.ts writes and reads it; the expected texts were checked against
/// Node (JSON.stringify, querystring.parse).
@Suite struct JSONPTests {
    private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test func specFrame() {
        #expect(JSONP.wrap(text: bytes("packet data"), index: bytes("4")) == bytes(#"___eio[4]("packet data");"#))
    }

    @Test func escapesAsJavaScriptNotJSON() {
        let payload = "a\"b\\c\n\r\t\u{8}\u{C}\u{1}\u{7F}\u{2028}\u{2029}é😀"
        #expect(JSONP.wrap(text: bytes(payload), index: bytes("0"))
                == bytes(#"___eio[0]("a\"b\\c\n\r\t\b\f\u0001"# + "\u{7F}" + #"\u2028\u2029é😀");"#))
    }

    @Test func callbackIndexKeepsDigitsOnly() {
        #expect(JSONP.callbackIndex("12") == bytes("12"))
        #expect(JSONP.callbackIndex("1);alert(2") == bytes("12"))
        #expect(JSONP.callbackIndex("") == [])
        #expect(JSONP.callbackIndex("٣") == [])  // digits outside ASCII are not [0-9]
    }

    @Test func binaryPayloadIsABufferObject() {
        #expect(JSONP.wrap(binary: [1, 0, 255], index: bytes("3")) == bytes(#"___eio[3]({"type":"Buffer","data":[1,0,255]});"#))
    }

    @Test func formBodies() {
        let cases: [(String, String?)] = [
            ("d=6%3A4hello", "6:4hello"), ("d=a\\nb", "a\nb"), ("d=a\\\\nb", "a\\nb"), ("d=a\\\\\\nb", "a\\\\nb"),
            ("d=1&d=2", nil), ("x=1", nil), ("%64=4:4hi", "4:4hi"), ("d=a+b%2Bc", "a b+c"), ("d=%ZZé", "%ZZé"),
            ("d=%41é%", "A\u{FFFD}%"), ("d=é%41", "éA"), ("d=%E2%82%AC", "€"), ("d=%C3", "\u{FFFD}"), ("d", ""),
            ("d=&d", nil), ("", nil),
        ]
        for (body, expected) in cases {
            #expect(JSONP.payload(fromBody: bytes(body)) == expected.map(bytes), "\(body)")
        }
    }

    @Test func formBodiesReadAtMostAThousandPairs() {
        let filler = Array(repeating: "x=1", count: 999).joined(separator: "&")
        #expect(JSONP.payload(fromBody: bytes(filler + "&d=last")) == bytes("last"))
        #expect(JSONP.payload(fromBody: bytes(filler + "&x=1&d=late")) == nil)
    }
}

import Testing
@testable import SocketIOCodec

/// Namespaces of Socket.IO 2.x clients, read as the reference's `new URL(nsp, "https://socket.io")`; the expected
/// values were checked against Node 20.
@Suite struct EIO3NamespaceTests {
    private func parse(_ text: String) -> (String, String)? {
        EIO3Namespace.parse(text).map { ($0.name, String(decoding: $0.auth, as: UTF8.self)) }
    }

    @Test func queryBecomesTheAuthObject() {
        #expect(parse("/")! == ("/", "{}"))
        #expect(parse("/chat")! == ("/chat", "{}"))
        #expect(parse("/chat?token=abc")! == ("/chat", #"{"token":"abc"}"#))
        #expect(parse("/q?x=1&y=%41+b&x=2&&z")! == ("/q", #"{"x":"2","y":"A b","z":""}"#))
        #expect(parse("/q?0=a&b=c&1=d")! == ("/q", #"{"0":"a","1":"d","b":"c"}"#))
        #expect(parse("/a#f?x")! == ("/a", "{}"))
    }

    @Test func pathsAreNormalisedAsURLs() {
        let cases: [(String, String)] = [
            ("/a^b c", "/a^b%20c"), ("/chat ", "/chat"), ("/a\\b", "/a/b"), ("/a/./b/../c", "/a/c"), ("/x\ty", "/xy"),
            ("/é", "/%C3%A9"), ("/a%2e%2E/b", "/a%2e%2E/b"), ("/..", "/"), ("/a/.", "/a/"), ("/\u{7F}", "/%7F"),
            ("/{}`<>\"|", "/%7B%7D%60%3C%3E%22|"),
        ]
        for (input, pathname) in cases { #expect(parse(input)?.0 == pathname, "\(input)") }
    }

    @Test func hostFormsAreRefused() {
        #expect(parse("//h/x") == nil)
        #expect(parse("/\\h") == nil)
    }
}

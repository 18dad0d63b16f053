import Testing
@testable import SocketIO

/// The pure parts of metrics and the admin UI: label escaping, the UI's date format, bcrypt through libxcrypt.
@Suite struct ObservabilityTests {
    @Test func labelValuesAreEscapedAsTheTextFormatRequires() {
        #expect(PrometheusText.escape("/chat") == "/chat")
        #expect(PrometheusText.escape("a\"b\\c\nd") == "a\\\"b\\\\c\\nd")
    }

    @Test func datesAreJavaScriptsToJSON() {
        #expect(AdminJSON.iso(milliseconds: 0) == "1970-01-01T00:00:00.000Z")
        #expect(AdminJSON.iso(milliseconds: 1_234_567_890_123) == "2009-02-13T23:31:30.123Z")
        #expect(AdminJSON.iso(milliseconds: 1_234_567_890_007) == "2009-02-13T23:31:30.007Z")
    }

    /// The reference's own test hash (bcrypt of "changeit", cost 10).
    @Test func bcryptHashesAreCheckedByLibxcrypt() {
        let hash = "$2b$10$nu1FHRkuxkZkqID.31gz4uQsyERZAn.m4IIruysTsHDODBtrqS5Me"
        #expect(Bcrypt.isValidHash(hash))
        #expect(Bcrypt.matches("changeit", hash: hash))
        #expect(!Bcrypt.matches("changeIt", hash: hash))
        #expect(!Bcrypt.isValidHash("changeit"))
        #expect(!Bcrypt.isValidHash("$1$abcdefgh$" + String(repeating: "x", count: 49)))
        #expect(!Bcrypt.isValidHash("$2b$99$" + String(repeating: "a", count: 53)))
    }

    @Test func instrumentRefusesBadOptions() throws {
        let loop = try EventLoop()
        let io = SocketIOServer(loop: loop)
        var options = AdminOptions()
        options.namespaceName = "/"
        #expect(throws: AdminError.invalidNamespace) { try io.instrument(options) }
        options = AdminOptions()
        options.auth = AdminAuth(username: "admin", passwordHash: "plain")
        #expect(throws: AdminError.invalidPasswordHash) { try io.instrument(options) }
    }
}

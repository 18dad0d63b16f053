import Testing
import SocketIOCodec

@Suite("Event arguments")
struct SocketIOEventArgumentsTests {
    @Test(arguments: [
        (#"["a"]"#, "a", "[]"),
        (#"["hello",1]"#, "hello", "[1]"),
        (#"["a",1,{"b":[2]},"c"]"#, "a", #"[1,{"b":[2]},"c"]"#),
        (#" [ "a" , 1 , 2 ] "#, "a", "[ 1 , 2 ] "),
        (#"[ "a" ]"#, "a", "[]"),
        (#"["h\u00e9\n\"\ud83d\ude00"]"#, "hé\n\"😀", "[]"),
        (#"["lone\ud800"]"#, "lone\u{FFFD}", "[]"),
        ("[1,2]", "1", "[2]"),
        ("[-7]", "-7", "[]"),
        ("[-0]", "0", "[]"),
        ("[1.50]", "1.5", "[]"),
        ("[1.0]", "1", "[]"),
        ("[1e3]", "1000", "[]"),
        ("[1e21]", "1e+21", "[]"),
        ("[1e20]", "100000000000000000000", "[]"),
        ("[0.000001]", "0.000001", "[]"),
        ("[1e-7]", "1e-7", "[]"),
        ("[123456789012345678901]", "123456789012345680000", "[]"),
        ("[1234567890123456]", "1234567890123456", "[]"),
        ("[0.1]", "0.1", "[]"),
        ("[1.5e-10]", "1.5e-10", "[]"),
        ("[1e400]", "Infinity", "[]"),
        ("[-1e400]", "-Infinity", "[]"),
        ("[5e-324]", "5e-324", "[]"),
        ("[1.7976931348623157e308]", "1.7976931348623157e+308", "[]"),
    ])
    func splitsNameAndArguments(payload: String, name: String, arguments: String) throws {
        let (decodedName, args) = try SocketIOEventArguments.event(bytes(payload))
        #expect(decodedName == name)
        #expect(text(args) == arguments)
    }

    @Test(arguments: ["[]", "{}", #""a""#, "[null]", "[[1]]", #"[{"a":1}]"#, "", "[", #"["a""#, #"["a" 1]"#])
    func refusesPayloadsWithoutAName(payload: String) {
        #expect(throws: SocketIOCodecError.invalidPayload) { try SocketIOEventArguments.event(bytes(payload)) }
    }

    @Test func ackArgumentsAreThePayload() {
        #expect(SocketIOEventArguments.ack(bytes("[1,2]")) == bytes("[1,2]"))
    }
}

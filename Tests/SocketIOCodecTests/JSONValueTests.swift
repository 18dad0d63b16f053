import Testing
import SocketIOCodec

@Suite("JSONValue")
struct JSONValueTests {
    /// Canonical texts (as JSON.stringify writes them) survive parse then serialize byte for byte.
    @Test(arguments: [
        "null", "true", "false", "0", "1", "-1", "1.5", "1e+21", "1e-7", "0.000001", "123456789", #""""#, #""abc""#,
        #""a\"b\\c\nd\u0001""#, "\"é😀\"", "[]", "{}", "[1,[2,[3]],{}]", #"{"a":1,"b":[true,false,null],"c":{"d":"e"}}"#,
        #"["hello",{"_placeholder":true,"num":0}]"#, #"{"sid":"wZX3oN0bSVIhsaknAAAI"}"#,
    ])
    func canonicalTextRoundTrips(json: String) throws {
        let value = try JSONValue.parse(json)
        #expect(text(value.serialize()) == json)
    }

    @Test func valuesRoundTrip() throws {
        let values: [JSONValue] = [
            nil, true, false, 0, -12, 3.25, 1e300, "text", "quote\" slash\\ nl\n tab\t nul\u{0} é 😀",
            [1, "two", [3, [4]], ["k": "v"]],
            ["z": 1, "a": [nil, true], "m": ["nested": ["deep": "yes"]]],
            .object([]), .array([]),
        ]
        for value in values {
            #expect(try JSONValue.parse(value.serialize()) == value, "\(value)")
        }
    }

    @Test func parsesValues() throws {
        let value = try JSONValue.parse(#" { "name" : "Ann" , "age" : 42, "tags": ["a", "b"], "x": null, "ok": true } "#)
        #expect(value["name"]?.stringValue == "Ann")
        #expect(value["age"]?.intValue == 42)
        #expect(value["tags"]?[1]?.stringValue == "b")
        #expect(value["x"]?.isNull == true)
        #expect(value["ok"]?.boolValue == true)
        #expect(value["missing"] == nil)
        #expect(value.objectValue?.map(\.0) == ["name", "age", "tags", "x", "ok"])
    }

    @Test func decodesEscapes() throws {
        #expect(try JSONValue.parse(#""\u00e9\ud83d\ude00\/\b""#) == .string("é😀/\u{8}"))
        #expect(try JSONValue.parse(#""\ud800x""#) == .string("\u{FFFD}x"))
        #expect(try JSONValue.parse(#""\ude00\ud83d""#) == .string("\u{FFFD}\u{FFFD}"))
    }

    @Test func numbers() throws {
        #expect(try JSONValue.parse("-0").doubleValue == 0)
        #expect(try JSONValue.parse("1E2") == .number(100))
        #expect(try JSONValue.parse("1e400") == .number(.infinity))
        #expect(text(JSONValue.number(.infinity).serialize()) == "null")
        #expect(text(JSONValue.number(.nan).serialize()) == "null")
        #expect(text(JSONValue.number(-0.0).serialize()) == "0")
        #expect(text(JSONValue.number(100).serialize()) == "100")
        #expect(text(JSONValue.number(0.1 + 0.2).serialize()) == "0.30000000000000004")
        #expect(text(JSONValue.number(-1.5e-9).serialize()) == "-1.5e-9")
        #expect(text(JSONValue.number(1e21).serialize()) == "1e+21")
        #expect(text(JSONValue.number(123e18).serialize()) == "123000000000000000000")
    }

    @Test func repeatedKeysKeepFirstPositionAndLastValue() throws {
        let small = try JSONValue.parse(#"{"a":1,"b":2,"a":3}"#)
        #expect(text(small.serialize()) == #"{"a":3,"b":2}"#)
        // Past 16 members the builder switches to an index; the rule must not change.
        var members = (0..<40).map { "\"k\($0)\":\($0)" }
        members.append(#""k3":"last""#)
        members.append(#""k30":"last""#)
        let big = try JSONValue.parse("{" + members.joined(separator: ",") + "}")
        #expect(big.objectValue?.count == 40)
        #expect(big["k3"] == "last" && big["k30"] == "last")
        #expect(big.objectValue?[3].0 == "k3")
    }

    @Test func refusesInvalidTextAndDeepNesting() {
        #expect(throws: SocketIOCodecError.self) { try JSONValue.parse("[1,]") }
        #expect(throws: SocketIOCodecError.self) { try JSONValue.parse("") }
        #expect(throws: SocketIOCodecError.self) { try JSONValue.parse(String(repeating: "[", count: 100_000)) }
        #expect(throws: SocketIOCodecError.self) {
            try JSONValue.parse(String(repeating: "[", count: 65) + String(repeating: "]", count: 65))
        }
        #expect(throws: Never.self) {
            try JSONValue.parse(String(repeating: "[", count: 64) + String(repeating: "]", count: 64))
        }
    }

    @Test func descriptionIsTheJSONText() {
        let value: JSONValue = ["a": [1, 2.5, "x"]]
        #expect(value.description == #"{"a":[1,2.5,"x"]}"#)
    }
}

import Testing
import MsgPackCodec
import SocketIOCodec

/// The msgpack parser's way out: arguments' JSON text written straight to msgpack (`writeArguments(json:)`, one
/// walk) must give the bytes of the general path (parse into `JSONValue`s, then `write(json:)`), and decline
/// exactly the shapes it leaves to that path.
@Suite("JSON text to msgpack in one walk")
struct MsgPackTextWalkTests {
    /// The general path's bytes for `text` as arguments after `leading`.
    func general(_ text: String, leading: String? = nil, attachments: [[UInt8]] = []) throws -> [UInt8] {
        let values = try JSONValue.parse(text).arrayValue ?? []
        let writer = MsgPackWriter()
        writer.writeArrayHeader(values.count + (leading == nil ? 0 : 1))
        if let leading { writer.writeString(leading) }
        for value in values { writer.write(json: value, attachments: attachments.isEmpty ? nil : attachments) }
        return writer.bytes
    }

    /// The walk's bytes, or nil where it declines.
    func walked(_ text: String, leading: String? = nil, attachments: [[UInt8]] = []) -> [UInt8]? {
        let writer = MsgPackWriter()
        let bytes = Array(text.utf8)
        let done = bytes.withUnsafeBytes { writer.writeArguments(json: $0, leading: leading, attachments: attachments) }
        return done ? writer.bytes : nil
    }

    @Test(arguments: [
        #"[]"#, #"[1,2,3]"#, #"[ 1 , { "a" : [ true , null , false ] } , "x" ]"#, #"[[],{},[{}],[[[]]]]"#,
        #"[-0,0,0.1,1e21,1E-7,-1.5e300,1e400,-1e400,123456789012345,1234567890123456,9007199254740993,18446744073709551616]"#,
        #"["a\"b\\c\/d\b\f\n\r\t","\u00e9\u20ac","\ud83d\ude00","\ud800","\udc00x","é€😀",""]"#,
        #"[{"":1,"a b":2,"01":3,"4294967295":4,"-1":5,"1.5":6}]"#,
        #"[{"type":"Buffer","data":[1,2]},{"_placeholderx":true}]"#,
        #"[{"a":{"b":{"c":{"d":[1,{"e":"f"}]}}}}]"#,
    ])
    func givesTheGeneralPathsBytes(_ text: String) throws {
        let bytes = try #require(walked(text, leading: "event"))
        #expect(bytes == (try general(text, leading: "event")))
        #expect(walked(text) == (try general(text)))
    }

    @Test func placeholdersBecomeTheirBinaries() throws {
        let attachments: [[UInt8]] = [[1, 2, 3], []]
        let text = #"[{"_placeholder":true,"num":1},{"file":{"_placeholder":true,"num":0}}]"#
        let bytes = try #require(walked(text, leading: "upload", attachments: attachments))
        #expect(bytes == (try general(text, leading: "upload", attachments: attachments)))
        #expect(bytes.contains(0xC4))  // bin 8
    }

    @Test(arguments: [
        (#"[{"1":"a","b":2}]"#, "an array-index key (JavaScript lists it first)"),
        (#"[{"a":1,"a":2}]"#, "a repeated key"),
        (#"[{"\u0061":1}]"#, "an escaped key"),
        (#"[{"é":1}]"#, "a key outside ASCII"),
        (#"[{"_placeholder":true,"num":0}]"#, "a placeholder without attachments"),
        (#"[{"_placeholder":true,"num":0,"x":1}]"#, "a placeholder with more members"),
        (#"[{ "_placeholder":true,"num":0}]"#, "a placeholder written differently"),
        (#"{"a":1}"#, "a root that is not an array"),
    ])
    func declines(_ text: String, _ why: String) throws {
        #expect(walked(text) == nil, "\(why)")
        _ = try general(text.hasPrefix("[") ? text : "[\(text)]")  // the general path takes it
    }

    @Test func declinesObjectsOfMoreThanSixteenMembers() {
        let members = (0..<17).map { "\"k\($0)\":\($0)" }.joined(separator: ",")
        #expect(walked("[{\(members)}]") == nil)
        let sixteen = (0..<16).map { "\"k\($0)\":\($0)" }.joined(separator: ",")
        #expect(walked("[{\(sixteen)}]") != nil)
    }

    /// Random arguments (seeded): wherever the walk takes a text, its bytes are the general path's; and it takes
    /// the plain ones (short ASCII keys, no repeats), which are most of them.
    @Test func randomArgumentsAgree() throws {
        var random = SeededRandom(seed: 0x5EED)
        var taken = 0
        for _ in 0..<2_000 {
            let values = (0..<random.below(4)).map { _ in randomValue(&random, depth: 0) }
            let text = String(decoding: JSONValue.array(values).serialize(), as: UTF8.self)
            guard let bytes = walked(text, leading: "e") else { continue }
            taken += 1
            #expect(bytes == (try general(text, leading: "e")), "\(text)")
        }
        #expect(taken > 1_500)
    }

    func randomValue(_ random: inout SeededRandom, depth: Int) -> JSONValue {
        switch random.below(depth > 3 ? 4 : 6) {
        case 0: return .null
        case 1: return .bool(random.below(2) == 0)
        case 2:
            let choices: [Double] = [0, -0.0, 1, -1, 127, 128, -33, 65536, 4_294_967_296, 0.5, -2.25, 1e21, 3.14159,
                                     9_007_199_254_740_992, .greatestFiniteMagnitude, .leastNonzeroMagnitude]
            return .number(random.below(3) == 0 ? choices[random.below(choices.count)]
                                                : Double(Int(random.next() % 2_000_001) - 1_000_000) / 8)
        case 3:
            let pieces = ["a", "é", "\"", "\\", "\n", "\u{1}", "😀", "xyz", " ", "\u{2028}"]
            return .string((0..<random.below(5)).map { _ in pieces[random.below(pieces.count)] }.joined())
        case 4: return .array((0..<random.below(4)).map { _ in randomValue(&random, depth: depth + 1) })
        default:
            let keys = ["a", "b", "name", "_id", "x y", "k2", "3", ""]
            return .object((0..<random.below(4)).map { _ in
                (keys[random.below(keys.count - 2)], randomValue(&random, depth: depth + 1))
            })
        }
    }
}

/// A seeded generator (Knuth's MMIX LCG, high bits mixed down), so that a failure is reproducible.
struct SeededRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return state ^ (state >> 33)
    }
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
}

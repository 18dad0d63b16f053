import Testing
import SocketIOCodec

/// Bounded, deterministic random inputs: nothing may trap, and the scanner, the tree parser and the decoder must
/// agree with each other.
@Suite("Fuzz")
struct FuzzTests {
    /// xorshift64*: reproducible without Foundation.
    struct Generator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state ^= state >> 12
            state ^= state << 25
            state ^= state >> 27
            return state &* 2_685_821_657_736_338_717
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    }

    static let alphabet: [UInt8] = Array(#"[]{}"",,::0123456789-+.eE  tfnrulasx\/_placeholdrum"#.utf8) + [0x0A, 0x01, 0xC3, 0xA9, 0xED, 0xF0, 0x9F, 0x98, 0x80]

    static let seeds: [String] = [
        #"["hello",1,{"a":[true,false,null]},"x\n\u00e9"]"#,
        #"{"_placeholder":true,"num":0}"#,
        #"["a",{"_placeholder":true,"num":1},[{"num":0,"_placeholder":true}]]"#,
        #"[-1.5e+10,0,"\ud83d\ude00",{}]"#,
    ]

    @Test func randomTextsNeverTrapAndAgree() throws {
        var random = Generator(state: 0x9E37_79B9_7F4A_7C15)
        var validCount = 0
        for round in 0..<10_000 {
            var input: [UInt8]
            if round % 2 == 0 {
                input = (0..<random.below(24)).map { _ in Self.alphabet[random.below(Self.alphabet.count)] }
            } else {
                // Mutate a valid text: flip, insert or delete a few bytes.
                input = Array(Self.seeds[random.below(Self.seeds.count)].utf8)
                for _ in 0..<(1 + random.below(3)) {
                    let position = random.below(input.count + 1)
                    switch random.below(3) {
                    case 0 where position < input.count: input[position] = Self.alphabet[random.below(Self.alphabet.count)]
                    case 1: input.insert(Self.alphabet[random.below(Self.alphabet.count)], at: position)
                    default: if position < input.count { input.remove(at: position) }
                    }
                }
            }
            try check(input, &validCount)
        }
        #expect(validCount > 500)  // the mutations must reach valid texts too
    }

    private func check(_ input: [UInt8], _ validCount: inout Int) throws {
        let valid = JSONScanner.validate(input) == nil
        let parsed = try? JSONValue.parse(input)
        #expect(valid == (parsed != nil), "scanner and parser disagree on \(String(decoding: input, as: UTF8.self))")
        if let parsed {
            validCount += 1
            // Infinity (from a literal like 1e400) serializes as null, as in JSON.stringify; all else round trips.
            if !containsInfinity(parsed) {
                #expect(try JSONValue.parse(parsed.serialize()) == parsed, "\(String(decoding: input, as: UTF8.self))")
            }
            if case .array(let elements) = parsed {
                let ranges = try JSONScanner.topLevelElements(input)
                #expect(ranges.count == elements.count)
                for (range, element) in zip(ranges, elements) {
                    #expect(try JSONValue.parse(Array(input[range])) == element)
                }
            } else {
                #expect(throws: SocketIOCodecError.notAnArray) { try JSONScanner.topLevelElements(input) }
            }
        }
        // The decoder sees the same bytes behind every header; it must only ever throw or return.
        for header in ["0", "2", "3/a,7", "4", "51-", "62-/x,3"] {
            var decoder = SocketIOPacketDecoder()
            let text = Array(header.utf8) + input
            guard let result = try? decoder.decode(text: text) else { continue }
            // Unless the header swallows the input's start (digits and whitespace as an ack id, "/" as a namespace),
            // an accepted packet means valid JSON, or no payload at all.
            if let first = input.first, !(first >= 0x30 && first <= 0x39), ![0x20, 0x0A, 0x2F].contains(first) {
                #expect(valid, "decoder accepted invalid JSON \(String(decoding: input, as: UTF8.self))")
            }
            if case .needsAttachments = result {
                _ = try? decoder.decode(binary: [1])
                _ = try? decoder.decode(binary: [2])
            }
            let headerSwallows = input.first.map { ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x20 || $0 == 0x0A } ?? false
            if header == "2", !headerSwallows, case .packet(let packet) = result, let payload = packet.payload {
                let (_, arguments) = try SocketIOEventArguments.event(payload)
                #expect(JSONScanner.validate(arguments) == nil)
                #expect(SocketIOPacketEncoder.encode(packet) == text)
            }
        }
    }

    private func containsInfinity(_ value: JSONValue) -> Bool {
        switch value {
        case .number(let number): return number.isInfinite
        case .array(let elements): return elements.contains(where: containsInfinity)
        case .object(let members): return members.contains { containsInfinity($0.1) }
        default: return false
        }
    }
}

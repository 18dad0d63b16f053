import Testing
@testable import WebSocketCodec

/// A frame may be split across any number of reads, and one read may hold many frames: the events must not depend
/// on where the socket happened to cut the stream.
@Suite struct SplitFeedTests {
    /// A stream exercising every header form: short, 16-bit and 64-bit lengths, fragments with control frames
    /// between them, empty payloads, multi-byte UTF-8 across fragment boundaries and a final close.
    static func mixedStream() -> (bytes: [UInt8], events: [WebSocketEvent]) {
        var rng = SplitMix64(seed: 42)
        func randomBytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) } }
        func mask() -> [UInt8] { randomBytes(4) }
        let text = Array("naïve 😀 résumé — ok".utf8)
        let big = randomBytes(70_000)
        let medium = randomBytes(300)
        var bytes: [UInt8] = []
        bytes += clientFrame(1, hello, mask: mask())
        bytes += clientFrame(2, medium, mask: mask())
        bytes += clientFrame(1, Array(text[0..<8]), fin: false, mask: mask())
        bytes += clientFrame(9, Array("ping!".utf8), mask: mask())
        bytes += clientFrame(0, Array(text[8..<13]), fin: false, mask: mask())
        bytes += clientFrame(0, [], fin: false, mask: mask())
        bytes += clientFrame(10, [], mask: mask())
        bytes += clientFrame(0, Array(text[13...]), mask: mask())
        bytes += clientFrame(2, big, mask: mask())
        bytes += clientFrame(1, [], mask: mask())
        bytes += clientFrame(2, Array(big[0..<1000]), fin: false, mask: mask(), lengthEncoding: .extended64)
        bytes += clientFrame(0, Array(big[1000..<2000]), mask: mask(), lengthEncoding: .extended16)
        bytes += clientFrame(8, [0x03, 0xE8] + Array("done".utf8), mask: mask())
        let events: [WebSocketEvent] = [
            .text(hello), .binary(medium), .ping(Array("ping!".utf8)), .pong([]), .text(text), .binary(big),
            .text([]), .binary(Array(big[0..<2000])), .close(code: 1000, reason: Array("done".utf8)),
        ]
        return (bytes, events)
    }

    @Test func wholeStreamInOneRead() {
        let stream = Self.mixedStream()
        let result = parse(stream.bytes)
        #expect(result.error == nil)
        #expect(result.events == stream.events)
    }

    @Test func byteAtATime() {
        let stream = Self.mixedStream()
        let result = parse(stream.bytes.map { [$0] })
        #expect(result.error == nil)
        #expect(result.events == stream.events)
    }

    @Test(arguments: [UInt64(1), 2, 3, 4, 5, 6, 7, 8])
    func randomSplitsGiveTheSameEvents(seed: UInt64) {
        let stream = Self.mixedStream()
        var rng = SplitMix64(seed: seed)
        let maxChunk = [3, 16, 200, 5000, 100_000][Int(seed) % 5]
        let result = parse(randomSplits(stream.bytes, using: &rng, maxChunk: maxChunk))
        #expect(result.error == nil)
        #expect(result.events == stream.events)
    }

    @Test func everyTwoWaySplitOfAFrameSequence() {
        let bytes = clientFrame(1, hello) + clientFrame(2, Array(repeating: 7, count: 130))
            + clientFrame(9, [1, 2]) + clientFrame(2, [], lengthEncoding: .extended64)
        let expected: [WebSocketEvent] = [.text(hello), .binary(Array(repeating: 7, count: 130)), .ping([1, 2]), .binary([])]
        for cut in 0...bytes.count {
            let result = parse([Array(bytes[..<cut]), Array(bytes[cut...])])
            #expect(result.error == nil)
            #expect(result.events == expected, "cut at \(cut)")
        }
    }

    @Test func violationsAreFoundWhateverTheSplit() {
        let bad = clientFrame(1, hello) + clientHeader(2, declaredLength: 1 << 63)
        for cut in 0...bad.count {
            let result = parse([Array(bad[..<cut]), Array(bad[cut...])], maxMessageSize: 100)
            #expect(result.events == [.text(hello)])
            #expect(result.error?.code == .protocolError, "cut at \(cut)")
        }
        let tooBig = clientFrame(2, Array(repeating: 0, count: 101))
        let byteWise = parse(tooBig.map { [$0] }, maxMessageSize: 100)
        #expect(byteWise.error?.code == .messageTooBig)
    }

    @Test func firstTwoBytesAreJudgedBeforeTheRestOfTheHeader() {
        // Reserved opcode with a 64-bit length: refused with only the first two bytes fed, split or not.
        #expect(parse([0x83, 0xFF]).error?.code == .protocolError)
        #expect(parse([[0x83], [0xFF]]).error?.code == .protocolError)
    }
}

import Testing
@testable import WebSocketCodec

/// The validator against hand-picked malformed sequences and, for random inputs, against the standard library.
@Suite struct UTF8ValidationTests {
    @Test(arguments: [
        [UInt8](), Array("plain ASCII that is longer than eight bytes".utf8), Array("κόσμε".utf8),
        [0x7F], [0xC2, 0x80], [0xDF, 0xBF], [0xE0, 0xA0, 0x80], [0xED, 0x9F, 0xBF], [0xEE, 0x80, 0x80],
        [0xEF, 0xBF, 0xBF], [0xF0, 0x90, 0x80, 0x80], [0xF4, 0x8F, 0xBF, 0xBF], Array("abcdefgh😀ijklmnop".utf8),
    ])
    func wellFormed(bytes: [UInt8]) {
        #expect(UTF8Validation.isValid(bytes))
    }

    @Test(arguments: [
        [UInt8(0x80)], [0xBF], [0xC0, 0x80], [0xC1, 0xBF], [0xE0, 0x80, 0x80], [0xE0, 0x9F, 0xBF],
        [0xF0, 0x80, 0x80, 0x80], [0xF0, 0x8F, 0xBF, 0xBF], [0xED, 0xA0, 0x80], [0xED, 0xBF, 0xBF],
        [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80], [0xFF], [0xFE], [0xC2], [0xE1, 0x80],
        [0xF1, 0x80, 0x80], [0xC2, 0x41], [0xE1, 0x80, 0x41], Array("abcdefgh".utf8) + [0xC2],
        Array("abcdefghijklmnop".utf8) + [0xED, 0xA0, 0x80] + Array("abcdefgh".utf8),
    ])
    func malformed(bytes: [UInt8]) {
        #expect(!UTF8Validation.isValid(bytes))
    }

    @Test func agreesWithTheStandardLibraryOnRandomInput() {
        var rng = SplitMix64(seed: 7)
        // Bytes drawn mostly from lead and continuation ranges so that many inputs are nearly valid.
        let alphabet: [UInt8] = [0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC2, 0xDF, 0xE0, 0xE1,
                                 0xED, 0xEF, 0xF0, 0xF1, 0xF4, 0xF5, 0xFF]
        var validCount = 0
        for _ in 0..<20_000 {
            let count = Int.random(in: 0...12, using: &rng)
            let bytes = (0..<count).map { _ in alphabet.randomElement(using: &rng)! }
            let expected = String(validating: bytes, as: UTF8.self) != nil
            #expect(UTF8Validation.isValid(bytes) == expected, "\(bytes)")
            if expected { validCount += 1 }
        }
        #expect(validCount > 100)
    }
}

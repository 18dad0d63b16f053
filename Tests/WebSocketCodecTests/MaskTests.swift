import Testing
@testable import WebSocketCodec

/// The eight-bytes-at-a-time XOR must match the byte-wise definition for every length and key phase.
@Suite struct MaskTests {
    @Test func matchesBytewiseDefinitionAtEveryOffset() {
        let key: [UInt8] = [0x12, 0x34, 0x56, 0x78]
        let mask = WebSocketMask(key[0], key[1], key[2], key[3])
        let original = (0..<67).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        for offset in 0..<8 {
            for length in 0...original.count {
                var chunk = Array(original[..<length])
                chunk.withUnsafeMutableBytes { mask.apply(to: $0, payloadOffset: offset) }
                let expected = original[..<length].enumerated().map { $0.element ^ key[($0.offset + offset) % 4] }
                #expect(chunk == expected, "offset \(offset) length \(length)")
            }
        }
    }

    @Test func unalignedChunk() {
        let mask = WebSocketMask(1, 2, 3, 4)
        var bytes = Array(repeating: UInt8(0), count: 40)
        bytes.withUnsafeMutableBytes { all in
            mask.apply(to: UnsafeMutableRawBufferPointer(rebasing: all[3..<37]), payloadOffset: 2)
        }
        #expect(Array(bytes[0..<3]) == [0, 0, 0])
        #expect(Array(bytes[3..<11]) == [3, 4, 1, 2, 3, 4, 1, 2])
        #expect(Array(bytes[37...]) == [0, 0, 0])
    }
}

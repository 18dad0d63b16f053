@testable import WebSocketCodec

/// A small deterministic generator so random splits and fuzz inputs are the same on every run.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Builds a frame as a client would send it: masked with `mask` unless it is nil.
func clientFrame(
    _ opcodeValue: UInt8, _ payload: [UInt8], fin: Bool = true, reservedBits: UInt8 = 0,
    mask: [UInt8]? = [0x37, 0xFA, 0x21, 0x3D], lengthEncoding: LengthEncoding = .minimal
) -> [UInt8] {
    var out: [UInt8] = [(fin ? 0x80 : 0) | reservedBits | opcodeValue]
    let maskBit: UInt8 = mask == nil ? 0 : 0x80
    let count = payload.count
    let encoding = lengthEncoding == .minimal
        ? (count < 126 ? LengthEncoding.short : (count <= 0xFFFF ? .extended16 : .extended64))
        : lengthEncoding
    switch encoding {
    case .short, .minimal:
        out.append(maskBit | UInt8(count))
    case .extended16:
        out += [maskBit | 126, UInt8(count >> 8), UInt8(count & 0xFF)]
    case .extended64:
        out.append(maskBit | 127)
        for shift in stride(from: 56, through: 0, by: -8) {
            out.append(UInt8(truncatingIfNeeded: UInt64(count) >> UInt64(shift)))
        }
    }
    if let mask {
        out += mask
        out += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
    } else {
        out += payload
    }
    return out
}

enum LengthEncoding { case minimal, short, extended16, extended64 }

/// A client frame with a raw header claiming `declaredLength` and no payload, for checks made on the header alone.
func clientHeader(_ opcodeValue: UInt8, declaredLength: UInt64, fin: Bool = true) -> [UInt8] {
    var out: [UInt8] = [(fin ? 0x80 : 0) | opcodeValue, 0x80 | 127]
    for shift in stride(from: 56, through: 0, by: -8) {
        out.append(UInt8(truncatingIfNeeded: declaredLength >> UInt64(shift)))
    }
    return out + [1, 2, 3, 4]
}

/// The outcome of feeding chunks to a fresh parser.
struct ParseResult {
    var events: [WebSocketEvent] = []
    var error: WebSocketFrameError?
}

func parse(
    _ chunks: [[UInt8]], maxMessageSize: Int = 1 << 20, requireMasking: Bool = true
) -> ParseResult {
    var parser = WebSocketFrameParser(maxMessageSize: maxMessageSize, requireMasking: requireMasking)
    var result = ParseResult()
    for chunk in chunks {
        result.error = parser.feed(chunk) { result.events.append($0) }
        if result.error != nil { break }
    }
    return result
}

func parse(_ bytes: [UInt8], maxMessageSize: Int = 1 << 20, requireMasking: Bool = true) -> ParseResult {
    parse([bytes], maxMessageSize: maxMessageSize, requireMasking: requireMasking)
}

/// Cuts `bytes` into chunks at random places (including empty chunks).
func randomSplits(_ bytes: [UInt8], using rng: inout SplitMix64, maxChunk: Int) -> [[UInt8]] {
    var chunks: [[UInt8]] = []
    var index = 0
    while index < bytes.count {
        let size = Int.random(in: 0...maxChunk, using: &rng)
        let end = min(bytes.count, index + size)
        chunks.append(Array(bytes[index..<end]))
        index = end
    }
    return chunks
}

let hello = Array("Hello".utf8)

// Shared by every harness (compiled into each harness's module). Not part of the product.
#if canImport(Glibc)
import Glibc
#endif

/// Fails the run the way libFuzzer notices: prints the broken property and aborts (a "deadly signal" finding,
/// whose input libFuzzer saves as crash-<sha1>).
@inline(never)
func fuzzFail(_ message: String, file: StaticString = #fileID, line: UInt = #line) -> Never {
    fputs("\n==FUZZ CHECK FAILED== \(file):\(line): \(message)\n", stderr)
    abort()
}

/// A property every input must satisfy.
@inline(__always)
func fuzzCheck(
    _ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
    file: StaticString = #fileID, line: UInt = #line
) {
    if !condition() { fuzzFail(message(), file: file, line: line) }
}

/// Bytes as hex, for messages.
func hex(_ bytes: some Collection<UInt8>, limit: Int = 96) -> String {
    let digits: [Character] = Array("0123456789abcdef")
    var out = ""
    for (k, b) in bytes.enumerated() {
        if k == limit { out += "…(\(bytes.count) bytes)"; break }
        out.append(digits[Int(b >> 4)])
        out.append(digits[Int(b & 15)])
    }
    return out
}

/// Calls `body` with a copy of `bytes` in a heap block of exactly that size, so that AddressSanitizer reports any
/// read past the end (a Swift array's spare capacity would hide it).
func withExactCopy<R>(_ bytes: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
    let count = bytes.count
    // A zero-length view still gets a real (1-byte) block behind it, as a socket read would.
    let block = UnsafeMutableRawPointer.allocate(byteCount: Swift.max(count, 1), alignment: 1)
    defer { block.deallocate() }
    if let source = bytes.baseAddress, count > 0 { block.copyMemory(from: source, byteCount: count) }
    return try body(UnsafeRawBufferPointer(start: block, count: count))
}

func withExactCopy<R>(_ bytes: Slice<UnsafeRawBufferPointer>, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
    try withExactCopy(UnsafeRawBufferPointer(rebasing: bytes), body)
}

func withExactCopy<R>(_ bytes: [UInt8], _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
    try bytes.withUnsafeBytes { try withExactCopy($0, body) }
}

/// xorshift64*: deterministic split points from a seed taken out of the input.
struct FuzzRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }
    mutating func next() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 2_685_821_657_736_338_717
    }
    mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(next() % UInt64(n)) }
}

/// Cuts `count` bytes into chunks. Seed 0 cuts into single bytes (a client trickling a request); other seeds cut
/// at random points, the largest chunk depending on the seed.
func splitPoints(count: Int, seed: UInt8) -> [Range<Int>] {
    var ranges: [Range<Int>] = []
    var start = 0
    if seed == 0 {
        while start < count { ranges.append(start..<start + 1); start += 1 }
        return ranges
    }
    var random = FuzzRandom(seed: UInt64(seed))
    let maxChunk = [2, 3, 5, 8, 16, 64, 300, 4096][Int(seed) & 7]
    while start < count {
        let size = 1 + random.below(maxChunk)
        let end = Swift.min(count, start + size)
        ranges.append(start..<end)
        start = end
    }
    return ranges
}

/// Strict UTF-8 check by the standard library, independent of the project's validators.
func isValidUTF8(_ bytes: some Collection<UInt8>) -> Bool {
    String(validating: Array(bytes), as: UTF8.self) != nil
}

/// FUZZ_VERBOSE=1 makes the harnesses print what the decoder made of each input (for reading regressions).
let fuzzVerbose = getenv("FUZZ_VERBOSE") != nil

func verbose(_ message: @autoclosure () -> String) {
    if fuzzVerbose { fputs(message() + "\n", stderr) }
}

/// Findings reported but not fixed yet can be silenced by id while fuzzing for others:
/// FUZZ_SKIP=id1,id2 (ids are listed in Fuzz/README.md, "Findings"). Checks are on by default.
let skippedFindings: Set<Substring> = {
    guard let raw = getenv("FUZZ_SKIP") else { return [] }
    return Set(String(cString: raw).split(separator: ","))
}()

func skipping(_ id: String) -> Bool { skippedFindings.contains(Substring(id)) }

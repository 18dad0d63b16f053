import COpenSSL

// Harness `tls_record`: the engine's TLS record layer after the handshake (TLSRecordLayer): record framing across
// reads, AEAD opening, TLS 1.3 inner content types and padding, post-handshake messages (KeyUpdate), alerts.
//
// Two record layers with mirrored keys play client and server. Input: byte 0 picks the suite (TLS 1.3 AES-128-GCM,
// AES-256-GCM, ChaCha20-Poly1305; TLS 1.2 AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305); byte 1 seeds the split of
// the stream into reads (0 = one byte per read). The rest is a script of items, each `kind length payload`:
//   0  application data sealed by the client (payload: the data)
//   1  raw bytes on the wire (garbage, truncations, forged records)
//   2  a client KeyUpdate (TLS 1.3; payload byte 0 bit 0: ask the server to update too)
//   3  an alert sealed by the client (payload: level, description)
//   4  a handshake-type record sealed by the client (payload: its content: messages the server must judge)
//   5  application data with TLS 1.3 padding (payload byte 0: how many zero bytes follow the content type; the
//      rest, at most 100 bytes, is the data)
// The server reads the stream; checked:
//  - whole and in reads of random sizes (each read in a heap block of exactly its size), the same data and the same
//    end (data delivered, closed, or failed), and nothing delivered after a failure or a close;
//  - everything the client sealed before the first item that breaks the stream (raw bytes, a record the server
//    may refuse, the 33rd record in a row without application data: empty ones, KeyUpdates) is delivered, in order;
//    with no such item the end is "want more", or "closed" after close_notify;
//  - what the server wrote (KeyUpdate answers) opens on the client side.

let suites: [(tls13: Bool, aead: TLSRecordLayer.AEAD, digest: String)] = [
    (true, .aes128gcm, "SHA256"), (true, .aes256gcm, "SHA384"), (true, .chacha20poly1305, "SHA256"),
    (false, .aes128gcm, "SHA256"), (false, .aes256gcm, "SHA384"), (false, .chacha20poly1305, "SHA256"),
]

struct Outcome: Equatable {
    var data: [UInt8] = []
    var end = "want more"
    var serverOutput: [UInt8] = []
}

func pair(_ suite: (tls13: Bool, aead: TLSRecordLayer.AEAD, digest: String)) -> (client: TLSRecordLayer, server: TLSRecordLayer) {
    let digest = EVP_get_digestbyname(suite.digest)!
    let length: Int
    if suite.tls13 {
        length = Int(EVP_MD_get_size(digest))
    } else {
        length = (suite.aead == .aes128gcm ? 16 : 32) + (suite.aead == .chacha20poly1305 ? 12 : 4)
    }
    let a = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 1) }
    let b = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 5) }
    let client = TLSRecordLayer()
    let server = TLSRecordLayer()
    fuzzCheck(client.configure(testing: suite.tls13, aead: suite.aead, digest: digest, read: b, write: a), "client keys")
    fuzzCheck(server.configure(testing: suite.tls13, aead: suite.aead, digest: digest, read: a, write: b), "server keys")
    return (client, server)
}

/// The client's stream for the script, what a correct server must deliver, and whether the script stays well formed.
func script(_ items: ArraySlice<UInt8>, _ client: TLSRecordLayer) -> (stream: [UInt8], expected: [UInt8], clean: Bool, closes: Bool) {
    var stream: [UInt8] = []
    var expected: [UInt8] = []
    var clean = true
    var closes = false
    // Records in a row without application data: the server refuses the 33rd.
    var idle = 0
    func sealed(carryingData: Bool) {
        idle = carryingData ? 0 : idle + 1
        if idle > TLSRecordLayer.maxIdleRecords { clean = false }
    }
    var at = items.startIndex
    while at + 2 <= items.endIndex {
        let kind = items[at] % 6
        let length = Int(items[at + 1]) * (kind == 0 ? 67 : 1) % 20_000
        at += 2
        let payload = Array(items[at..<min(at + length, items.endIndex)])
        at = min(at + length, items.endIndex)
        guard clean, !closes else {
            stream += payload
            continue
        }
        switch kind {
        case 0:
            var data = payload
            if data.count < length { data += [UInt8](repeating: 0x41, count: length - data.count) }
            var at = 0
            while at < data.count || data.isEmpty {
                let chunk = Array(data[at..<min(at + TLSRecordLayer.maxPlaintext, data.count)])
                fuzzCheck(client.sealRecord(chunk, type: 23, into: &stream), "seal")
                sealed(carryingData: !chunk.isEmpty)
                if !clean { break }
                at += chunk.count
                if data.isEmpty { break }
            }
            if clean { expected += data }
        case 1:
            stream += payload
            if !payload.isEmpty { clean = false }
        case 2:
            if client.isTLS13 {
                fuzzCheck(client.sendKeyUpdate(request: (payload.first ?? 0) & 1 == 1, into: &stream), "key update")
                sealed(carryingData: false)
            }
        case 3:
            let alert = Array((payload + [1, 0]).prefix(2))
            fuzzCheck(client.sealRecord(alert, type: 21, into: &stream), "alert")
            sealed(carryingData: false)
            if alert == [1, 0] { closes = true } else { clean = false }
        case 4:
            fuzzCheck(client.sealRecord(Array(payload.prefix(TLSRecordLayer.maxPlaintext)), type: 22, into: &stream),
                      "handshake record")
            // The server may refuse it (TLS 1.2 refuses any: renegotiation; an empty one is refused too), or take a
            // well-formed KeyUpdate.
            clean = false
        default:
            let data = Array(payload.dropFirst().prefix(100))
            fuzzCheck(client.sealRecord(data, type: 23, padding: Int(payload.first ?? 0), into: &stream), "padded data")
            sealed(carryingData: !data.isEmpty)
            if clean { expected += data }
        }
    }
    return (stream, expected, clean, closes)
}

func read(_ stream: [UInt8], into server: TLSRecordLayer, split seed: UInt8) -> Outcome {
    var outcome = Outcome()
    let buffer = UnsafeMutableRawPointer.allocate(byteCount: 17 * 1024, alignment: 16)
    defer { buffer.deallocate() }
    var rng = SplitRNG(seed: seed)
    var start = 0
    reading: while start < stream.count || stream.isEmpty {
        let size = seed == 0 ? 1 : (seed == 255 ? stream.count : rng.next(max: 3000))
        let end = min(start + max(size, 1), stream.count)
        let done = stream[start..<end].withUnsafeBytes { chunk -> Bool in
            withExactCopy(chunk) { read in
                var offset = 0
                while true {
                    switch server.next(read, &offset, into: buffer, capacity: 17 * 1024, output: &outcome.serverOutput) {
                    case .data(let count):
                        outcome.data += Array(UnsafeRawBufferPointer(start: buffer, count: count))
                    case .wantMore:
                        fuzzCheck(offset == read.count, "want more before every byte was taken")
                        return false
                    case .closed:
                        outcome.end = "closed"
                        return true
                    case .failed:
                        outcome.end = "failed"
                        return true
                    }
                }
            }
        }
        if done { break reading }
        start = end
        if stream.isEmpty { break }
    }
    return outcome
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTLSRecord(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size >= 2 else { return 0 }
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    let suite = suites[Int(input[0]) % suites.count]
    let (client, server) = pair(suite)
    let (stream, expected, clean, closes) = script(input[2...], client)

    let whole = read(stream, into: server, split: 255)
    let (_, splitServer) = pair(suite)
    let split = read(stream, into: splitServer, split: input[1])
    fuzzCheck(whole.data == split.data, "whole and split reads delivered different data")
    fuzzCheck(whole.end == split.end, "whole and split reads ended differently: \(whole.end) / \(split.end)")

    fuzzCheck(whole.data == expected, "\(whole.data.count) of \(expected.count) bytes delivered (\(whole.end))")
    if clean {
        fuzzCheck(whole.end == (closes ? "closed" : "want more"), "well-formed stream ended \(whole.end)")
    }
    // The server's KeyUpdate answers open on the client side (which refuses more than 32 in a row, as the server).
    if !whole.serverOutput.isEmpty, whole.end != "failed" {
        var answers = 0
        var at = 0
        while at + 5 <= whole.serverOutput.count {
            at += 5 + (Int(whole.serverOutput[at + 3]) << 8 | Int(whole.serverOutput[at + 4]))
            answers += 1
        }
        let back = read(whole.serverOutput, into: client, split: 255)
        let end = answers > TLSRecordLayer.maxIdleRecords ? "failed" : "want more"
        fuzzCheck(back.end == end && back.data.isEmpty, "the server's \(answers) answers did not open: \(back.end)")
    }
    return 0
}

struct SplitRNG {
    var state: UInt64
    init(seed: UInt8) { state = UInt64(seed) &* 0x9E37_79B9_7F4A_7C15 | 1 }
    mutating func next(max: Int) -> Int {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return Int(state % UInt64(max)) + 1
    }
}

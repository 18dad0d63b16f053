import COpenSSL
import Testing
@testable import SIOLoop

/// The engine's record layer against a peer record layer with mirrored keys (as the `tls_record` fuzz harness
/// plays them): the limits a client cannot cross and the key updates of our own. Real clients over sockets are in
/// TLSTests and Tests/tls.
@Suite struct TLSRecordLayerTests {
    enum Suite: CaseIterable { case tls13aes128, tls13chacha, tls12aes256, tls12chacha }

    /// (client, server) with mirrored test keys.
    private func pair(_ suite: Suite) -> (TLSRecordLayer, TLSRecordLayer) {
        let (tls13, aead, digestName): (Bool, TLSRecordLayer.AEAD, String) = switch suite {
        case .tls13aes128: (true, .aes128gcm, "SHA256")
        case .tls13chacha: (true, .chacha20poly1305, "SHA256")
        case .tls12aes256: (false, .aes256gcm, "SHA384")
        case .tls12chacha: (false, .chacha20poly1305, "SHA256")
        }
        let digest = EVP_get_digestbyname(digestName)!
        let length = tls13 ? Int(EVP_MD_get_size(digest)) : (aead == .aes128gcm ? 16 : 32) + (aead == .chacha20poly1305 ? 12 : 4)
        let a = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 1) }
        let b = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 5) }
        let client = TLSRecordLayer()
        let server = TLSRecordLayer()
        #expect(client.configure(testing: tls13, aead: aead, digest: digest, read: b, write: a))
        #expect(server.configure(testing: tls13, aead: aead, digest: digest, read: a, write: b))
        return (client, server)
    }

    /// What `layer` makes of `stream`: the data delivered, how it ended, what it wrote back.
    private func read(_ stream: [UInt8], _ layer: TLSRecordLayer) -> (data: [UInt8], end: String, output: [UInt8]) {
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: EventLoop.tlsBufferSize, alignment: 16)
        defer { buffer.deallocate() }
        var data: [UInt8] = []
        var output: [UInt8] = []
        var offset = 0
        return stream.withUnsafeBytes { input in
            while true {
                switch layer.next(input, &offset, into: buffer, capacity: EventLoop.tlsBufferSize, output: &output) {
                case .data(let count): data += Array(UnsafeRawBufferPointer(start: buffer, count: count))
                case .wantMore: return (data, "want more", output)
                case .closed: return (data, "closed", output)
                case .failed(let reason): return (data, reason, output)
                }
            }
        }
    }

    private func sealed(_ layer: TLSRecordLayer, _ text: String, padding: Int = 0) -> [UInt8] {
        var out: [UInt8] = []
        #expect(layer.sealRecord(Array(text.utf8), type: 23, padding: padding, into: &out))
        return out
    }

    @Test(arguments: Suite.allCases)
    func forgedRecordsEndTheStreamAfterWhatCameBefore(suite: Suite) {
        let good = { (client: TLSRecordLayer) in self.sealed(client, "ok") }
        var cases: [(String, (TLSRecordLayer) -> [UInt8], String)] = [
            ("flipped tag byte", { var r = self.sealed($0, "x"); r[r.count - 1] ^= 1; return r }, "bad record mac"),
            ("wrong version", { var r = self.sealed($0, "x"); r[2] = 1; return r }, "bad record version"),
            ("announced too long", { _ in [23, 3, 3, 0x41, 0x01] }, "record too long"),
            ("shorter than a tag", { _ in [23, 3, 3, 0, 3, 1, 2, 3] }, "bad record mac"),
            ("replayed", { client in
                let record = self.sealed(client, "ok")
                return record + record  // the first is the client's own second record: delivered
            }, "bad record mac"),
        ]
        if suite == .tls13aes128 || suite == .tls13chacha {
            cases.append(("plaintext handshake record", { _ in [22, 3, 3, 0, 1, 0] }, "unexpected record type 22"))
            cases.append(("empty handshake record", { client in
                var r: [UInt8] = []
                _ = client.sealRecord([], type: 22, into: &r)
                return r
            }, "empty handshake record"))
            cases.append(("two KeyUpdates in one record", { client in
                var r: [UInt8] = []
                _ = client.sealRecord([24, 0, 0, 1, 0, 24, 0, 0, 1, 0], type: 22, into: &r)
                return r
            }, "KeyUpdate not at the end of its record"))
            cases.append(("a client's NewSessionTicket", { client in
                var r: [UInt8] = []
                _ = client.sealRecord([4, 0, 0, 0], type: 22, into: &r)
                return r
            }, "unexpected handshake message 4"))
            cases.append(("inner plaintext above 2^14 + 1", { client in
                var r: [UInt8] = []
                _ = client.sealRecord([UInt8](repeating: 0x61, count: TLSRecordLayer.maxPlaintext), type: 23, padding: 1,
                                      into: &r)
                return r
            }, "record overflow"))
            cases.append(("padding only", { client in
                var r: [UInt8] = []
                _ = client.sealRecord([], type: 0, into: &r)
                return r
            }, "record without a content type"))
        } else {
            cases.append(("handshake record (renegotiation)", { client in
                var r: [UInt8] = []
                _ = client.sealRecord([1, 0, 0, 0], type: 22, into: &r)
                return r
            }, "renegotiation refused"))
        }
        for (name, forge, reason) in cases {
            let (client, server) = pair(suite)
            let stream = good(client) + forge(client) + sealed(client, "never")
            let result = read(stream, server)
            #expect(result.data == Array((name == "replayed" ? "okok" : "ok").utf8), "\(name)")
            #expect(result.end == reason, "\(name)")
        }
    }

    @Test(arguments: Suite.allCases)
    func theLargestRecordsPassAndAFullRecordFits(suite: Suite) {
        let (client, server) = pair(suite)
        var stream: [UInt8] = []
        let full = [UInt8](repeating: 0x62, count: TLSRecordLayer.maxPlaintext)
        #expect(client.sealRecord(full, type: 23, into: &stream))
        #expect(client.sealRecord(Array(full.prefix(100)), type: 23, padding: 255, into: &stream))
        let result = read(stream, server)
        #expect(result.data == full + full.prefix(100) && result.end == "want more")
    }

    @Test(arguments: [Suite.tls13aes128, .tls13chacha])
    func keyUpdatesAreAnsweredAndBounded(suite: Suite) {
        // 32 KeyUpdates in a row asking for ours are answered; data resets the count; the 33rd in a row ends it.
        let (client, server) = pair(suite)
        var stream: [UInt8] = []
        for _ in 0..<TLSRecordLayer.maxIdleRecords { #expect(client.sendKeyUpdate(request: true, into: &stream)) }
        stream += sealed(client, "a")
        for _ in 0...TLSRecordLayer.maxIdleRecords { #expect(client.sendKeyUpdate(request: false, into: &stream)) }
        stream += sealed(client, "never")
        let result = read(stream, server)
        #expect(result.data == Array("a".utf8))
        #expect(result.end == "too many records without data")
        // The answers open on the client side, under keys that changed each time.
        let answers = read(result.output, client)
        #expect(answers.end == "want more" && answers.data.isEmpty)
    }

    @Test(arguments: Suite.allCases)
    func emptyRecordsAreBounded(suite: Suite) {
        let (client, server) = pair(suite)
        var stream: [UInt8] = []
        for _ in 0..<TLSRecordLayer.maxIdleRecords { stream += sealed(client, "") }
        stream += sealed(client, "b")
        for _ in 0...TLSRecordLayer.maxIdleRecords { stream += sealed(client, "") }
        let result = read(stream, server)
        #expect(result.data == Array("b".utf8) && result.end == "too many records without data")
    }

    @Test func theServerUpdatesAWornWriteKey() {
        // TLS 1.3: after `writeRecordsPerKey` records the server sends a KeyUpdate and goes on under the new key.
        let (client, server) = pair(.tls13aes128)
        let saved = TLSRecordLayer.writeRecordsPerKey
        TLSRecordLayer.writeRecordsPerKey = 3
        defer { TLSRecordLayer.writeRecordsPerKey = saved }
        var stream: [UInt8] = []
        for index in 0..<10 { stream += sealed(server, "\(index)") }
        var records = 0
        var at = 0
        while at < stream.count {
            at += 5 + (Int(stream[at + 3]) << 8 | Int(stream[at + 4]))
            records += 1
        }
        #expect(records == 13)  // 10 data records and 3 KeyUpdates
        let result = read(stream, client)
        #expect(result.data == Array("0123456789".utf8) && result.end == "want more")
    }
}

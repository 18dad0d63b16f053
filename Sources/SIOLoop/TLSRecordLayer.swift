import COpenSSL
#if canImport(Glibc)
import Glibc
#endif

/// The TLS record layer of an established connection, once OpenSSL's `SSL` is gone: what a connection needs to
/// protect and open records is its traffic keys, IVs and sequence numbers, about 300 bytes, where an idle OpenSSL 3
/// `SSL` keeps about 15 KB. The handshake stays OpenSSL's; when it is done, `TLSSession.takeOver` derives the keys
/// from the secrets OpenSSL reports (TLS 1.3 traffic secrets through the key-log callback, the TLS 1.2 master
/// secret), checks them against a record OpenSSL itself protected (which also yields the write sequence number), and
/// frees the `SSL`. The AEAD work is libcrypto's (EVP, one cipher context per loop).
///
/// AEAD suites only: AES-128-GCM, AES-256-GCM and ChaCha20-Poly1305, in TLS 1.3 (RFC 8446 5.2-5.3, 7.2 KeyUpdate) and
/// TLS 1.2 (RFC 5288 / RFC 7905). Anything else (a TLS 1.2 CBC suite the system policy allows) keeps OpenSSL.
final class TLSRecordLayer {
    enum AEAD { case aes128gcm, aes256gcm, chacha20poly1305 }

    private(set) var isTLS13 = true
    private(set) var aead = AEAD.aes128gcm
    /// TLS 1.3 only: the hash of the suite, for KeyUpdate's next secrets.
    private var digest: OpaquePointer?
    private var keyLength = 16
    /// 12 bytes (TLS 1.3, ChaCha20 in 1.2) or the 4-byte salt of TLS 1.2 GCM (the other 8 are sent per record).
    private var ivLength = 12
    private var secretLength = 0
    /// Read key, read IV, read secret, write key, write IV, write secret (at most 2 x (32 + 12 + 48) bytes): one
    /// allocation, made with the session before OpenSSL's (so the memory the handshake frees is not pinned between
    /// long-lived pieces of it), wiped when freed.
    private var material = [UInt8](repeating: 0, count: 2 * (32 + 12 + 48))
    private var readSequence: UInt64 = 0
    private var writeSequence: UInt64 = 0
    /// The start of a record whose end has not arrived (empty, and unallocated, when none is pending).
    private var partial: [UInt8] = []
    private var closeNotifySent = false
    /// Records in a row that carried nothing for the application (empty records, KeyUpdates).
    private var idleRecords: UInt8 = 0

    static let maxPlaintext = 16384
    /// Largest ciphertext fragment a peer may send: RFC 8446 5.2 (2^14 + 256); in TLS 1.2 (RFC 5246 allows 2048 of
    /// expansion) an AEAD record adds only its explicit nonce and tag, so anything longer cannot be valid.
    private var maxFragment: Int { isTLS13 ? Self.maxPlaintext + 256 : Self.maxPlaintext + 8 + 16 }
    /// More records in a row without application data end the connection, as in OpenSSL (MAX_EMPTY_RECORDS,
    /// MAX_KEY_UPDATE_MESSAGES): a peer cannot keep us opening records and deriving keys for nothing.
    static let maxIdleRecords = 32
    /// TLS 1.3: records the server protects under one key before it updates its keys (RFC 8446 5.5: an AES-GCM key
    /// protects at most about 2^24.5 full records). Lowered by tests only.
    static var writeRecordsPerKey: UInt64 = 1 << 24

    private var readKeyOffset: Int { 0 }
    private var readIVOffset: Int { keyLength }
    private var readSecretOffset: Int { keyLength + 12 }
    private var writeKeyOffset: Int { keyLength + 12 + secretLength }
    private var writeIVOffset: Int { writeKeyOffset + keyLength }
    private var writeSecretOffset: Int { writeIVOffset + 12 }

    /// Storage for a record layer, configured by `configure` once a handshake is done.
    init() {}

    deinit {
        material.withUnsafeMutableBytes { OPENSSL_cleanse($0.baseAddress, $0.count) }
    }

    private func setUp(isTLS13: Bool, aead: AEAD, digest: OpaquePointer?, secretLength: Int,
                       readSequence: UInt64, writeSequence: UInt64) {
        self.isTLS13 = isTLS13
        self.aead = aead
        self.digest = digest
        keyLength = aead == .aes128gcm ? 16 : 32
        ivLength = isTLS13 || aead == .chacha20poly1305 ? 12 : 4
        self.secretLength = secretLength
        self.readSequence = readSequence
        self.writeSequence = writeSequence
    }

    // MARK: Keys from a finished handshake

    /// Sets this record layer up for `ssl`'s established connection; false (keep OpenSSL) for a suite or version
    /// this does not implement. `clientSecret`/`serverSecret`: the TLS 1.3 application traffic secrets.
    func configure(ssl: OpaquePointer, clientSecret: [UInt8], serverSecret: [UInt8]) -> Bool {
        guard let cipher = SSL_get_current_cipher(ssl) else { return false }
        let aead: AEAD
        switch SSL_CIPHER_get_cipher_nid(cipher) {
        case NID_aes_128_gcm: aead = .aes128gcm
        case NID_aes_256_gcm: aead = .aes256gcm
        case NID_chacha20_poly1305: aead = .chacha20poly1305
        default: return false
        }
        guard let digest = SSL_CIPHER_get_handshake_digest(cipher) else { return false }
        let hashLength = Int(EVP_MD_get_size(digest))
        guard hashLength <= 48 else { return false }
        switch SSL_version(ssl) {
        case TLS1_3_VERSION:
            guard clientSecret.count == hashLength, serverSecret.count == hashLength else { return false }
            setUp(isTLS13: true, aead: aead, digest: digest, secretLength: hashLength, readSequence: 0,
                  writeSequence: 0)
            return install(secret: clientSecret, write: false) && install(secret: serverSecret, write: true)
        case TLS1_2_VERSION:
            // Both Finished messages were the first records under the new keys.
            setUp(isTLS13: false, aead: aead, digest: nil, secretLength: 0, readSequence: 1, writeSequence: 1)
            return installTLS12Keys(ssl: ssl, digest: digest)
        default:
            return false
        }
    }

    /// Sets this record layer up from explicit secrets, for tests and the fuzz harness (`Fuzz/harnesses/tls_record`):
    /// TLS 1.3 traffic secrets of `digest`'s length, or TLS 1.2 keys followed by their IVs; sequence numbers from 0.
    /// A peer's record layer is the same with `read` and `write` swapped.
    func configure(testing isTLS13: Bool, aead: AEAD, digest: OpaquePointer, read: [UInt8], write: [UInt8]) -> Bool {
        let hashLength = Int(EVP_MD_get_size(digest))
        setUp(isTLS13: isTLS13, aead: aead, digest: isTLS13 ? digest : nil, secretLength: isTLS13 ? hashLength : 0,
              readSequence: 0, writeSequence: 0)
        if isTLS13 {
            return read.count == hashLength && write.count == hashLength && install(secret: read, write: false)
                && install(secret: write, write: true)
        }
        guard read.count == keyLength + ivLength, write.count == keyLength + ivLength else { return false }
        material.replaceSubrange(readKeyOffset..<readKeyOffset + keyLength, with: read[0..<keyLength])
        material.replaceSubrange(readIVOffset..<readIVOffset + ivLength, with: read[keyLength...])
        material.replaceSubrange(writeKeyOffset..<writeKeyOffset + keyLength, with: write[0..<keyLength])
        material.replaceSubrange(writeIVOffset..<writeIVOffset + ivLength, with: write[keyLength...])
        return true
    }

    /// A KeyUpdate of our own (TLS 1.3), asking the peer to update its keys too when `request`: sent under the
    /// current keys, then ours change. The server sends one to answer a request, or when its write key has protected
    /// `writeRecordsPerKey` records (never asking back); tests play the client with it.
    func sendKeyUpdate(request: Bool, into output: inout [UInt8]) -> Bool {
        guard isTLS13 else { return false }
        let message: [UInt8] = [24, 0, 0, 1, request ? 1 : 0]
        return message.withUnsafeBytes { seal($0, type: 22, into: &output) } && update(write: true)
    }

    /// One record of content `type` (tests: alerts, handshake messages, application data), with `padding` zero
    /// bytes after the TLS 1.3 inner content type (0-255: tests may exceed the inner plaintext's limit with it).
    func sealRecord(_ plain: [UInt8], type: UInt8, padding: Int = 0, into output: inout [UInt8]) -> Bool {
        plain.count <= Self.maxPlaintext && (0...255).contains(padding)
            && plain.withUnsafeBytes { seal($0, type: type, padding: isTLS13 ? padding : 0, into: &output) }
    }

    /// TLS 1.3: key and IV from a traffic secret (RFC 8446 7.3); the secret is kept for KeyUpdate.
    private func install(secret: [UInt8], write: Bool) -> Bool {
        guard let digest, let key = Self.expandLabel(digest, secret, "key", keyLength),
              let iv = Self.expandLabel(digest, secret, "iv", 12) else { return false }
        let keyAt = write ? writeKeyOffset : readKeyOffset
        let ivAt = write ? writeIVOffset : readIVOffset
        let secretAt = write ? writeSecretOffset : readSecretOffset
        material.replaceSubrange(keyAt..<keyAt + keyLength, with: key)
        material.replaceSubrange(ivAt..<ivAt + 12, with: iv)
        material.replaceSubrange(secretAt..<secretAt + secretLength, with: secret)
        return true
    }

    /// TLS 1.2: the key block from the master secret (RFC 5246 6.3): client key, server key, client IV, server IV.
    private func installTLS12Keys(ssl: OpaquePointer, digest: OpaquePointer) -> Bool {
        guard let session = SSL_get_session(ssl) else { return false }
        var master = [UInt8](repeating: 0, count: 48)
        guard SSL_SESSION_get_master_key(session, &master, master.count) == 48 else { return false }
        defer { master.withUnsafeMutableBytes { OPENSSL_cleanse($0.baseAddress, $0.count) } }
        var clientRandom = [UInt8](repeating: 0, count: 32)
        var serverRandom = [UInt8](repeating: 0, count: 32)
        guard SSL_get_client_random(ssl, &clientRandom, 32) == 32, SSL_get_server_random(ssl, &serverRandom, 32) == 32
        else { return false }
        let length = 2 * keyLength + 2 * ivLength
        guard var block = Self.prf(digest, master, Array("key expansion".utf8) + serverRandom + clientRandom, length)
        else { return false }
        defer { block.withUnsafeMutableBytes { OPENSSL_cleanse($0.baseAddress, $0.count) } }
        material.replaceSubrange(readKeyOffset..<readKeyOffset + keyLength, with: block[0..<keyLength])
        material.replaceSubrange(writeKeyOffset..<writeKeyOffset + keyLength, with: block[keyLength..<2 * keyLength])
        let ivs = 2 * keyLength
        material.replaceSubrange(readIVOffset..<readIVOffset + ivLength, with: block[ivs..<ivs + ivLength])
        material.replaceSubrange(writeIVOffset..<writeIVOffset + ivLength,
                                 with: block[ivs + ivLength..<ivs + 2 * ivLength])
        return true
    }

    /// Checks the derived write keys on the records OpenSSL wrote in the handshake's last step, and takes the write
    /// sequence number from them. TLS 1.3: those are the NewSessionTickets, the first records under the server's
    /// application keys (sequence 0, 1, ...): the last must open at its number. TLS 1.2: the last is the server's
    /// Finished, sequence 0 under the new keys (a resumed handshake sent it earlier: nothing to check, so false).
    /// False keeps OpenSSL.
    func adoptWriteSequence(fromFinalStep records: [[UInt8]]) -> Bool {
        let sequence: UInt64
        let record: [UInt8]
        if isTLS13 {
            guard !records.isEmpty, records.allSatisfy({ $0[0] == 23 }) else { return false }
            sequence = UInt64(records.count - 1)
            record = records[records.count - 1]
        } else {
            guard let last = records.last, last[0] == 22, records.count >= 2, records[records.count - 2][0] == 20 else {
                return false
            }
            sequence = 0
            record = last
        }
        guard record.count > 5 + 16 else { return false }
        let opened = record.withUnsafeBytes { raw -> Bool in
            let body = UnsafeRawBufferPointer(rebasing: raw[5...])
            var plain = [UInt8](repeating: 0, count: body.count)
            return plain.withUnsafeMutableBytes { out in
                open(type: record[0], header: UnsafeRawBufferPointer(rebasing: raw[0..<5]), body: body,
                     sequence: sequence, keyAt: writeKeyOffset, ivAt: writeIVOffset, into: out) != nil
            }
        }
        guard opened else { return false }
        writeSequence = sequence + 1
        return true
    }

    // MARK: Reading

    enum Next {
        /// Application data: this many bytes in the buffer.
        case data(Int)
        /// No complete record left in what was lent (an incomplete one is kept).
        case wantMore
        case closed
        case failed(String)
    }

    /// Opens the next record of `input` (after `offset`, which advances), completing a pending partial record
    /// first. Records other than application data (KeyUpdate, alerts) are handled here; KeyUpdate answers go to
    /// `output`.
    func next(_ input: UnsafeRawBufferPointer, _ offset: inout Int, into buffer: UnsafeMutableRawPointer,
              capacity: Int, output: inout [UInt8]) -> Next {
        while true {
            // A complete record, from the pending bytes plus input, or from input alone.
            let available = input.count - offset
            if !partial.isEmpty {
                let have = partial.count
                let need: Int
                if have < 5 {
                    let take = min(5 - have, available)
                    partial.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[offset..<offset + take]))
                    offset += take
                    if partial.count < 5 { return .wantMore }
                    need = 5 + (Int(partial[3]) << 8 | Int(partial[4]))
                    guard need - 5 <= maxFragment else { return .failed("record too long") }
                } else {
                    need = 5 + (Int(partial[3]) << 8 | Int(partial[4]))
                }
                let take = min(need - partial.count, input.count - offset)
                partial.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[offset..<offset + take]))
                offset += take
                guard partial.count == need else { return .wantMore }
                let record = partial
                partial = []
                let result = record.withUnsafeBytes { process($0, into: buffer, capacity: capacity, output: &output) }
                if let result { return result }
                continue
            }
            guard available > 0 else { return .wantMore }
            if available < 5 {
                partial = Array(UnsafeRawBufferPointer(rebasing: input[offset...]))
                offset = input.count
                return .wantMore
            }
            let length = Int(input[offset + 3]) << 8 | Int(input[offset + 4])
            guard length <= maxFragment else { return .failed("record too long") }
            guard available >= 5 + length else {
                partial.reserveCapacity(5 + length)
                partial.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[offset...]))
                offset = input.count
                return .wantMore
            }
            let record = UnsafeRawBufferPointer(rebasing: input[offset..<offset + 5 + length])
            offset += 5 + length
            if let result = process(record, into: buffer, capacity: capacity, output: &output) { return result }
        }
    }

    /// One whole record: .data, .closed, .failed, or nil when it carried nothing for the application.
    private func process(_ record: UnsafeRawBufferPointer, into buffer: UnsafeMutableRawPointer, capacity: Int,
                         output: inout [UInt8]) -> Next? {
        let outerType = record[0]
        guard record[1] == 0x03, record[2] == 0x03 else { return .failed("bad record version") }
        let body = UnsafeRawBufferPointer(rebasing: record[5...])
        if isTLS13, outerType != 23 { return .failed("unexpected record type \(outerType)") }
        // The framing refused longer records; the buffer holds the largest plaintext either version allows.
        guard body.count <= capacity else { return .failed("record too long") }
        // Sequence numbers never wrap (RFC 8446 5.3, RFC 5246 6.1): a nonce would repeat.
        guard readSequence < UInt64.max else { return .failed("read sequence number exhausted") }
        let out = UnsafeMutableRawBufferPointer(start: buffer, count: capacity)
        guard var count = open(type: outerType, header: UnsafeRawBufferPointer(rebasing: record[0..<5]), body: body,
                               sequence: readSequence, keyAt: readKeyOffset, ivAt: readIVOffset, into: out) else {
            return .failed("bad record mac")
        }
        readSequence += 1
        var type = outerType
        if isTLS13 {
            // The inner plaintext: content, then its type, then zero padding, 2^14 + 1 bytes at most (RFC 8446 5.4).
            guard count <= Self.maxPlaintext + 1 else { return .failed("record overflow") }
            while count > 0, out[count - 1] == 0 { count -= 1 }
            guard count > 0 else { return .failed("record without a content type") }
            type = out[count - 1]
            count -= 1
        }
        guard count <= Self.maxPlaintext else { return .failed("record overflow") }
        if type != 23 || count == 0 {
            idleRecords += 1
            guard idleRecords <= Self.maxIdleRecords else { return .failed("too many records without data") }
        }
        switch type {
        case 23:
            guard count > 0 else { return nil }
            idleRecords = 0
            return .data(count)
        case 21:
            guard count == 2 else { return .failed("bad alert") }
            if out[1] == 0 { return .closed }  // close_notify
            return .failed("alert \(out[1]) from the client")
        case 22 where isTLS13:
            return handshakeMessages(UnsafeRawBufferPointer(rebasing: out[0..<count]), output: &output)
        default:
            return .failed(type == 22 ? "renegotiation refused" : "unexpected content type \(type)")
        }
    }

    /// TLS 1.3 post-handshake messages: one KeyUpdate per record (answered when asked); anything else, a message
    /// split over records or an empty record ends the connection. A KeyUpdate changes the read key, so it must end its
    /// record (RFC 8446 5.1, 4.6.3); a client's Certificate, NewSessionTicket... are not expected from a client.
    private func handshakeMessages(_ messages: UnsafeRawBufferPointer, output: inout [UInt8]) -> Next? {
        guard messages.count >= 4 else {
            return .failed(messages.isEmpty ? "empty handshake record" : "truncated handshake message")
        }
        let type = messages[0]
        let length = Int(messages[1]) << 16 | Int(messages[2]) << 8 | Int(messages[3])
        guard messages.count - 4 >= length else { return .failed("truncated handshake message") }
        guard type == 24, length == 1 else { return .failed("unexpected handshake message \(type)") }
        guard messages.count == 5 else { return .failed("KeyUpdate not at the end of its record") }
        let requested = messages[4]
        guard requested <= 1 else { return .failed("bad KeyUpdate") }
        guard update(write: false) else { return .failed("KeyUpdate failed") }
        // Our KeyUpdate (not requesting one back) goes under the current keys, then ours change.
        if requested == 1, !sendKeyUpdate(request: false, into: &output) { return .failed("KeyUpdate failed") }
        return nil
    }

    private func update(write: Bool) -> Bool {
        guard let digest else { return false }
        let at = write ? writeSecretOffset : readSecretOffset
        let secret = Array(material[at..<at + secretLength])
        guard let next = Self.expandLabel(digest, secret, "traffic upd", secretLength),
              install(secret: next, write: write) else { return false }
        if write { writeSequence = 0 } else { readSequence = 0 }
        return true
    }

    // MARK: Writing

    /// Protects `buffers` as application data records of up to 16 KiB, small buffers gathered in `scratch`.
    func seal(_ buffers: [[UInt8]], byteCount: Int, scratch: UnsafeMutableRawPointer, scratchSize: Int,
              into output: inout [UInt8]) -> Bool {
        let limit = min(scratchSize, Self.maxPlaintext)
        output.reserveCapacity(output.count + byteCount + (byteCount / limit + buffers.count) * 29)
        var used = 0
        for buffer in buffers {
            if buffer.count >= limit / 4 {
                if used > 0 {
                    guard seal(UnsafeRawBufferPointer(start: scratch, count: used), type: 23, into: &output) else {
                        return false
                    }
                    used = 0
                }
                let ok = buffer.withUnsafeBytes { raw -> Bool in
                    var at = 0
                    while at < raw.count {
                        let chunk = min(limit, raw.count - at)
                        guard seal(UnsafeRawBufferPointer(rebasing: raw[at..<at + chunk]), type: 23, into: &output)
                        else { return false }
                        at += chunk
                    }
                    return true
                }
                guard ok else { return false }
                continue
            }
            if used + buffer.count > limit {
                guard seal(UnsafeRawBufferPointer(start: scratch, count: used), type: 23, into: &output) else {
                    return false
                }
                used = 0
            }
            buffer.withUnsafeBytes { (scratch + used).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            used += buffer.count
        }
        return used == 0 || seal(UnsafeRawBufferPointer(start: scratch, count: used), type: 23, into: &output)
    }

    /// close_notify, once.
    func closeNotify(into output: inout [UInt8]) {
        guard !closeNotifySent else { return }
        closeNotifySent = true
        let alert: [UInt8] = [1, 0]
        _ = alert.withUnsafeBytes { seal($0, type: 21, into: &output) }
    }

    /// One record of `plain` (at most 16 KiB) of content `type`, appended to `output`; in TLS 1.3, after a KeyUpdate
    /// of our own when the write key has protected `writeRecordsPerKey` records. False when the sequence numbers
    /// are used up (TLS 1.2: 2^64 records) or libcrypto fails.
    private func seal(_ plain: UnsafeRawBufferPointer, type: UInt8, padding: Int = 0, into output: inout [UInt8]) -> Bool {
        if isTLS13, type != 22, writeSequence >= Self.writeRecordsPerKey {
            guard sendKeyUpdate(request: false, into: &output) else { return false }
        }
        guard writeSequence < UInt64.max else { return false }
        let explicit = !isTLS13 && aead != .chacha20poly1305 ? 8 : 0
        let inner = plain.count + (isTLS13 ? 1 + padding : 0)
        let length = explicit + inner + 16
        let start = output.count
        output.append(contentsOf: repeatElement(0, count: 5 + length))
        let sequence = writeSequence
        writeSequence += 1
        return output.withUnsafeMutableBytes { raw -> Bool in
            let record = raw.baseAddress! + start
            record.storeBytes(of: isTLS13 ? 23 : type, toByteOffset: 0, as: UInt8.self)
            record.storeBytes(of: 0x03, toByteOffset: 1, as: UInt8.self)
            record.storeBytes(of: 0x03, toByteOffset: 2, as: UInt8.self)
            record.storeBytes(of: UInt8(length >> 8), toByteOffset: 3, as: UInt8.self)
            record.storeBytes(of: UInt8(length & 0xFF), toByteOffset: 4, as: UInt8.self)
            var nonce = self.nonce(sequence, ivAt: writeIVOffset)
            if explicit > 0 {
                withUnsafeBytes(of: sequence.bigEndian) { (record + 5).copyMemory(from: $0.baseAddress!, byteCount: 8) }
            }
            var aad = self.aad(header: UnsafeRawBufferPointer(start: record, count: 5), sequence: sequence,
                               type: type, plainLength: plain.count)
            let context = TLSRecordLayer.cipherContext
            let body = record + 5 + explicit
            var written: Int32 = 0
            let ok = material.withUnsafeBytes { keys -> Bool in
                guard EVP_EncryptInit_ex(context, cipher, nil,
                                         keys.baseAddress!.assumingMemoryBound(to: UInt8.self) + writeKeyOffset,
                                         &nonce) == 1,
                      EVP_EncryptUpdate(context, nil, &written, &aad, Int32(aad.count)) == 1 else { return false }
                if plain.count > 0 {
                    guard EVP_EncryptUpdate(context, body.assumingMemoryBound(to: UInt8.self), &written,
                                            plain.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                            Int32(plain.count)) == 1 else { return false }
                }
                if isTLS13 {
                    var tail = [UInt8](repeating: 0, count: 1 + padding)
                    tail[0] = type
                    guard EVP_EncryptUpdate(context, (body + plain.count).assumingMemoryBound(to: UInt8.self),
                                            &written, &tail, Int32(tail.count)) == 1 else { return false }
                }
                return EVP_EncryptFinal_ex(context, (body + inner).assumingMemoryBound(to: UInt8.self), &written) == 1
                    && EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_AEAD_GET_TAG, 16, body + inner) == 1
            }
            return ok
        }
    }

    // MARK: AEAD

    /// Opens a record body into `out`; the plaintext length, or nil when it does not authenticate.
    private func open(type: UInt8, header: UnsafeRawBufferPointer, body: UnsafeRawBufferPointer, sequence: UInt64,
                      keyAt: Int, ivAt: Int, into out: UnsafeMutableRawBufferPointer) -> Int? {
        let explicit = !isTLS13 && aead != .chacha20poly1305 ? 8 : 0
        guard body.count >= explicit + 16 else { return nil }
        let cipherLength = body.count - explicit - 16
        guard cipherLength <= out.count else { return nil }
        var nonce = self.nonce(sequence, ivAt: ivAt)
        if explicit > 0 {
            for index in 0..<8 { nonce[4 + index] = body[index] }
        }
        var aad = self.aad(header: header, sequence: sequence, type: type, plainLength: cipherLength)
        let context = TLSRecordLayer.cipherContext
        var written: Int32 = 0
        var tag = Array(body[(body.count - 16)...])
        let ok = material.withUnsafeBytes { keys -> Bool in
            guard EVP_DecryptInit_ex(context, cipher, nil, keys.baseAddress!.assumingMemoryBound(to: UInt8.self) + keyAt,
                                     &nonce) == 1,
                  EVP_DecryptUpdate(context, nil, &written, &aad, Int32(aad.count)) == 1 else { return false }
            if cipherLength > 0 {
                guard EVP_DecryptUpdate(context, out.baseAddress!.assumingMemoryBound(to: UInt8.self), &written,
                                        (body.baseAddress! + explicit).assumingMemoryBound(to: UInt8.self),
                                        Int32(cipherLength)) == 1 else { return false }
            }
            guard EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_AEAD_SET_TAG, 16, &tag) == 1 else { return false }
            var tail: Int32 = 0
            return EVP_DecryptFinal_ex(context, out.baseAddress!.assumingMemoryBound(to: UInt8.self) + cipherLength,
                                       &tail) == 1
        }
        return ok ? cipherLength : nil
    }

    /// TLS 1.3 and ChaCha20: the IV XOR the sequence number; TLS 1.2 GCM: the salt, then the explicit part (the
    /// sequence number, as OpenSSL and most implementations send).
    private func nonce(_ sequence: UInt64, ivAt: Int) -> [UInt8] {
        var nonce = [UInt8](repeating: 0, count: 12)
        if ivLength == 12 {
            for index in 0..<12 { nonce[index] = material[ivAt + index] }
            for index in 0..<8 { nonce[4 + index] ^= UInt8(truncatingIfNeeded: sequence >> (56 - 8 * UInt64(index))) }
        } else {
            for index in 0..<4 { nonce[index] = material[ivAt + index] }
            for index in 0..<8 { nonce[4 + index] = UInt8(truncatingIfNeeded: sequence >> (56 - 8 * UInt64(index))) }
        }
        return nonce
    }

    /// TLS 1.3: the record header; TLS 1.2: sequence number, type, version, plaintext length.
    private func aad(header: UnsafeRawBufferPointer, sequence: UInt64, type: UInt8, plainLength: Int) -> [UInt8] {
        if isTLS13 { return Array(header) }
        var aad = [UInt8](repeating: 0, count: 13)
        for index in 0..<8 { aad[index] = UInt8(truncatingIfNeeded: sequence >> (56 - 8 * UInt64(index))) }
        aad[8] = type
        aad[9] = 0x03
        aad[10] = 0x03
        aad[11] = UInt8(plainLength >> 8)
        aad[12] = UInt8(plainLength & 0xFF)
        return aad
    }

    private var cipher: OpaquePointer {
        switch aead {
        case .aes128gcm: return TLSRecordLayer.ciphers.aes128gcm
        case .aes256gcm: return TLSRecordLayer.ciphers.aes256gcm
        case .chacha20poly1305: return TLSRecordLayer.ciphers.chacha20poly1305
        }
    }

    /// The ciphers, fetched once for the process (explicit fetches: no provider lookup per record).
    private static let ciphers: (aes128gcm: OpaquePointer, aes256gcm: OpaquePointer, chacha20poly1305: OpaquePointer) = (
        EVP_CIPHER_fetch(nil, "AES-128-GCM", nil)!, EVP_CIPHER_fetch(nil, "AES-256-GCM", nil)!,
        EVP_CIPHER_fetch(nil, "ChaCha20-Poly1305", nil)!
    )

    /// One cipher context per thread (each loop's), re-keyed for every record.
    private static var cipherContext: OpaquePointer {
        if let context = pthread_getspecific(cipherContextKey) { return OpaquePointer(context) }
        let context = EVP_CIPHER_CTX_new()!
        pthread_setspecific(cipherContextKey, UnsafeRawPointer(context))
        return context
    }

    // MARK: Key schedule

    /// HKDF-Expand-Label (RFC 8446 7.1) with an empty context.
    static func expandLabel(_ digest: OpaquePointer, _ secret: [UInt8], _ label: String, _ length: Int) -> [UInt8]? {
        let full = Array("tls13 \(label)".utf8)
        let info = [UInt8(length >> 8), UInt8(length & 0xFF), UInt8(full.count)] + full + [0]
        return expand(digest, secret, info, length)
    }

    /// HKDF-Expand (RFC 5869 2.3).
    private static func expand(_ digest: OpaquePointer, _ key: [UInt8], _ info: [UInt8], _ length: Int) -> [UInt8]? {
        var output: [UInt8] = []
        var previous: [UInt8] = []
        var counter: UInt8 = 1
        while output.count < length {
            guard let block = hmac(digest, key, previous + info + [counter]) else { return nil }
            output += block
            previous = block
            counter += 1
        }
        return Array(output[0..<length])
    }

    /// The TLS 1.2 PRF, P_hash (RFC 5246 5).
    private static func prf(_ digest: OpaquePointer, _ secret: [UInt8], _ seed: [UInt8], _ length: Int) -> [UInt8]? {
        var output: [UInt8] = []
        guard var a = hmac(digest, secret, seed) else { return nil }
        while output.count < length {
            guard let block = hmac(digest, secret, a + seed), let next = hmac(digest, secret, a) else { return nil }
            output += block
            a = next
        }
        return Array(output[0..<length])
    }

    private static func hmac(_ digest: OpaquePointer, _ key: [UInt8], _ data: [UInt8]) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        guard HMAC(digest, key, Int32(key.count), data, data.count, &out, &length) != nil else { return nil }
        return Array(out[0..<Int(length)])
    }
}

private let cipherContextKey: pthread_key_t = {
    var key = pthread_key_t()
    pthread_key_create(&key) { context in EVP_CIPHER_CTX_free(OpaquePointer(context)) }
    return key
}()

import COpenSSL
#if canImport(Glibc)
import Glibc
#endif

/// The server side of one TLS connection: an OpenSSL `SSL` driven through a memory BIO of our own, so OpenSSL
/// never touches the socket and never blocks. Ciphertext read from the socket is lent to the BIO for the length
/// of one call (no copy into OpenSSL beyond its record buffer); what OpenSSL writes is appended to `output`, which
/// the connection queues like any other bytes. Owned by its `TCPConnection`; it moves to another loop with the
/// descriptor (`DetachedConnection`), used by one thread at a time.
///
/// Once the handshake is done, the session takes the record layer over (`TLSRecordLayer`: traffic keys and sequence
/// numbers, about 300 bytes) and frees the `SSL` (about 15 KB idle, even with `SSL_MODE_RELEASE_BUFFERS`), unless
/// the suite is not an AEAD one it implements or `TLSOptions.recordLayer` says `.openSSL`. Nothing here keeps a
/// buffer between reads.
public final class TLSSession: TimerTarget {
    /// OpenSSL's connection: for the handshake, and for the whole connection when the record layer stays OpenSSL's.
    private(set) var ssl: OpaquePointer?
    /// The engine's record layer, after the handshake.
    private(set) var records: TLSRecordLayer?
    /// Its storage, made with the session (before OpenSSL allocates the handshake's state) when it may be used.
    private var recordStorage: TLSRecordLayer?
    /// Keeps the `SSL_CTX`s (and the SNI callback's argument) alive while the `SSL` lives.
    private var credentials: TLSCredentials?
    let context: TLSContext
    let handshakeTimeout: UInt64
    /// TLS 1.3 application traffic secrets reported by OpenSSL's key-log callback during the handshake; wiped once
    /// the record layer has its keys.
    var clientSecret: [UInt8] = []
    var serverSecret: [UInt8] = []
    /// The negotiated protocol ("TLSv1.3"), once established.
    public private(set) var protocolVersion = ""
    /// The connection this session serves (its owner), for the handshake timer.
    unowned(unsafe) var connection: TCPConnection?
    public var timerSlot = TimerSlot()

    /// Ciphertext lent for one `receive` call, and how much of it OpenSSL has taken.
    private var input: UnsafeRawBufferPointer?
    private var inputOffset = 0
    /// What OpenSSL wrote (handshake messages, records, alerts), not yet queued on the socket.
    var output: [UInt8] = []
    /// Ciphertext read from the socket but not yet given to OpenSSL when the connection had to stop (it moved to
    /// another loop in the middle of a read): processed first on the new loop.
    var leftover: [UInt8] = []
    public private(set) var isEstablished = false
    /// Some bytes arrived: a connection closed before any is a probe, not a failed handshake.
    var sawBytes = false
    /// Inside `receive` (OpenSSL holds pointers into the read buffer): the session must not move to another loop.
    var isReceiving = false
    private var shutdownSent = false
    private static let log = Logger("tls")

    init?(credentials: TLSCredentials, context: TLSContext) {
        let storage = credentials.engineRecordLayer ? TLSRecordLayer() : nil  // before OpenSSL's allocations
        guard let ssl = SSL_new(credentials.contexts[0]) else { return nil }
        guard let bio = BIO_new(sessionBIOMethod) else {
            SSL_free(ssl)
            return nil
        }
        self.ssl = ssl
        self.credentials = credentials
        self.context = context
        handshakeTimeout = credentials.handshakeTimeout
        recordStorage = storage
        BIO_set_data(bio, Unmanaged.passUnretained(self).toOpaque())
        BIO_set_init(bio, 1)
        SSL_set_bio(ssl, bio, bio)  // the SSL owns the BIO
        SSL_set_accept_state(ssl)
    }

    deinit {
        if let ssl { SSL_free(ssl) }
        wipeSecrets()
    }

    /// True once the engine's record layer runs the connection (OpenSSL's state is freed).
    public var usesEngineRecordLayer: Bool { records != nil }

    public func timerFired(now: UInt64) {
        connection?.tlsHandshakeTimedOut()
    }

    // MARK: Input

    func lend(_ bytes: UnsafeRawBufferPointer) {
        input = bytes
        inputOffset = 0
        if !bytes.isEmpty { sawBytes = true }
    }

    /// Ends the loan; what OpenSSL did not take is kept in `leftover` when `keep`, else dropped.
    func endLoan(keep: Bool) {
        if keep, let input, inputOffset < input.count {
            leftover.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[inputOffset...]))
        }
        input = nil
        inputOffset = 0
    }

    /// Bytes lent that OpenSSL has not taken yet, or a record it decrypted that was not read out: call `read`
    /// again. Once both are used up, calling `read` would only make OpenSSL allocate its record buffer (about
    /// 17 KB) for a record that has not arrived and keep it while the connection idles.
    var hasMoreToRead: Bool {
        if input.map({ inputOffset < $0.count }) ?? false { return true }
        guard let ssl else { return false }
        return SSL_pending(ssl) > 0
    }

    fileprivate func readInput(_ buffer: UnsafeMutablePointer<CChar>, _ capacity: Int) -> Int {
        guard let input, inputOffset < input.count else { return 0 }
        let count = min(capacity, input.count - inputOffset)
        memcpy(buffer, input.baseAddress! + inputOffset, count)
        inputOffset += count
        return count
    }

    // MARK: Handshake and records

    enum Step {
        /// Done (handshake complete, or a record read into the buffer: its length).
        case done(Int)
        /// OpenSSL took every byte lent and wants more.
        case wantMore
        /// The peer sent close_notify.
        case closed
        /// A fatal error, with OpenSSL's reason; `plainHTTP` when the bytes were an HTTP request.
        case failed(String, plainHTTP: Bool)
    }

    func handshake() -> Step {
        guard let ssl else { return .failed("no TLS state", plainHTTP: false) }
        ERR_clear_error()
        let mark = output.count
        let rc = SSL_do_handshake(ssl)
        if rc == 1 {
            isEstablished = true
            protocolVersion = String(cString: SSL_get_version(ssl))
            takeOver(finalStepFrom: mark)
            return .done(0)
        }
        return failure(rc)
    }

    /// Decrypts one record into `buffer` (at least `EventLoop.tlsBufferSize`).
    func read(into buffer: UnsafeMutableRawPointer, capacity: Int) -> Step {
        if let records {
            guard let input else { return .wantMore }
            switch records.next(input, &inputOffset, into: buffer, capacity: capacity, output: &output) {
            case .data(let count): return .done(count)
            case .wantMore: return .wantMore
            case .closed: return .closed
            case .failed(let reason): return .failed(reason, plainHTTP: false)
            }
        }
        guard let ssl else { return .failed("no TLS state", plainHTTP: false) }
        ERR_clear_error()
        let rc = SSL_read(ssl, buffer, Int32(min(capacity, TLSRecordLayer.maxPlaintext)))
        if rc > 0 { return .done(Int(rc)) }
        return failure(rc)
    }

    /// The handshake is done: derive the record layer's keys, check them on the records OpenSSL protected in the
    /// handshake's last step (TLS 1.3: the session tickets, under the application keys, which also tell the write
    /// sequence number; TLS 1.2: the server's Finished, sequence 0), and free the `SSL`. When anything does not fit
    /// (another suite, no record to check, data OpenSSL holds), OpenSSL keeps the connection.
    private func takeOver(finalStepFrom mark: Int) {
        defer { wipeSecrets() }
        guard let ssl, let layer = recordStorage else { return }
        recordStorage = nil
        let suite = SSL_get_current_cipher(ssl).flatMap { SSL_CIPHER_get_name($0) }.map { String(cString: $0) } ?? "?"
        func keep(_ why: String) { Self.log.debug("OpenSSL keeps the record layer of \(protocolVersion) \(suite): \(why)") }
        guard SSL_has_pending(ssl) == 0 else { return keep("it holds unread data") }
        guard layer.configure(ssl: ssl, clientSecret: clientSecret, serverSecret: serverSecret) else {
            return keep("not a suite the engine implements")
        }
        // The records of the last step.
        var written: [[UInt8]] = []
        var at = mark
        while at + 5 <= output.count {
            let length = Int(output[at + 3]) << 8 | Int(output[at + 4])
            guard at + 5 + length <= output.count else { return }
            written.append(Array(output[at..<at + 5 + length]))
            at += 5 + length
        }
        guard at == output.count, layer.adoptWriteSequence(fromFinalStep: written) else {
            return keep("no record of the last step to check the keys on")
        }
        Self.log.debug("engine record layer for \(protocolVersion) \(suite)")
        records = layer
        SSL_free(ssl)
        self.ssl = nil
        credentials = nil
    }

    private func wipeSecrets() {
        clientSecret.withUnsafeMutableBytes { OPENSSL_cleanse($0.baseAddress, $0.count) }
        serverSecret.withUnsafeMutableBytes { OPENSSL_cleanse($0.baseAddress, $0.count) }
        clientSecret = []
        serverSecret = []
    }

    private func failure(_ rc: Int32) -> Step {
        guard let ssl else { return .failed("no TLS state", plainHTTP: false) }
        let error = SSL_get_error(ssl, rc)
        switch error {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            return .wantMore
        case SSL_ERROR_ZERO_RETURN:
            return .closed
        default:
            let code = ERR_peek_error()
            let plainHTTP = code != 0 && sio_err_is_http_request(code) != 0
            let reason = code != 0 ? openSSLErrors() : (error == SSL_ERROR_SYSCALL ? "unexpected end of stream" : "error \(error)")
            return .failed(reason, plainHTTP: plainHTTP)
        }
    }

    /// Encrypts `buffers` into `output`: small buffers are gathered into records of up to 16 KiB (`scratch`), so a
    /// turn's frames cost a few records, not one each. False on a fatal error.
    func seal(_ buffers: [[UInt8]], byteCount: Int, scratch: UnsafeMutableRawPointer, scratchSize: Int) -> Bool {
        if let records {
            return records.seal(buffers, byteCount: byteCount, scratch: scratch, scratchSize: scratchSize,
                                into: &output)
        }
        let scratchSize = min(scratchSize, TLSRecordLayer.maxPlaintext)
        output.reserveCapacity(output.count + byteCount + (byteCount / 16384 + 1) * 64)
        var used = 0
        for buffer in buffers {
            if buffer.count >= scratchSize / 4 {
                if used > 0 {
                    guard write(scratch, used) else { return false }
                    used = 0
                }
                let ok = buffer.withUnsafeBytes { write($0.baseAddress!, $0.count) }
                guard ok else { return false }
                continue
            }
            if used + buffer.count > scratchSize {
                guard write(scratch, used) else { return false }
                used = 0
            }
            buffer.withUnsafeBytes { (scratch + used).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            used += buffer.count
        }
        return used == 0 || write(scratch, used)
    }

    private func write(_ bytes: UnsafeRawPointer, _ count: Int) -> Bool {
        guard let ssl else { return false }
        var offset = 0
        while offset < count {
            let chunk = min(count - offset, 1 << 30)
            ERR_clear_error()
            guard SSL_write(ssl, bytes + offset, Int32(chunk)) == Int32(chunk) else {
                ERR_clear_error()
                return false
            }
            offset += chunk
        }
        return true
    }

    /// Queues close_notify (once, when established).
    func shutdown() {
        guard isEstablished, !shutdownSent else { return }
        shutdownSent = true
        if let records {
            records.closeNotify(into: &output)
            return
        }
        guard let ssl else { return }
        ERR_clear_error()
        _ = SSL_shutdown(ssl)
        ERR_clear_error()
    }

    func takeOutput() -> [UInt8] {
        let bytes = output
        output = []
        return bytes
    }
}

/// OpenSSL's key log (`SSL_CTX_set_keylog_callback`), for the TLS 1.3 application traffic secrets the record layer
/// starts from: "CLIENT_TRAFFIC_SECRET_0 <client random> <secret>", in hex. Other lines are ignored.
let keyLogCallback: @convention(c) (OpaquePointer?, UnsafePointer<CChar>?) -> Void = { ssl, line in
    guard let ssl, let line, let bio = SSL_get_rbio(ssl), let data = BIO_get_data(bio) else { return }
    let session = Unmanaged<TLSSession>.fromOpaque(data).takeUnretainedValue()
    let text = UnsafeBufferPointer(start: UnsafeRawPointer(line).assumingMemoryBound(to: UInt8.self), count: strlen(line))
    let client = Array("CLIENT_TRAFFIC_SECRET_0 ".utf8)
    let server = Array("SERVER_TRAFFIC_SECRET_0 ".utf8)
    let isClient = text.starts(with: client)
    guard isClient || text.starts(with: server) else { return }
    // The label, the client random (64 hex digits and a space), then the secret.
    let start = client.count + 65
    guard text.count > start else { return }
    var secret: [UInt8] = []
    var index = start
    func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
    while index + 1 < text.count {
        guard let high = nibble(text[index]), let low = nibble(text[index + 1]) else { return }
        secret.append(high << 4 | low)
        index += 2
    }
    if isClient { session.clientSecret = secret } else { session.serverSecret = secret }
}

/// The BIO between OpenSSL and a `TLSSession`: reads take from the bytes lent by `receive` (and ask to retry when
/// they are used up), writes append to `output` and always succeed. One method table for the process.
private let sessionBIOMethod: OpaquePointer = {
    let method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "sio-tls")!
    BIO_meth_set_write(method) { bio, data, length in
        guard let bio, let data, length > 0 else { return 0 }
        sio_bio_clear_retry_flags(bio)
        let session = Unmanaged<TLSSession>.fromOpaque(BIO_get_data(bio)).takeUnretainedValue()
        session.output.append(contentsOf: UnsafeRawBufferPointer(start: data, count: Int(length)))
        return length
    }
    BIO_meth_set_read(method) { bio, buffer, length in
        guard let bio, let buffer, length > 0 else { return 0 }
        sio_bio_clear_retry_flags(bio)
        let session = Unmanaged<TLSSession>.fromOpaque(BIO_get_data(bio)).takeUnretainedValue()
        let count = session.readInput(buffer, Int(length))
        if count == 0 {
            sio_bio_set_retry_read(bio)
            return -1
        }
        return Int32(count)
    }
    BIO_meth_set_ctrl(method) { _, command, _, _ in
        command == BIO_CTRL_FLUSH ? 1 : 0
    }
    BIO_meth_set_create(method) { _ in 1 }
    BIO_meth_set_destroy(method) { _ in 1 }
    return method
}()

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
/// `SSL_MODE_RELEASE_BUFFERS` lets OpenSSL free its record buffers whenever they are empty, and nothing here keeps a
/// buffer between reads: an idle session holds only OpenSSL's state (keys, the session) and this object.
public final class TLSSession: TimerTarget {
    let ssl: OpaquePointer
    /// Keeps the `SSL_CTX`s (and the SNI callback's argument) alive for this session's life.
    let credentials: TLSCredentials
    let context: TLSContext
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

    init?(credentials: TLSCredentials, context: TLSContext) {
        guard let ssl = SSL_new(credentials.contexts[0]) else { return nil }
        guard let bio = BIO_new(sessionBIOMethod) else {
            SSL_free(ssl)
            return nil
        }
        self.ssl = ssl
        self.credentials = credentials
        self.context = context
        BIO_set_data(bio, Unmanaged.passUnretained(self).toOpaque())
        BIO_set_init(bio, 1)
        SSL_set_bio(ssl, bio, bio)  // the SSL owns the BIO
        SSL_set_accept_state(ssl)
    }

    deinit {
        SSL_free(ssl)
    }

    var handshakeTimeout: UInt64 { credentials.handshakeTimeout }

    /// The negotiated protocol ("TLSv1.3"), once established.
    public var protocolVersion: String { String(cString: SSL_get_version(ssl)) }

    /// The SNI host name the client asked for, if any.
    public var serverName: String? {
        SSL_get_servername(ssl, Int32(TLSEXT_NAMETYPE_host_name)).map { String(cString: $0) }
    }

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
        (input.map { inputOffset < $0.count } ?? false) || SSL_pending(ssl) > 0
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
        ERR_clear_error()
        let rc = SSL_do_handshake(ssl)
        if rc == 1 {
            isEstablished = true
            return .done(0)
        }
        return failure(rc)
    }

    /// Decrypts one record into `buffer`.
    func read(into buffer: UnsafeMutableRawPointer, capacity: Int) -> Step {
        ERR_clear_error()
        let rc = SSL_read(ssl, buffer, Int32(capacity))
        if rc > 0 { return .done(Int(rc)) }
        return failure(rc)
    }

    private func failure(_ rc: Int32) -> Step {
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

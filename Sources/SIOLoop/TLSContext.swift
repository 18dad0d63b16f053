import COpenSSL
#if canImport(Glibc)
import Glibc
#endif

/// Where PEM text comes from: a file (read when the context is made or reloaded) or bytes held in memory.
public enum PEMSource: Sendable, Equatable {
    case file(String)
    case bytes([UInt8])

    /// PEM text given as a string.
    public static func text(_ pem: String) -> PEMSource { .bytes(Array(pem.utf8)) }

    /// How errors name it: the file's path, or "PEM bytes".
    public var label: String {
        switch self {
        case .file(let path): return path
        case .bytes: return "PEM bytes"
        }
    }

    func read(_ what: String) throws -> [UInt8] {
        switch self {
        case .bytes(let bytes): return bytes
        case .file(let path):
            guard let file = fopen(path, "rb") else {
                throw TLSError(what: what, source: path, reason: "cannot read: " + String(cString: strerror(errno)))
            }
            defer { fclose(file) }
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 16384)
            while true {
                let count = fread(&chunk, 1, chunk.count, file)
                if count > 0 { bytes.append(contentsOf: chunk[0..<count]) }
                if count < chunk.count { break }
            }
            if ferror(file) != 0 {
                throw TLSError(what: what, source: path, reason: "cannot read: " + String(cString: strerror(errno)))
            }
            return bytes
        }
    }
}

/// A certificate chain and its private key.
public struct TLSCertificate: Sendable {
    /// PEM: the server's certificate first, then the intermediates that lead to the client's trusted root.
    public var chain: PEMSource
    /// PEM: the private key of the first certificate (PKCS#8, PKCS#1 or SEC1; encrypted when `password` is set).
    public var privateKey: PEMSource
    /// The private key's password; nil for an unencrypted key.
    public var password: String?

    public init(chain: PEMSource, privateKey: PEMSource, password: String? = nil) {
        self.chain = chain
        self.privateKey = privateKey
        self.password = password
    }

    public init(certificateFile: String, keyFile: String, password: String? = nil) {
        self.init(chain: .file(certificateFile), privateKey: .file(keyFile), password: password)
    }
}

/// How a TLS listener serves: its certificates and its handshake timeout. The protocol policy is fixed and not an
/// option: TLS 1.2 and 1.3 only, the system's default cipher policy (OpenSSL's configuration, e.g.
/// /etc/ssl/openssl.cnf), ALPN `http/1.1`, renegotiation off, no compression, no server-side session cache
/// (resumption by stateless tickets).
public struct TLSOptions: Sendable {
    /// The first certificate is served by default; each other one to clients whose SNI host name it covers
    /// (its subject alternative names, wildcards included), tried in order. At least one.
    public var certificates: [TLSCertificate]
    /// Milliseconds a client has, from the moment its connection is accepted, to complete the handshake
    /// (default 10 s); then the connection is closed and reported.
    public var handshakeTimeout: UInt64 = 10_000

    /// Who protects records once the handshake is done.
    public enum RecordLayer: Sendable {
        /// The engine (default): for the AEAD suites (AES-GCM, ChaCha20-Poly1305; every TLS 1.3 suite) it keeps
        /// only the traffic keys and sequence numbers (about 0.3 KB) and frees OpenSSL's per-connection state
        /// (about 15 KB idle); other suites stay with OpenSSL.
        case engine
        /// OpenSSL for the whole connection.
        case openSSL
    }
    public var recordLayer = RecordLayer.engine

    public init(certificates: [TLSCertificate], handshakeTimeout: UInt64 = 10_000) {
        self.certificates = certificates
        self.handshakeTimeout = handshakeTimeout
    }

    public init(certificate: TLSCertificate, handshakeTimeout: UInt64 = 10_000) {
        self.init(certificates: [certificate], handshakeTimeout: handshakeTimeout)
    }

    /// One certificate chain and key from PEM files.
    public init(certificateFile: String, keyFile: String, password: String? = nil, handshakeTimeout: UInt64 = 10_000) {
        self.init(certificate: TLSCertificate(certificateFile: certificateFile, keyFile: keyFile, password: password),
                  handshakeTimeout: handshakeTimeout)
    }
}

/// A certificate or key that cannot be used, named by its file (or "PEM bytes") with OpenSSL's reason.
public struct TLSError: Error, CustomStringConvertible, Sendable {
    /// "TLS certificate", "TLS private key", "TLS options".
    public let what: String
    /// The file's path, or "PEM bytes".
    public let source: String
    public let reason: String

    public init(what: String, source: String, reason: String) {
        self.what = what
        self.source = source
        self.reason = reason
    }

    public var description: String { source.isEmpty ? "\(what): \(reason)" : "\(what) \(source): \(reason)" }
}

/// A client whose TLS handshake did not complete: its connection was closed, nothing else was disturbed.
public struct TLSHandshakeError: Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// The handshake failed: not TLS, a protocol the server refuses, or the client rejected the certificate.
        case failed
        /// The handshake was not complete within `TLSOptions.handshakeTimeout`.
        case timeout
        /// The client closed its connection in the middle of the handshake.
        case closed
    }

    public let kind: Kind
    /// OpenSSL's reason ("wrong version number", "tlsv1 alert unknown ca", "http request"), or what happened.
    public let reason: String
    /// The client's address (`127.0.0.1`), "" when unknown.
    public let remoteAddress: String

    public var description: String { "TLS handshake \(kind.rawValue) (\(remoteAddress)): \(reason)" }
}

/// A TLS server configuration shared by listeners on every loop: the certificates (OpenSSL `SSL_CTX`s), replaced
/// as a whole by `reload`. Each new connection takes the current certificates; connections made before a reload
/// keep theirs. Thread-safe.
public final class TLSContext: @unchecked Sendable {
    private let lock = Lock()
    private var options: TLSOptions
    private var current: TLSCredentials
    private var errorHandler: ((TLSHandshakeError) -> Void)?
    private var reloads = 0
    private static let log = Logger("tls")

    /// Reads and checks the certificates now. Throws a `TLSError` naming the file and OpenSSL's reason.
    public init(_ options: TLSOptions) throws {
        self.options = options
        current = try TLSCredentials(options)
    }

    /// Reads the same files again (a renewed certificate) and serves them to new connections. On error the old
    /// certificates stay in use. Any thread.
    public func reload() throws {
        try reload(lock.withLock { options })
    }

    /// Serves other certificates to new connections (connections already made keep theirs). Any thread.
    public func reload(_ options: TLSOptions) throws {
        let credentials = try TLSCredentials(options)
        lock.withLock {
            self.options = options
            current = credentials
            reloads += 1
        }
        Self.log.info("certificates reloaded (\(options.certificates.count))")
    }

    /// How many reloads succeeded.
    public var reloadCount: Int { lock.withLock { reloads } }

    /// Called for every client whose handshake failed, timed out or was abandoned (after some bytes: a bare TCP
    /// probe is not reported), on the loop of its connection: with several loops, concurrently. Node's
    /// `tlsClientError`. Any thread.
    public var onHandshakeError: ((TLSHandshakeError) -> Void)? {
        get { lock.withLock { errorHandler } }
        set { lock.withLock { errorHandler = newValue } }
    }

    /// A server-side session with the current certificates, for a connection just accepted; nil when OpenSSL is
    /// out of memory.
    func makeSession() -> TLSSession? {
        TLSSession(credentials: lock.withLock { current }, context: self)
    }

    func report(_ error: TLSHandshakeError) {
        Self.log.debug("\(error)")
        lock.withLock { errorHandler }?(error)
    }
}

/// One generation of certificates: an `SSL_CTX` per certificate (the first is the default; the server-name
/// callback moves a handshake to another by SNI). Immutable once made; sessions retain it, since the callback's
/// argument points here.
final class TLSCredentials {
    /// `SSL_CTX` pointers, in the order of `TLSOptions.certificates`.
    let contexts: [OpaquePointer]
    let handshakeTimeout: UInt64
    let engineRecordLayer: Bool

    init(_ options: TLSOptions) throws {
        guard !options.certificates.isEmpty else {
            throw TLSError(what: "TLS options", source: "", reason: "no certificate given")
        }
        handshakeTimeout = max(options.handshakeTimeout, 1)
        engineRecordLayer = options.recordLayer == .engine
        var made: [OpaquePointer] = []
        do {
            for certificate in options.certificates { made.append(try Self.makeContext(certificate)) }
        } catch {
            for context in made { SSL_CTX_free(context) }
            throw error
        }
        contexts = made
        if engineRecordLayer {
            for context in made { SSL_CTX_set_keylog_callback(context, keyLogCallback) }
        }
        if made.count > 1 {
            let me = Unmanaged.passUnretained(self).toOpaque()
            for context in made { sio_ssl_ctx_set_servername_callback(context, serverNameCallback, me) }
        }
    }

    deinit {
        for context in contexts { SSL_CTX_free(context) }
    }

    /// The context whose certificate covers `name`, else the default.
    func context(forServerName name: UnsafePointer<CChar>) -> OpaquePointer {
        for context in contexts {
            if let certificate = SSL_CTX_get0_certificate(context), X509_check_host(certificate, name, 0, 0, nil) == 1 {
                return context
            }
        }
        return contexts[0]
    }

    private static func makeContext(_ certificate: TLSCertificate) throws -> OpaquePointer {
        let chainText = try certificate.chain.read("TLS certificate")
        let keyText = try certificate.privateKey.read("TLS private key")
        ERR_clear_error()
        guard let context = SSL_CTX_new(TLS_server_method()) else {
            throw TLSError(what: "TLS options", source: "", reason: "SSL_CTX_new: " + openSSLErrors())
        }
        do {
            guard sio_ssl_ctx_configure(context) == 1 else {
                throw TLSError(what: "TLS options", source: "", reason: openSSLErrors())
            }
            sio_ssl_ctx_set_alpn_http11(context)
            try useChain(chainText, source: certificate.chain.label, in: context)
            try useKey(keyText, password: certificate.password, source: certificate.privateKey.label,
                       certificate: certificate.chain.label, in: context)
            ERR_clear_error()
            guard SSL_CTX_check_private_key(context) == 1 else {
                throw TLSError(what: "TLS private key", source: certificate.privateKey.label,
                               reason: "does not match the certificate in \(certificate.chain.label) ("
                                   + openSSLErrors() + ")")
            }
            if let leaf = SSL_CTX_get0_certificate(context), let notAfter = X509_get0_notAfter(leaf),
               X509_cmp_current_time(notAfter) <= 0 {
                TLSContext.logExpired(certificate.chain.label)
            }
            return context
        } catch {
            SSL_CTX_free(context)
            throw error
        }
    }

    private static func useChain(_ text: [UInt8], source: String, in context: OpaquePointer) throws {
        try withMemoryBIO(text) { bio in
            ERR_clear_error()
            guard let leaf = PEM_read_bio_X509_AUX(bio, nil, nil, nil) else {
                throw TLSError(what: "TLS certificate", source: source, reason: "no certificate (" + openSSLErrors() + ")")
            }
            defer { X509_free(leaf) }
            guard SSL_CTX_use_certificate(context, leaf) == 1 else {
                throw TLSError(what: "TLS certificate", source: source, reason: openSSLErrors())
            }
            while true {
                ERR_clear_error()
                guard let next = PEM_read_bio_X509(bio, nil, nil, nil) else {
                    // The end of the text reads as "no start line"; anything else is a broken certificate.
                    let code = ERR_peek_last_error()
                    if code != 0, ERR_GET_REASON(code) != PEM_R_NO_START_LINE {
                        throw TLSError(what: "TLS certificate", source: source,
                                       reason: "a chain certificate cannot be read (" + openSSLErrors() + ")")
                    }
                    ERR_clear_error()
                    return
                }
                guard sio_ssl_ctx_add0_chain_cert(context, next) == 1 else {
                    X509_free(next)
                    throw TLSError(what: "TLS certificate", source: source, reason: openSSLErrors())
                }
            }
        }
    }

    private static func useKey(_ text: [UInt8], password: String?, source: String, certificate: String,
                               in context: OpaquePointer) throws {
        try withMemoryBIO(text) { bio in
            ERR_clear_error()
            // Never OpenSSL's default password callback: it would prompt on the terminal.
            let key: OpaquePointer? = if let password {
                password.withCString { PEM_read_bio_PrivateKey(bio, nil, passwordCallback, UnsafeMutableRawPointer(mutating: $0)) }
            } else {
                PEM_read_bio_PrivateKey(bio, nil, passwordCallback, nil)
            }
            guard let key else {
                let reasons = openSSLErrors()
                let reason = if password == nil, reasons.contains("passphrase") {
                    "the key is encrypted and no password was given (\(reasons))"
                } else if reasons.contains("decrypt") {
                    "wrong password (\(reasons))"
                } else {
                    "no private key could be read (\(reasons))"
                }
                throw TLSError(what: "TLS private key", source: source, reason: reason)
            }
            defer { EVP_PKEY_free(key) }
            guard SSL_CTX_use_PrivateKey(context, key) == 1 else {
                throw TLSError(what: "TLS private key", source: source,
                               reason: "does not match the certificate in \(certificate) (" + openSSLErrors() + ")")
            }
        }
    }

    private static func withMemoryBIO<T>(_ bytes: [UInt8], _ body: (OpaquePointer) throws -> T) throws -> T {
        try bytes.withUnsafeBytes { raw in
            guard let bio = BIO_new_mem_buf(raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(raw.count)) else {
                throw TLSError(what: "TLS options", source: "", reason: "out of memory")
            }
            defer { BIO_free(bio) }
            return try body(bio)
        }
    }
}

extension TLSContext {
    /// Logged as an error (seen at the default level) though the server still starts: clients will refuse it.
    static func logExpired(_ source: String) {
        log.error("the certificate in \(source) has expired: clients will refuse it")
    }
}

/// PEM password callback: copies the password `user` points to (a C string), or refuses (-1) when there is none.
private let passwordCallback: @convention(c) (UnsafeMutablePointer<CChar>?, Int32, Int32, UnsafeMutableRawPointer?) -> Int32 = {
    buffer, size, _, user in
    guard let buffer, let user else { return -1 }
    let password = user.assumingMemoryBound(to: CChar.self)
    let length = Int32(strlen(password))
    guard length <= size else { return -1 }
    memcpy(buffer, password, Int(length))
    return length
}

/// SNI: moves the handshake to the context whose certificate covers the requested host name.
private let serverNameCallback: @convention(c) (OpaquePointer?, UnsafeMutablePointer<Int32>?, UnsafeMutableRawPointer?) -> Int32 = {
    ssl, _, argument in
    guard let ssl, let argument, let name = SSL_get_servername(ssl, Int32(TLSEXT_NAMETYPE_host_name)) else {
        return SSL_TLSEXT_ERR_OK
    }
    let credentials = Unmanaged<TLSCredentials>.fromOpaque(argument).takeUnretainedValue()
    let chosen = credentials.context(forServerName: name)
    if chosen != SSL_get_SSL_CTX(ssl) { SSL_set_SSL_CTX(ssl, chosen) }
    return SSL_TLSEXT_ERR_OK
}

/// Everything in this thread's OpenSSL error queue, oldest first, as reasons ("no start line: PEM lib"); the
/// queue is emptied.
func openSSLErrors() -> String {
    var reasons: [String] = []
    while true {
        let code = ERR_get_error()
        if code == 0 { break }
        let text: String
        if let reason = ERR_reason_error_string(code) {
            text = String(cString: reason)
        } else {
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            text = String(cString: buffer)
        }
        if !reasons.contains(text) { reasons.append(text) }
    }
    return reasons.isEmpty ? "unknown OpenSSL error" : reasons.joined(separator: ": ")
}

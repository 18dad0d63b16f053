import COpenSSL
import Testing
@testable import SIOLoop
#if canImport(Glibc)
import Glibc
#endif

/// A self-signed certificate for localhost (EC P-256, valid until 2126), for these tests only.
private let certificatePEM = """
    -----BEGIN CERTIFICATE-----
    MIIBmjCCAUGgAwIBAgIUSDTnVzxROBlcrXlvp0ynfooq4DMwCgYIKoZIzj0EAwIw
    FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTIwMjAxMDY1MVoYDzIxMjYxMTA4
    MDEwNjUxWjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
    PQMBBwNCAAQdqMJ27xtrIVtNTd/u3Wp1LVqJYqC20COLx+CV87Th4vjJa+NB8l/9
    xBx4iuNGPKQyFhZZ3cQNuTy/SK0puQ8Ro28wbTAdBgNVHQ4EFgQUqeLVQIc4nY7d
    ZhUZoPxCbWmcNoAwHwYDVR0jBBgwFoAUqeLVQIc4nY7dZhUZoPxCbWmcNoAwDwYD
    VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARgglsb2NhbGhvc3SHBH8AAAEwCgYIKoZI
    zj0EAwIDRwAwRAIgf2xWK8ZbXX1K43ye5U0iLoC9qVGwZRoRYalv0RHaZ4QCIE4y
    GeC9b+vzrmcIV9r9tlLA+NJMc2h5uiYMkyXgoCHa
    -----END CERTIFICATE-----
    """
private let keyPEM = """
    -----BEGIN PRIVATE KEY-----
    MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgrgBECC5y2fd31wh4
    xmc6xqQVk3xeVdZ+2O7BbpitqQmhRANCAAQdqMJ27xtrIVtNTd/u3Wp1LVqJYqC2
    0COLx+CV87Th4vjJa+NB8l/9xBx4iuNGPKQyFhZZ3cQNuTy/SK0puQ8R
    -----END PRIVATE KEY-----
    """

private final class Echo: ConnectionHandler {
    let mark: UInt8
    var secured = 0
    init(mark: UInt8) { self.mark = mark }
    func connectionDidRead(_ connection: TCPConnection, _ bytes: UnsafeRawBufferPointer) {
        connection.write([mark] + Array(bytes))
    }
    func connectionDidClose(_ connection: TCPConnection) {}
    func connectionDidSecure(_ connection: TCPConnection) { secured += 1 }
}

/// A blocking TLS client (OpenSSL on a socket) that does not check the certificate.
private final class Client {
    let fd: Int32
    let context: OpaquePointer
    let ssl: OpaquePointer

    init(port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        precondition(rc == 0, "connect failed")
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        context = SSL_CTX_new(TLS_client_method())!
        ssl = SSL_new(context)!
        SSL_set_fd(ssl, fd)
    }

    deinit {
        SSL_free(ssl)
        SSL_CTX_free(context)
        close(fd)
    }

    func handshake() -> Bool { SSL_connect(ssl) == 1 }

    /// A TLS 1.3 KeyUpdate asking the server to update its keys too (sent with the next write).
    func requestKeyUpdate() -> Bool { SSL_key_update(ssl, SSL_KEY_UPDATE_REQUESTED) == 1 }

    /// A KeyUpdate of the client's own keys only, sent at once.
    func updateKeys() -> Bool { SSL_key_update(ssl, SSL_KEY_UPDATE_NOT_REQUESTED) == 1 && SSL_do_handshake(ssl) == 1 }

    func roundTrip(_ text: String) -> [UInt8] {
        let bytes = Array(text.utf8)
        guard SSL_write(ssl, bytes, Int32(bytes.count)) == Int32(bytes.count) else { return [] }
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = SSL_read(ssl, &buffer, Int32(buffer.count))
        return count > 0 ? Array(buffer[..<Int(count)]) : []
    }
}

@Suite struct TLSTests {
    private func context(timeout: UInt64 = 10_000, recordLayer: TLSOptions.RecordLayer = .engine) throws -> TLSContext {
        var options = TLSOptions(certificate: TLSCertificate(chain: .text(certificatePEM), privateKey: .text(keyPEM)),
                                 handshakeTimeout: timeout)
        options.recordLayer = recordLayer
        return try TLSContext(options)
    }

    @Test(arguments: [TLSOptions.RecordLayer.engine, .openSSL])
    func aTLSConnectionMovesToAnotherLoopWithItsSession(recordLayer: TLSOptions.RecordLayer) throws {
        let tls = try context(recordLayer: recordLayer)
        let accepting = try EventLoop()
        let adopting = try EventLoop()
        accepting.addCompanion(adopting)
        let echo0 = Echo(mark: UInt8(ascii: "0"))
        let echo1 = Echo(mark: UInt8(ascii: "1"))
        var listener: TCPListener?
        listener = try TCPListener(loop: accepting, host: "127.0.0.1", port: 0) { tcp in
            tcp.secure(with: tls)
            tcp.handler = echo0
            tcp.startReading()
        }
        let port = listener!.port
        try accepting.startThread()
        let client = Client(port: port)
        #expect(client.handshake())
        #expect(client.roundTrip("a") == Array("0a".utf8))

        // Move the connection, mid-session, to the other loop: the same TLS session goes on there.
        accepting.execute {
            for connection in accepting.openConnections {
                #expect(connection.isSecure && !connection.isHandshaking)
                #expect(connection.tls?.usesEngineRecordLayer == (recordLayer == .engine))
                #expect(connection.tls?.protocolVersion == "TLSv1.3")
                connection.detachDescriptor { detached in
                    guard let detached else { return }
                    #expect(detached.tls != nil)
                    adopting.execute {
                        let moved = TCPConnection.adopt(detached, loop: adopting)
                        moved?.handler = echo1
                        moved?.startReading()
                    }
                }
            }
        }
        usleep(100_000)
        #expect(client.roundTrip("b") == Array("1b".utf8))
        #expect(client.roundTrip(String(repeating: "c", count: 200)) == Array(("1" + String(repeating: "c", count: 200)).utf8))
        #expect(echo0.secured == 1 && echo1.secured == 0)
        // KeyUpdate (TLS 1.3), asking the server to update its keys too: both directions change keys.
        #expect(client.requestKeyUpdate())
        #expect(client.roundTrip("d") == Array("1d".utf8))
        #expect(client.requestKeyUpdate())
        #expect(client.roundTrip("e") == Array("1e".utf8))
        accepting.execute { listener?.close() }
        accepting.stop()
        accepting.join()
    }

    @Test func keyUpdatesWithOpenSSLAsTheClient() throws {
        // The engine's record layer updates a worn write key (every 2 records here) and OpenSSL's client follows;
        // 32 client KeyUpdates in a row pass, the 33rd ends the connection (as OpenSSL's own limit).
        let tls = try context()
        let loop = try EventLoop()
        var listener: TCPListener?
        listener = try TCPListener(loop: loop, host: "127.0.0.1", port: 0) { tcp in
            tcp.secure(with: tls)
            tcp.handler = Echo(mark: UInt8(ascii: "="))
            tcp.startReading()
        }
        let port = listener!.port
        try loop.startThread()
        let saved = TLSRecordLayer.writeRecordsPerKey
        TLSRecordLayer.writeRecordsPerKey = 2
        defer { TLSRecordLayer.writeRecordsPerKey = saved }
        let client = Client(port: port)
        #expect(client.handshake())
        for index in 0..<7 { #expect(client.roundTrip("\(index)") == Array("=\(index)".utf8)) }
        for _ in 0..<TLSRecordLayer.maxIdleRecords { #expect(client.updateKeys()) }
        #expect(client.roundTrip("a") == Array("=a".utf8))
        for _ in 0...TLSRecordLayer.maxIdleRecords { #expect(client.updateKeys()) }
        #expect(client.roundTrip("b").isEmpty)  // closed
        loop.execute { listener?.close() }
        loop.stop()
        loop.join()
    }

    @Test func aStalledHandshakeIsCutAndReported() throws {
        let tls = try context(timeout: 200)
        let reports = Lock()
        var kinds: [TLSHandshakeError.Kind] = []
        tls.onHandshakeError = { error in reports.withLock { kinds.append(error.kind) } }
        let loop = try EventLoop()
        var listener: TCPListener?
        listener = try TCPListener(loop: loop, host: "127.0.0.1", port: 0) { tcp in
            tcp.secure(with: tls)
            tcp.handler = Echo(mark: 0)
            tcp.startReading()
        }
        let port = listener!.port
        try loop.startThread()
        let silent = Client(port: port)  // connects, never says a word
        _ = send(silent.fd, "\u{16}\u{03}", 2, 0)
        var byte: UInt8 = 0
        #expect(recv(silent.fd, &byte, 1, 0) == 0)  // closed by the server after 200 ms (the socket waits 5 s)
        usleep(50_000)
        reports.withLock { #expect(kinds == [.timeout]) }
        loop.execute { listener?.close() }
        loop.stop()
        loop.join()
    }

    @Test func badPEMIsRefusedWithItsReason() {
        #expect(throws: TLSError.self) {
            _ = try TLSContext(TLSOptions(certificate: TLSCertificate(chain: .text("garbage"), privateKey: .text(keyPEM))))
        }
        do {
            _ = try TLSContext(TLSOptions(certificate: TLSCertificate(chain: .text(certificatePEM), privateKey: .text("x"))))
            Issue.record("accepted a garbage key")
        } catch let error as TLSError {
            #expect(error.what == "TLS private key" && error.source == "PEM bytes")
        } catch {
            Issue.record("unexpected \(error)")
        }
        #expect(throws: TLSError.self) { _ = try TLSContext(TLSOptions(certificates: [])) }
    }

    @Test func reloadReplacesTheCertificates() throws {
        let tls = try context()
        #expect(tls.reloadCount == 0)
        try tls.reload()
        #expect(tls.reloadCount == 1)
        #expect(throws: TLSError.self) {
            try tls.reload(TLSOptions(certificate: TLSCertificate(chain: .text(certificatePEM), privateKey: .text("x"))))
        }
        #expect(tls.reloadCount == 1)
    }
}

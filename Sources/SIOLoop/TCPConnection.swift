import CLibUV
#if canImport(Glibc)
import Glibc
#endif

/// What a protocol layer (HTTP, WebSocket) does with one connection's bytes. Called on the loop thread.
public protocol ConnectionHandler: AnyObject {
    /// Bytes just read. They live in the loop-wide read buffer: valid only during this call, copy what you keep.
    func connectionDidRead(_ connection: TCPConnection, _ bytes: UnsafeRawBufferPointer)
    /// The connection is closed (by either side). Called exactly once; the handler is released afterwards.
    func connectionDidClose(_ connection: TCPConnection)
    /// A TLS connection completed its handshake (reads reach the handler from now on). Optional.
    func connectionDidSecure(_ connection: TCPConnection)
}

extension ConnectionHandler {
    public func connectionDidSecure(_ connection: TCPConnection) {}
}

/// A socket given away by one loop for another to adopt (`TCPConnection.detachDescriptor`): the descriptor, owned
/// by whoever holds this until `TCPConnection.adopt`, and the TLS session of a TLS connection, which moves with it
/// (an OpenSSL `SSL` may change threads while nobody uses it). Crosses threads.
public struct DetachedConnection: @unchecked Sendable {
    public let descriptor: Int32
    public let tls: TLSSession?

    public init(descriptor: Int32, tls: TLSSession? = nil) {
        self.descriptor = descriptor
        self.tls = tls
    }

    /// Closes the descriptor (the session, if any, is freed with the last reference). For a transfer that failed.
    public func discard() {
        Glibc.close(descriptor)
    }
}

/// One accepted TCP connection.
///
/// Output is queued and written once per loop turn as one `uv_write` of many buffers; buffers are shared byte
/// arrays, so a broadcast frame encoded once is referenced, not copied, by every recipient's queue. The handle keeps
/// the connection alive until libuv's close callback, where everything is released.
///
/// A TLS connection (`secure(with:)`) has a `TLSSession` underneath the handler: reads are decrypted before the
/// handler sees them (which it does only once the handshake is complete), and what was queued in a turn is
/// encrypted when flushed, small buffers gathered into few records. The layers above see plain bytes.
public final class TCPConnection {
    public unowned let loop: EventLoop
    let handle: UnsafeMutablePointer<uv_tcp_t>
    public var handler: (any ConnectionHandler)?
    /// The TLS session of a TLS connection (nil for plain TCP).
    public private(set) var tls: TLSSession?

    @exclusivity(unchecked) private var pending: [[UInt8]] = []
    /// Bytes queued this turn, not yet handed to the kernel.
    public private(set) var pendingBytes = 0
    /// Bytes handed to `uv_write` and not yet confirmed written.
    public private(set) var inFlightBytes = 0

    /// Links of the loop's list of open connections.
    unowned(unsafe) var previousInLoop: TCPConnection?
    unowned(unsafe) var nextInLoop: TCPConnection?

    private enum State { case open, closing, closed }
    // The one-byte fields together, after the words: a Bool between two words costs a word of padding, and the
    // object's size decides its malloc size class (16-byte steps) for every connection.
    private var state = State.open
    private var reading = false
    private var queuedForFlush = false
    /// Set while the connection drains its output before moving to another loop (`detachDescriptor`); what to do
    /// then is kept by the loop, so an idle connection pays one flag, not a closure.
    private var isDetaching = false

    init(loop: EventLoop, handle: UnsafeMutablePointer<uv_tcp_t>) {
        self.loop = loop
        self.handle = handle
        // Retained by the handle; released in the close callback.
        handle.pointee.data = Unmanaged.passRetained(self).toOpaque()
        uv_tcp_nodelay(handle, 1)
        loop.link(self)
    }

    deinit {
        handle.deallocate()
    }

    /// A connection on `loop` for a socket another loop handed over (`detachDescriptor`), with its TLS session if
    /// it had one. Loop thread only. On failure the descriptor is closed and nil returned.
    public static func adopt(_ detached: DetachedConnection, loop: EventLoop) -> TCPConnection? {
        let handle = UnsafeMutablePointer<uv_tcp_t>.allocate(capacity: 1)
        uv_tcp_init(loop.uvLoop, handle)
        guard uv_tcp_open(handle, uv_os_sock_t(detached.descriptor)) == 0 else {
            Glibc.close(detached.descriptor)
            uv_close(handlePointer(handle)) { $0!.deallocate() }
            return nil
        }
        let connection = TCPConnection(loop: loop, handle: handle)
        if let session = detached.tls { connection.attach(session) }
        return connection
    }

    /// Makes this connection the server side of a TLS connection with `context`'s current certificates, before
    /// reading starts. The handshake must complete within the context's timeout, or the connection is closed (and
    /// reported to `context.onHandshakeError`). False, with the connection closed, when OpenSSL is out of memory.
    /// Loop thread only.
    @discardableResult
    public func secure(with context: TLSContext) -> Bool {
        guard tls == nil else { return true }
        guard let session = context.makeSession() else {
            close(afterFlush: false)
            return false
        }
        attach(session)
        return true
    }

    private func attach(_ session: TLSSession) {
        tls = session
        session.connection = self
        if !session.isEstablished { loop.schedule(session, afterMilliseconds: session.handshakeTimeout) }
    }

    /// Takes the session away (the connection is moving to another loop).
    private func detachSession() -> TLSSession? {
        guard let session = tls else { return nil }
        loop.cancelTimer(session)
        session.connection = nil
        tls = nil
        return session
    }

    /// True for a TLS connection.
    public var isSecure: Bool { tls != nil }
    /// True while a TLS connection's handshake is not complete.
    public var isHandshaking: Bool { tls.map { !$0.isEstablished } ?? false }

    /// Gives the socket away so another loop can adopt it: reading stops, output already queued is written, then
    /// `done` gets a duplicate of the descriptor (owned by the caller) with the TLS session, and this connection
    /// closes without telling its handler. `done` gets nil if the connection closed first. Loop thread only.
    public func detachDescriptor(_ done: @escaping (DetachedConnection?) -> Void) {
        guard state == .open, !isDetaching else {
            done(nil)
            return
        }
        stopReading()
        handler = nil
        isDetaching = true
        loop.detachments[ObjectIdentifier(self)] = done
        flush()
        finishDetachingIfDrained()
    }

    private func finishDetachingIfDrained() {
        // A TLS session in the middle of a read finishes it first (it keeps what it did not process).
        guard isDetaching, pending.isEmpty, inFlightBytes == 0, tls?.output.isEmpty ?? true, tls?.isReceiving != true,
              let done = loop.detachments.removeValue(forKey: ObjectIdentifier(self)) else { return }
        isDetaching = false
        var fd: uv_os_fd_t = -1
        let copy = uv_fileno(handlePointer(handle), &fd) == 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1
        let session = detachSession()
        closeHandle()
        done(copy >= 0 ? DetachedConnection(descriptor: copy, tls: session) : nil)
    }

    @inline(__always) static func from(_ data: UnsafeMutableRawPointer?) -> TCPConnection {
        Unmanaged<TCPConnection>.fromOpaque(data!).takeUnretainedValue()
    }

    /// Everything queued or in flight in this process (what the kernel has not taken yet).
    public var bufferedBytes: Int { pendingBytes + inFlightBytes }

    /// Everything written toward the peer that it has not acknowledged: `bufferedBytes` plus what the kernel holds
    /// (unsent or unacknowledged, as of the last probe). Upper layers bound this: a peer that stops reading fills
    /// the kernel's send buffer first (autotuned up to `tcp_wmem`'s 4 MB on Linux), and only counting it finds that
    /// peer within the limit rather than seconds later.
    public var undeliveredBytes: Int { bufferedBytes + kernelUndeliveredBytes }

    /// True when more than `limit` bytes are undelivered. A probe may be old (a peer that caught up since), so a
    /// yes is checked with a fresh one first: only the peer that really is behind is told so.
    public func hasUndelivered(moreThan limit: Int) -> Bool {
        guard undeliveredBytes > limit else { return false }
        if kernelUndeliveredBytes > 0 { probeKernelQueue() }
        return undeliveredBytes > limit
    }

    /// The kernel's share of `undeliveredBytes`, probed every `kernelProbeInterval` bytes written (one ioctl per
    /// 64 KB, not per write) and whenever the kernel refuses bytes.
    public private(set) var kernelUndeliveredBytes = 0
    private var writtenSinceProbe = 0
    static let kernelProbeInterval = 64 * 1024
    public var isOpen: Bool { state == .open }

    // MARK: Reading

    public func startReading() {
        guard state == .open else { return }
        if let tls, !tls.leftover.isEmpty {
            // Records a read could not hand over (the connection had no handler then, or moved here from another
            // loop) come first, once the caller has finished starting.
            loop.atEndOfTurn { [self] in receiveLeftover() }
        }
        guard !reading else { return }
        reading = true
        uv_read_start(streamPointer(handle), { handle, _, buf in
            let loop = EventLoop.from(handle!.pointee.loop.pointee.data)
            buf!.pointee = uv_buf_init(loop.readBuffer.assumingMemoryBound(to: CChar.self),
                                       UInt32(EventLoop.readBufferSize))
        }, { stream, nread, buf in
            let connection = TCPConnection.from(stream!.pointee.data)
            if nread > 0 {
                let bytes = UnsafeRawBufferPointer(start: buf!.pointee.base, count: nread)
                if let tls = connection.tls {
                    if tls.leftover.isEmpty {
                        connection.receive(tls, bytes)
                    } else {
                        // Ciphertext kept from before goes first.
                        let all = tls.leftover + Array(bytes)
                        tls.leftover = []
                        all.withUnsafeBytes { connection.receive(tls, $0) }
                    }
                } else {
                    connection.handler?.connectionDidRead(connection, bytes)
                }
            } else if nread < 0 {
                if let tls = connection.tls, !tls.isEstablished, tls.sawBytes {
                    connection.reportHandshakeError(.closed, "the client closed the connection during the handshake")
                }
                connection.close(afterFlush: false)
            }
        })
    }

    public func stopReading() {
        guard reading else { return }
        reading = false
        uv_read_stop(streamPointer(handle))
    }

    // MARK: TLS

    /// Ciphertext in: the handshake first, then every complete record decrypted into the loop's TLS buffer and
    /// handed to the handler, until OpenSSL has taken every byte. A connection that stops mid-way to move to another
    /// loop keeps the rest in its session (`leftover`). What OpenSSL wrote goes out this turn.
    private func receive(_ tls: TLSSession, _ bytes: UnsafeRawBufferPointer) {
        tls.lend(bytes)
        tls.isReceiving = true
        var keep = false
        defer {
            tls.endLoan(keep: keep)
            tls.isReceiving = false
            if tls.leftover.count > TCPConnection.maxTLSLeftover {
                // Still reading with nobody to hand records to (an upgrade handler that neither took the
                // connection nor closed it): bounded, like every buffer a peer can fill.
                TCPConnection.tlsLog.debug("closing \(remoteAddress): \(tls.leftover.count) bytes kept unread")
                close(afterFlush: false)
            }
            if !tls.output.isEmpty { scheduleFlush() }
            if isDetaching { finishDetachingIfDrained() }
        }
        if !tls.isEstablished {
            switch tls.handshake() {
            case .done:
                loop.cancelTimer(tls)
                handler?.connectionDidSecure(self)
            case .wantMore:
                return
            case .closed:
                reportHandshakeError(.closed, "the client closed the TLS session during the handshake")
                close(afterFlush: true)
                return
            case .failed(let reason, let plainHTTP):
                reportHandshakeError(.failed, reason)
                if plainHTTP {
                    // Plain HTTP sent to the TLS port: answer it in plain HTTP, as Go's and nginx's servers do.
                    tls.output = TCPConnection.plainHTTPRefusal
                }
                close(afterFlush: true)
                return
            }
        }
        let buffer = loop.tlsReadBuffer
        while state == .open, tls.hasMoreToRead {
            guard let handler, !isDetaching else {
                keep = true
                return
            }
            switch tls.read(into: buffer, capacity: EventLoop.tlsBufferSize) {
            case .done(let count):
                handler.connectionDidRead(self, UnsafeRawBufferPointer(start: buffer, count: count))
            case .wantMore:
                return
            case .closed:
                close(afterFlush: false)
                return
            case .failed(let reason, _):
                TCPConnection.tlsLog.debug("closing \(remoteAddress): \(reason)")
                close(afterFlush: false)
                return
            }
        }
    }

    private func receiveLeftover() {
        guard state == .open, let tls, !tls.leftover.isEmpty, !tls.isReceiving else { return }
        let bytes = tls.leftover
        tls.leftover = []
        bytes.withUnsafeBytes { receive(tls, $0) }
    }

    func tlsHandshakeTimedOut() {
        guard state == .open, let tls, !tls.isEstablished else { return }
        reportHandshakeError(.timeout, tls.sawBytes ? "the handshake did not complete in time"
                                                    : "no ClientHello in time")
        close(afterFlush: false)
    }

    fileprivate func reportHandshakeError(_ kind: TLSHandshakeError.Kind, _ reason: String) {
        guard let tls else { return }
        tls.context.report(TLSHandshakeError(kind: kind, reason: reason, remoteAddress: remoteAddress))
    }

    private static let tlsLog = Logger("tls")
    /// Most ciphertext a TLS connection keeps for later: a few reads' worth (a connection moving to another loop
    /// stops reading, so it keeps one read or two).
    static let maxTLSLeftover = 4 * EventLoop.readBufferSize

    private static let plainHTTPRefusal: [UInt8] = {
        let body = "This port speaks HTTPS: the request was sent in plain HTTP.\n"
        return Array(("HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\n"
            + "Connection: close\r\n\r\n" + body).utf8)
    }()

    private func scheduleFlush() {
        if !queuedForFlush {
            queuedForFlush = true
            loop.enqueueFlush(self)
        }
    }

    // MARK: Writing

    /// Queues bytes; they go out with everything else queued this turn. Ignored once closing.
    public func write(_ bytes: [UInt8]) {
        guard state == .open, !bytes.isEmpty else { return }
        pending.append(bytes)
        pendingBytes += bytes.count
        scheduleFlush()
    }

    /// Hands everything queued to the kernel (a TLS connection encrypts it first, once its handshake is complete;
    /// a closing one adds close_notify).
    func flush() {
        queuedForFlush = false
        guard state != .closed else { return }
        // One write request at a time while open: what comes meanwhile waits here and goes out, all together, when
        // it completes. A reader that stopped reading then costs an append per frame, not a write request per turn
        // (and closing it frees one request, not thousands). Closing sends at once, before the FIN.
        if inFlightBytes > 0, state == .open { return }
        if let tls {
            if tls.isEstablished, !pending.isEmpty {
                let sealed = tls.seal(pending, byteCount: pendingBytes, scratch: loop.tlsSealBuffer,
                                      scratchSize: EventLoop.tlsBufferSize)
                pending.removeAll()
                pendingBytes = 0
                guard sealed else {
                    close(afterFlush: false)
                    return
                }
            }
            if state == .closing { tls.shutdown() }
            guard !tls.output.isEmpty else { return }
            var buffers = [tls.takeOutput()]
            send(&buffers, byteCount: buffers[0].count)
        } else {
            guard !pending.isEmpty else { return }
            var buffers = pending
            let byteCount = pendingBytes
            pending = []
            pendingBytes = 0
            send(&buffers, byteCount: byteCount)
        }
    }

    /// Writes `buffers`. When libuv has nothing in flight for this connection, a synchronous `uv_try_write` goes
    /// first: the common case (a few small frames to a reader that keeps up) then needs no write request at all.
    /// What the kernel did not take goes out with one `uv_write` of the remaining buffers.
    private func send(_ buffers: inout [[UInt8]], byteCount: Int) {
        var byteCount = byteCount
        if inFlightBytes == 0 {
            let written = tryWrite(buffers)
            if written < 0 {
                close(afterFlush: false)
                return
            }
            writtenSinceProbe += written
            if writtenSinceProbe >= Self.kernelProbeInterval || written < byteCount { probeKernelQueue() }
            if written == byteCount { return }
            dropWritten(written, from: &buffers)
            byteCount -= written
        }
        let request = WriteRequest(buffers: buffers, byteCount: byteCount, connection: self)
        buffers = []
        inFlightBytes += byteCount
        let rc = uv_write(request.request, streamPointer(handle), request.bufs, UInt32(request.buffers.count)) { req, status in
            let request = Unmanaged<WriteRequest>.fromOpaque(req!.pointee.data!).takeRetainedValue()
            request.connection.writeCompleted(byteCount: request.byteCount, status: status)
        }
        if rc != 0 {
            Unmanaged<WriteRequest>.fromOpaque(request.request.pointee.data!).release()
            inFlightBytes -= request.byteCount
            close(afterFlush: false)
        }
    }

    /// Bytes the kernel took right away (0 when it would block), or a negative libuv error.
    private func tryWrite(_ buffers: [[UInt8]]) -> Int {
        let count = buffers.count
        return withUnsafeTemporaryAllocation(of: uv_buf_t.self, capacity: count) { bufs in
            for index in 0..<count {
                let buffer = buffers[index]
                let base = buffer.withUnsafeBufferPointer { UnsafeMutableRawPointer(mutating: $0.baseAddress!) }
                bufs[index] = uv_buf_init(base.assumingMemoryBound(to: CChar.self), UInt32(buffer.count))
            }
            let rc = uv_try_write(streamPointer(handle), bufs.baseAddress, UInt32(count))
            if rc == UV_EAGAIN.rawValue || rc == UV_ENOSYS.rawValue { return 0 }
            return Int(rc)
        }
    }

    /// Reads how many written bytes the peer has not acknowledged yet from the kernel (SIOCOUTQ).
    private func probeKernelQueue() {
        writtenSinceProbe = 0
        var fd: uv_os_fd_t = -1
        guard uv_fileno(handlePointer(handle), &fd) == 0 else { return }
        kernelUndeliveredBytes = max(0, Int(sio_socket_unacknowledged_bytes(fd)))
    }

    /// Forgets the first `count` bytes of `buffers` (written by `tryWrite`).
    private func dropWritten(_ count: Int, from buffers: inout [[UInt8]]) {
        var remaining = count
        var index = 0
        while remaining > 0, remaining >= buffers[index].count {
            remaining -= buffers[index].count
            index += 1
        }
        buffers.removeFirst(index)
        if remaining > 0 { buffers[0] = Array(buffers[0][remaining...]) }
    }

    private func writeCompleted(byteCount: Int, status: Int32) {
        inFlightBytes -= byteCount
        if status < 0 {
            close(afterFlush: false)
            return
        }
        if inFlightBytes == 0, state == .open { flush() }  // what waited for this request
        if isDetaching { finishDetachingIfDrained() }
    }

    // MARK: Closing

    /// Closes the connection. With `afterFlush`, queued output is written first and the peer gets a FIN after it.
    public func close(afterFlush: Bool = true) {
        switch state {
        case .closed: return
        case .closing: if afterFlush { return }
        case .open: break
        }
        stopReading()
        if afterFlush {
            state = .closing
            flush()
            let shutdown = UnsafeMutablePointer<uv_shutdown_t>.allocate(capacity: 1)
            shutdown.pointee.data = Unmanaged.passUnretained(self).toOpaque()
            let rc = uv_shutdown(shutdown, streamPointer(handle)) { req, _ in
                let connection = TCPConnection.from(req!.pointee.data)
                req!.deallocate()
                connection.closeHandle()
            }
            if rc != 0 {
                shutdown.deallocate()
                closeHandle()
            }
        } else {
            closeHandle()
        }
    }

    private func closeHandle() {
        guard state != .closed else { return }
        state = .closed
        if isDetaching {
            isDetaching = false
            loop.detachments.removeValue(forKey: ObjectIdentifier(self))?(nil)
        }
        if let tls { loop.cancelTimer(tls) }
        pending.removeAll()
        pendingBytes = 0
        loop.unlink(self)
        guard uv_is_closing(handlePointer(handle)) == 0 else { return }
        uv_close(handlePointer(handle)) { handle in
            let connection = Unmanaged<TCPConnection>.fromOpaque(handle!.pointee.data!).takeRetainedValue()
            let handler = connection.handler
            connection.handler = nil
            handler?.connectionDidClose(connection)
        }
    }

    // MARK: Peer

    /// The peer's address as text (`127.0.0.1`, `::1`), or "" when unknown.
    public var remoteAddress: String {
        var storage = sockaddr_storage()
        var length = Int32(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_tcp_getpeername(handle, $0, &length) }
        }
        guard rc == 0 else { return "" }
        return describe(&storage)
    }
}

/// A `uv_write_t` with the buffers it references, kept alive until libuv reports the write done.
private final class WriteRequest {
    let request: UnsafeMutablePointer<uv_write_t>
    let bufs: UnsafeMutablePointer<uv_buf_t>
    let buffers: [[UInt8]]
    let byteCount: Int
    let connection: TCPConnection

    init(buffers: [[UInt8]], byteCount: Int, connection: TCPConnection) {
        self.buffers = buffers
        self.byteCount = byteCount
        self.connection = connection
        request = .allocate(capacity: 1)
        bufs = .allocate(capacity: buffers.count)
        for (index, buffer) in buffers.enumerated() {
            // Native arrays keep their storage in place while referenced and unmodified, which `buffers` ensures.
            let base = buffer.withUnsafeBufferPointer { UnsafeMutableRawPointer(mutating: $0.baseAddress!) }
            bufs[index] = uv_buf_init(base.assumingMemoryBound(to: CChar.self), UInt32(buffer.count))
        }
        request.pointee.data = Unmanaged.passRetained(self).toOpaque()
    }

    deinit {
        request.deallocate()
        bufs.deallocate()
    }
}

func describe(_ storage: UnsafeMutablePointer<sockaddr_storage>) -> String {
    var text = [CChar](repeating: 0, count: 64)
    let family = Int32(storage.pointee.ss_family)
    let rc: Int32 = storage.withMemoryRebound(to: UInt8.self, capacity: MemoryLayout<sockaddr_storage>.size) { raw in
        if family == AF_INET6 {
            return raw.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { uv_ip6_name($0, &text, text.count) }
        }
        return raw.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { uv_ip4_name($0, &text, text.count) }
    }
    guard rc == 0 else { return "" }
    return String(cString: text)
}

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
}

/// One accepted TCP connection.
///
/// Output is queued and written once per loop turn as one `uv_write` of many buffers; buffers are shared byte
/// arrays, so a broadcast frame encoded once is referenced, not copied, by every recipient's queue. The handle keeps
/// the connection alive until libuv's close callback, where everything is released.
public final class TCPConnection {
    public unowned let loop: EventLoop
    let handle: UnsafeMutablePointer<uv_tcp_t>
    public var handler: (any ConnectionHandler)?

    @exclusivity(unchecked) private var pending: [[UInt8]] = []
    /// Bytes queued this turn, not yet handed to the kernel.
    public private(set) var pendingBytes = 0
    /// Bytes handed to `uv_write` and not yet confirmed written.
    public private(set) var inFlightBytes = 0
    private var queuedForFlush = false

    /// Links of the loop's list of open connections.
    unowned(unsafe) var previousInLoop: TCPConnection?
    unowned(unsafe) var nextInLoop: TCPConnection?

    private enum State { case open, closing, closed }
    private var state = State.open
    private var reading = false
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

    /// A connection on `loop` for a socket another loop handed over (`detachDescriptor`). Loop thread only. On
    /// failure the descriptor is closed and nil returned.
    public static func adopt(descriptor: Int32, loop: EventLoop) -> TCPConnection? {
        let handle = UnsafeMutablePointer<uv_tcp_t>.allocate(capacity: 1)
        uv_tcp_init(loop.uvLoop, handle)
        guard uv_tcp_open(handle, uv_os_sock_t(descriptor)) == 0 else {
            Glibc.close(descriptor)
            uv_close(handlePointer(handle)) { $0!.deallocate() }
            return nil
        }
        return TCPConnection(loop: loop, handle: handle)
    }

    /// Gives the socket away so another loop can adopt it: reading stops, output already queued is written, then
    /// `done` gets a duplicate of the descriptor (owned by the caller) and this connection closes without telling
    /// its handler. `done` gets nil if the connection closed first. Loop thread only.
    public func detachDescriptor(_ done: @escaping (Int32?) -> Void) {
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
        guard isDetaching, pending.isEmpty, inFlightBytes == 0,
              let done = loop.detachments.removeValue(forKey: ObjectIdentifier(self)) else { return }
        isDetaching = false
        var fd: uv_os_fd_t = -1
        let copy = uv_fileno(handlePointer(handle), &fd) == 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1
        closeHandle()
        done(copy >= 0 ? copy : nil)
    }

    @inline(__always) static func from(_ data: UnsafeMutableRawPointer?) -> TCPConnection {
        Unmanaged<TCPConnection>.fromOpaque(data!).takeUnretainedValue()
    }

    /// Everything queued or in flight: what a slow reader costs us. Upper layers bound it.
    public var bufferedBytes: Int { pendingBytes + inFlightBytes }
    public var isOpen: Bool { state == .open }

    // MARK: Reading

    public func startReading() {
        guard state == .open, !reading else { return }
        reading = true
        uv_read_start(streamPointer(handle), { handle, _, buf in
            let loop = EventLoop.from(handle!.pointee.loop.pointee.data)
            buf!.pointee = uv_buf_init(loop.readBuffer.assumingMemoryBound(to: CChar.self),
                                       UInt32(EventLoop.readBufferSize))
        }, { stream, nread, buf in
            let connection = TCPConnection.from(stream!.pointee.data)
            if nread > 0 {
                let bytes = UnsafeRawBufferPointer(start: buf!.pointee.base, count: nread)
                connection.handler?.connectionDidRead(connection, bytes)
            } else if nread < 0 {
                connection.close(afterFlush: false)
            }
        })
    }

    public func stopReading() {
        guard reading else { return }
        reading = false
        uv_read_stop(streamPointer(handle))
    }

    // MARK: Writing

    /// Queues bytes; they go out with everything else queued this turn. Ignored once closing.
    public func write(_ bytes: [UInt8]) {
        guard state == .open, !bytes.isEmpty else { return }
        pending.append(bytes)
        pendingBytes += bytes.count
        if !queuedForFlush {
            queuedForFlush = true
            loop.enqueueFlush(self)
        }
    }

    /// Hands everything queued to the kernel. When libuv has nothing in flight for this connection, a synchronous
    /// `uv_try_write` goes first: the common case (a few small frames to a reader that keeps up) then needs no write
    /// request at all. What the kernel did not take goes out with one `uv_write` of the remaining buffers.
    func flush() {
        queuedForFlush = false
        guard !pending.isEmpty, state != .closed else { return }
        if inFlightBytes == 0 {
            let written = tryWrite()
            if written < 0 {
                close(afterFlush: false)
                return
            }
            if written == pendingBytes {
                pending.removeAll()
                pendingBytes = 0
                return
            }
            dropWritten(written)
        }
        let request = WriteRequest(buffers: pending, byteCount: pendingBytes, connection: self)
        pending.removeAll(keepingCapacity: false)
        inFlightBytes += pendingBytes
        pendingBytes = 0
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
    private func tryWrite() -> Int {
        let count = pending.count
        return withUnsafeTemporaryAllocation(of: uv_buf_t.self, capacity: count) { bufs in
            for index in 0..<count {
                let buffer = pending[index]
                let base = buffer.withUnsafeBufferPointer { UnsafeMutableRawPointer(mutating: $0.baseAddress!) }
                bufs[index] = uv_buf_init(base.assumingMemoryBound(to: CChar.self), UInt32(buffer.count))
            }
            let rc = uv_try_write(streamPointer(handle), bufs.baseAddress, UInt32(count))
            if rc == UV_EAGAIN.rawValue || rc == UV_ENOSYS.rawValue { return 0 }
            return Int(rc)
        }
    }

    /// Forgets the first `count` bytes of the queue (written by `tryWrite`).
    private func dropWritten(_ count: Int) {
        var remaining = count
        var index = 0
        while remaining > 0, remaining >= pending[index].count {
            remaining -= pending[index].count
            index += 1
        }
        pending.removeFirst(index)
        if remaining > 0 { pending[0] = Array(pending[0][remaining...]) }
        pendingBytes -= count
    }

    private func writeCompleted(byteCount: Int, status: Int32) {
        inFlightBytes -= byteCount
        if status < 0 {
            close(afterFlush: false)
            return
        }
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

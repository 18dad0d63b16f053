import CLibUV
#if canImport(Glibc)
import Glibc
#endif

/// A listening TCP socket on a loop. Each accepted connection is handed to `onAccept` on the loop thread; the
/// callee sets its handler and calls `startReading()`.
public final class TCPListener {
    public unowned let loop: EventLoop
    private let handle: UnsafeMutablePointer<uv_tcp_t>
    private let onAccept: (TCPConnection) -> Void
    private var closed = false
    private let log = Logger("loop")

    /// Binds and listens on `host:port` (port 0 picks a free port; see `port`). Loop thread only.
    public init(loop: EventLoop, host: String, port: Int, backlog: Int32 = 511,
                onAccept: @escaping (TCPConnection) -> Void) throws {
        guard (0...65535).contains(port) else { throw LoopError("invalid port \(port)", code: 0) }
        self.loop = loop
        self.onAccept = onAccept
        handle = .allocate(capacity: 1)
        uv_tcp_init(loop.uvLoop, handle)
        var storage = sockaddr_storage()
        var rc = withUnsafeMutablePointer(to: &storage) { pointer -> Int32 in
            pointer.withMemoryRebound(to: UInt8.self, capacity: MemoryLayout<sockaddr_storage>.size) { raw in
                if host.contains(":") {
                    return raw.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { uv_ip6_addr(host, Int32(port), $0) }
                }
                return raw.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { uv_ip4_addr(host, Int32(port), $0) }
            }
        }
        if rc == 0 {
            rc = withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_tcp_bind(handle, $0, 0) }
            }
        }
        if rc == 0 { rc = listenNow(backlog) }
        guard rc == 0 else {
            closeHandle()
            throw LoopError("listen on \(host):\(port)", code: rc)
        }
    }

    /// Binds a listening socket with SO_REUSEPORT set, so several loops can each listen on the same `host:port`
    /// and the kernel spreads incoming connections over them. Returns the descriptor, for
    /// `init(loop:fd:)`. Any thread.
    public static func reusePortSocket(host: String, port: Int, backlog: Int32 = 511) throws -> Int32 {
        guard (0...65535).contains(port) else { throw LoopError("invalid port \(port)", code: 0) }
        var storage = sockaddr_storage()
        let family: Int32 = host.contains(":") ? AF_INET6 : AF_INET
        let rc = withUnsafeMutablePointer(to: &storage) { pointer -> Int32 in
            pointer.withMemoryRebound(to: UInt8.self, capacity: MemoryLayout<sockaddr_storage>.size) { raw in
                if family == AF_INET6 {
                    return raw.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { uv_ip6_addr(host, Int32(port), $0) }
                }
                return raw.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { uv_ip4_addr(host, Int32(port), $0) }
            }
        }
        guard rc == 0 else { throw LoopError("listen on \(host):\(port)", code: rc) }
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw LoopError("socket", code: -errno) }
        var on: Int32 = 1
        let length = socklen_t(family == AF_INET6 ? MemoryLayout<sockaddr_in6>.size : MemoryLayout<sockaddr_in>.size)
        let bound = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size)) == 0
            && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, socklen_t(MemoryLayout<Int32>.size)) == 0
            && withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
            } == 0
            && Glibc.listen(fd, backlog) == 0
        guard bound else {
            let code = -errno
            Glibc.close(fd)
            throw LoopError("listen on \(host):\(port)", code: code)
        }
        return fd
    }

    /// Listens on an already bound socket `fd` (for example one inherited from a supervisor).
    public init(loop: EventLoop, fd: Int32, backlog: Int32 = 511, onAccept: @escaping (TCPConnection) -> Void) throws {
        self.loop = loop
        self.onAccept = onAccept
        handle = .allocate(capacity: 1)
        uv_tcp_init(loop.uvLoop, handle)
        var rc = uv_tcp_open(handle, uv_os_sock_t(fd))
        if rc == 0 { rc = listenNow(backlog) }
        guard rc == 0 else {
            closeHandle()
            throw LoopError("listen on fd \(fd)", code: rc)
        }
    }

    private func listenNow(_ backlog: Int32) -> Int32 {
        handle.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        return uv_listen(streamPointer(handle), backlog) { server, status in
            let listener = Unmanaged<TCPListener>.fromOpaque(server!.pointee.data!).takeUnretainedValue()
            listener.accept(status: status)
        }
    }

    /// The bound port (useful after binding port 0).
    public var port: Int {
        var storage = sockaddr_storage()
        var length = Int32(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_tcp_getsockname(handle, $0, &length) }
        }
        guard rc == 0 else { return 0 }
        let family = Int32(storage.ss_family)
        return withUnsafePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: UInt8.self, capacity: MemoryLayout<sockaddr_storage>.size) { raw in
                if family == AF_INET6 {
                    return raw.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) }
                }
                return raw.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
            }
        }
    }

    private func accept(status: Int32) {
        guard status == 0, !closed else {
            if status != 0 { log.warn("accept failed: \(String(cString: uv_strerror(status)))") }
            return
        }
        let client = UnsafeMutablePointer<uv_tcp_t>.allocate(capacity: 1)
        uv_tcp_init(loop.uvLoop, client)
        guard uv_accept(streamPointer(handle), streamPointer(client)) == 0 else {
            uv_close(handlePointer(client)) { $0!.deallocate() }
            return
        }
        onAccept(TCPConnection(loop: loop, handle: client))
    }

    /// Stops accepting. Existing connections are not touched.
    public func close() {
        guard !closed else { return }
        closeHandle()
    }

    private func closeHandle() {
        closed = true
        handle.pointee.data = nil
        guard uv_is_closing(handlePointer(handle)) == 0 else { return }
        uv_close(handlePointer(handle)) { $0!.deallocate() }
    }
}

/// System calls other layers need without importing Glibc themselves.
public enum SystemCalls {
    @discardableResult
    public static func close(_ fd: Int32) -> Int32 { Glibc.close(fd) }
}

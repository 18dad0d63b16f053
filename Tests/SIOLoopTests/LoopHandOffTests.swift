import Testing
@testable import SIOLoop
#if canImport(Glibc)
import Glibc
#endif

/// Echoes what it reads, prefixed with the index of the loop that read it.
private final class Echo: ConnectionHandler {
    let mark: UInt8
    init(mark: UInt8) { self.mark = mark }
    func connectionDidRead(_ connection: TCPConnection, _ bytes: UnsafeRawBufferPointer) {
        connection.write([mark] + Array(bytes))
    }
    func connectionDidClose(_ connection: TCPConnection) {}
}

/// A blocking loopback client (HostLoopTests uses it too).
func connect(port: Int) -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
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
    return fd
}

func roundTrip(_ fd: Int32, _ text: String) -> [UInt8] {
    _ = text.withCString { send(fd, $0, strlen($0), 0) }
    var buffer = [UInt8](repeating: 0, count: 256)
    let count = recv(fd, &buffer, buffer.count, 0)
    return count > 0 ? Array(buffer[..<count]) : []
}

/// The pieces a multi-loop server stands on: companion loops, the loop-local `current`, and moving a live
/// connection from one loop to another by its descriptor.
@Suite struct LoopHandOffTests {
    @Test func companionsStartStopAndEndWithTheirLoop() throws {
        let first = try EventLoop()
        let second = try EventLoop()
        first.addCompanion(second)
        #expect(!second.hasStarted)
        try first.startThread()
        var ran = false
        var seen: EventLoop?
        let done = Lock()
        second.execute {
            done.withLock {
                ran = second.isInLoopThread
                seen = EventLoop.current
            }
        }
        usleep(100_000)
        #expect(second.hasStarted)
        first.stop()
        first.join()  // run() returns once the companion has ended too
        #expect(!second.execute {})  // the companion stopped with its loop
        done.withLock {
            #expect(ran)
            #expect(seen === second)
        }
        #expect(EventLoop.current == nil)
    }

    @Test func aConnectionMovesToAnotherLoopWithItsDescriptor() throws {
        let accepting = try EventLoop()
        let adopting = try EventLoop()
        accepting.addCompanion(adopting)
        let echo0 = Echo(mark: UInt8(ascii: "0"))
        let echo1 = Echo(mark: UInt8(ascii: "1"))
        var listener: TCPListener?
        listener = try TCPListener(loop: accepting, host: "127.0.0.1", port: 0) { tcp in
            tcp.handler = echo0
            tcp.startReading()
        }
        let port = listener!.port
        try accepting.startThread()
        let client = connect(port: port)
        defer { close(client) }
        #expect(roundTrip(client, "a") == Array("0a".utf8))

        // Move every connection of the accepting loop to the other loop; the client notices nothing.
        accepting.execute {
            for connection in accepting.openConnections {
                connection.detachDescriptor { detached in
                    guard let detached else { return }
                    adopting.execute {
                        let moved = TCPConnection.adopt(detached, loop: adopting)
                        moved?.handler = echo1
                        moved?.startReading()
                    }
                }
            }
        }
        usleep(100_000)
        #expect(roundTrip(client, "b") == Array("1b".utf8))
        #expect(roundTrip(client, "c") == Array("1c".utf8))
        accepting.execute { listener?.close() }
        accepting.stop()
        accepting.join()
    }

    @Test func reusePortSocketsShareOnePort() throws {
        let first = try TCPListener.reusePortSocket(host: "127.0.0.1", port: 0)
        defer { close(first) }
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(first, $0, &length) }
        }
        let port = Int(UInt16(bigEndian: address.sin_port))
        let second = try TCPListener.reusePortSocket(host: "127.0.0.1", port: port)
        close(second)
        #expect(throws: LoopError.self) { try TCPListener.reusePortSocket(host: "127.0.0.1", port: 70_000) }
    }
}

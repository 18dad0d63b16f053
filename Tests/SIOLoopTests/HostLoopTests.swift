import CLibUV
import Testing
@testable import SIOLoop
#if canImport(Glibc)
import Glibc
#endif

/// A libuv loop the "host" owns and runs on a thread of its own, with a repeating timer of its own.
private final class HostThread: @unchecked Sendable {
    let uvLoop = UnsafeMutablePointer<uv_loop_t>.allocate(capacity: 1)
    let ticker = UnsafeMutablePointer<uv_timer_t>.allocate(capacity: 1)
    let lock = Lock()
    var ticks = 0
    var closeResult: Int32 = 1
    var thread = pthread_t()
    /// Runs on the host thread before the loop starts (makes the driven EventLoop there).
    var setUp: (() -> Void)?
    private var done = false

    init() {
        uv_loop_init(uvLoop)
        uv_timer_init(uvLoop, ticker)
        ticker.pointee.data = Unmanaged.passUnretained(self).toOpaque()
    }

    deinit {
        uvLoop.deallocate()
        ticker.deallocate()
    }

    func start() {
        let me = Unmanaged.passRetained(self).toOpaque()
        pthread_create(&thread, nil, { arg in
            let host = Unmanaged<HostThread>.fromOpaque(arg!).takeRetainedValue()
            host.setUp?()
            uv_timer_start(host.ticker, { timer in
                let host = Unmanaged<HostThread>.fromOpaque(timer!.pointee.data!).takeUnretainedValue()
                host.lock.withLock { host.ticks += 1 }
            }, 5, 5)
            uv_run(host.uvLoop, UV_RUN_DEFAULT)
            let rc = uv_loop_close(host.uvLoop)
            host.lock.withLock {
                host.closeResult = rc
                host.done = true
            }
            return nil
        }, me)
    }

    /// Closes the host's own timer (from its thread): its loop then ends once nothing else is on it.
    func closeTicker() {
        uv_close(UnsafeMutableRawPointer(ticker).assumingMemoryBound(to: uv_handle_t.self), nil)
    }

    func join() { pthread_join(thread, nil) }
}

private final class Echo: ConnectionHandler {
    func connectionDidRead(_ connection: TCPConnection, _ bytes: UnsafeRawBufferPointer) {
        connection.write(Array("echo:".utf8) + Array(bytes))
    }
    func connectionDidClose(_ connection: TCPConnection) {}
}

/// An EventLoop driven by a libuv loop the host runs (`EventLoop(drivenBy:)`): it serves on the host's thread
/// beside the host's own timer, takes work from other threads, and leaves nothing on the host loop once stopped.
@Suite struct HostLoopTests {
    @Test func aDrivenLoopServesOnTheHostThreadAndLeavesItsLoopClean() throws {
        let host = HostThread()
        let state = Lock()
        var loop: EventLoop?
        var listener: TCPListener?
        var hostThread = pthread_t()
        var endedOnHost = false
        var workOnHost = false
        host.setUp = {
            hostThread = pthread_self()
            let made = try! EventLoop(drivenBy: OpaquePointer(host.uvLoop))
            let echo = Echo()
            let server = try! TCPListener(loop: made, host: "127.0.0.1", port: 0) { connection in
                connection.handler = echo
                connection.startReading()
            }
            made.addShutdownHook { server.close() }
            made.onEnded = {
                state.withLock { endedOnHost = pthread_equal(pthread_self(), hostThread) != 0 }
                host.closeTicker()
            }
            state.withLock {
                loop = made
                listener = server
            }
        }
        host.start()
        var port = 0
        for _ in 0..<500 where port == 0 {
            usleep(2000)
            port = state.withLock { listener?.port ?? 0 }
        }
        #expect(port > 0)
        let driven = try #require(state.withLock { loop })
        #expect(driven.isDriven && driven.hasStarted && !driven.isInLoopThread)

        let fd = connect(port: port)
        #expect(String(decoding: roundTrip(fd, "hi"), as: UTF8.self) == "echo:hi")

        #expect(driven.execute { state.withLock { workOnHost = pthread_equal(pthread_self(), hostThread) != 0 } })
        usleep(50_000)
        #expect(host.lock.withLock { host.ticks } > 3)  // the host's own timer kept running beside ours
        driven.stop()
        host.join()  // its loop ends: our handles are gone, the ticker closed in onEnded
        close(fd)
        state.withLock {
            #expect(workOnHost)
            #expect(endedOnHost)
            loop = nil
            listener = nil
        }
        #expect(host.closeResult == 0)  // uv_loop_close: nothing of ours left on the host's loop
        #expect(!driven.execute {})
    }
}

import CLibUV

/// Runs an `EventLoop` inside a libuv loop that the host owns and runs (`EventLoop(drivenBy:)`), on the host loop's
/// thread, with no thread of ours. The event loop keeps its own `uv_loop_t` (so nothing of the host's loop is
/// touched but four handles of ours: its `data`, its handles and its walk stay the host's), embedded the way libuv
/// allows it: the host loop watches our loop's backend descriptor (epoll) with a `uv_poll_t` and wakes a
/// `uv_timer_t` at our next timeout; each wake runs one non-blocking turn of our loop (`UV_RUN_NOWAIT`). A
/// `uv_prepare_t` and a `uv_check_t` on the host loop run a turn too, after the host's timer callbacks and after its
/// I/O callbacks: what those asked of the engine (an emit from a host timer, a new timer, a socket that must be
/// watched) takes effect before the host loop blocks again. libuv applies changes to what a loop watches only
/// inside that loop's poll, so a change made from a host callback needs such a turn; the turn is non-blocking
/// (epoll_wait with timeout 0), so an iteration of the host loop costs at most three short turns of ours.
///
/// Once the event loop was stopped and has nothing left open, the driver closes our loop's last handles and then
/// its four handles on the host loop; `ended` runs on the host loop's thread after the last one closed. From then
/// on nothing of ours is on the host loop: `uv_run` may return and `uv_loop_close` succeeds.
final class HostLoopDriver {
    unowned(unsafe) let loop: EventLoop
    private let poll: UnsafeMutablePointer<uv_poll_t>
    private let timer: UnsafeMutablePointer<uv_timer_t>
    private let prepare: UnsafeMutablePointer<uv_prepare_t>
    private let check: UnsafeMutablePointer<uv_check_t>
    private var armedDeadline: UInt64 = 0
    private var closingHandles = 0
    private(set) var hasEnded = false
    /// Runs once, on the host loop's thread, when the last handle of ours left the host loop.
    var ended: (() -> Void)?

    init(loop: EventLoop, host: UnsafeMutablePointer<uv_loop_t>) throws {
        self.loop = loop
        let fd = uv_backend_fd(loop.uvLoop)
        guard fd >= 0 else { throw LoopError("uv_backend_fd: this platform's libuv cannot be embedded", code: 0) }
        poll = .allocate(capacity: 1)
        timer = .allocate(capacity: 1)
        prepare = .allocate(capacity: 1)
        check = .allocate(capacity: 1)
        let rc = uv_poll_init(host, poll, fd)
        guard rc == 0 else {
            poll.deallocate()
            timer.deallocate()
            prepare.deallocate()
            check.deallocate()
            throw LoopError("uv_poll_init on the host loop", code: rc)
        }
        let me = Unmanaged.passUnretained(self).toOpaque()
        poll.pointee.data = me
        uv_poll_start(poll, Int32(UV_READABLE.rawValue)) { handle, _, _ in
            HostLoopDriver.from(handle!.pointee.data).turn()
        }
        uv_timer_init(host, timer)
        timer.pointee.data = me
        uv_unref(handlePointer(timer))  // the poll handle keeps the host loop alive while the server lives
        uv_prepare_init(host, prepare)
        prepare.pointee.data = me
        uv_prepare_start(prepare) { handle in HostLoopDriver.from(handle!.pointee.data).hostCallbacksRan() }
        uv_unref(handlePointer(prepare))
        uv_check_init(host, check)
        check.pointee.data = me
        uv_check_start(check) { handle in HostLoopDriver.from(handle!.pointee.data).hostCallbacksRan() }
        uv_unref(handlePointer(check))
        rearm()
    }

    deinit {
        poll.deallocate()
        timer.deallocate()
        prepare.deallocate()
        check.deallocate()
    }

    @inline(__always) static func from(_ data: UnsafeMutableRawPointer?) -> HostLoopDriver {
        Unmanaged<HostLoopDriver>.fromOpaque(data!).takeUnretainedValue()
    }

    /// One turn of our loop: its due timers, ready I/O, submitted work, closing handles.
    private func turn() {
        guard !hasEnded else { return }
        loop.runTurn()
        if loop.isStopping, uv_loop_alive(loop.uvLoop) == 0 {
            finish()
        } else {
            rearm()
        }
    }

    /// Between the host's timer callbacks and its next poll (prepare), or after its I/O callbacks (check).
    private func hostCallbacksRan() {
        turn()
    }

    private func rearm() {
        // -1: no timer of ours; 0: closing handles or pending callbacks (the completions of a flush made from a
        // host callback), run again at once; else our next timer. Re-armed only when the deadline moved.
        let timeout = uv_backend_timeout(loop.uvLoop)
        let deadline: UInt64 = timeout < 0 ? .max : uv_now(timer.pointee.loop) &+ UInt64(timeout)
        guard deadline != armedDeadline || timeout == 0 else { return }
        armedDeadline = deadline
        if timeout < 0 {
            uv_timer_stop(timer)
        } else {
            uv_timer_start(timer, { handle in
                let driver = HostLoopDriver.from(handle!.pointee.data)
                driver.armedDeadline = 0
                driver.turn()
            }, UInt64(timeout), 0)
        }
    }

    /// Our loop has nothing open: close what is left of it, then leave the host loop.
    private func finish() {
        loop.closeRemainingHandles()
        hasEnded = true
        let handles = [handlePointer(poll), handlePointer(timer), handlePointer(prepare), handlePointer(check)]
        closingHandles = handles.count
        for handle in handles {
            uv_close(handle) { handle in
                let driver = HostLoopDriver.from(handle!.pointee.data)
                driver.closingHandles -= 1
                if driver.closingHandles == 0 { driver.ended?() }
            }
        }
    }
}

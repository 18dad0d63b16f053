import CLibUV
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

public struct LoopError: Error, CustomStringConvertible, Equatable {
    /// The libuv error code (negative errno), or 0.
    public let code: Int32
    public let operation: String

    public init(_ operation: String, code: Int32) {
        self.operation = operation
        self.code = code
    }

    public var description: String {
        code == 0 ? operation : "\(operation): \(String(cString: uv_strerror(code)))"
    }
}

/// One libuv loop and the thread that runs it. Everything attached to a loop (listeners, connections, servers,
/// timers) is owned by that loop's thread: only `execute`, `stop` and `join` may be called from other threads.
///
/// Either the loop runs on a thread of its own (`startThread`) or of the caller's (`run`), or a libuv loop the host
/// owns and runs drives it (`init(drivenBy:)`, see `HostLoopDriver`): then the host loop's thread is this loop's
/// thread, and no thread is made.
///
/// Per turn of the loop: timers fire from one `uv_timer_t` driving `TimerQueue`; reads land in one loop-wide
/// buffer; connections that queued output are flushed together (one `uv_write` each) before the loop polls again.
public final class EventLoop: @unchecked Sendable {
    let uvLoop: UnsafeMutablePointer<uv_loop_t>
    /// The libuv loop, for C libraries that integrate with libuv themselves (hiredis in SocketIORedis).
    /// Loop thread only; never run or close it.
    public var uvLoopPointer: OpaquePointer { OpaquePointer(uvLoop) }
    private let wakeup: UnsafeMutablePointer<uv_async_t>
    private let beforePoll: UnsafeMutablePointer<uv_prepare_t>
    private let afterPoll: UnsafeMutablePointer<uv_check_t>
    private let clock: UnsafeMutablePointer<uv_timer_t>

    /// Size of the loop-wide read buffer: a read never needs per-connection memory unless a frame is partial.
    public static let readBufferSize = 64 * 1024
    let readBuffer: UnsafeMutableRawPointer

    /// TLS connections decrypt into one loop-wide buffer and gather small writes into another, made on first use:
    /// one record's plaintext each (16 KiB, and room for a TLS 1.3 record's inner type and padding).
    static let tlsBufferSize = 17 * 1024
    private var tlsBuffers: UnsafeMutableRawPointer?
    var tlsReadBuffer: UnsafeMutableRawPointer {
        if let tlsBuffers { return tlsBuffers }
        let made = UnsafeMutableRawPointer.allocate(byteCount: 2 * Self.tlsBufferSize, alignment: 16)
        tlsBuffers = made
        return made
    }
    var tlsSealBuffer: UnsafeMutableRawPointer { tlsReadBuffer + Self.tlsBufferSize }

    private let submitLock = Lock()
    private var submitted: [() -> Void] = []
    private var stopRequested = false

    // The loop's own queues are touched only on its thread and never re-entered: no dynamic exclusivity checks.
    @exclusivity(unchecked) private var timers = TimerQueue()
    private var armedDeadline: UInt64 = .max

    @exclusivity(unchecked) var flushQueue: [TCPConnection] = []
    /// Every open connection, as an intrusive list (no allocation per connection), so a stop can close them
    /// properly when the grace period ends. Connections keep themselves alive through their handle.
    @exclusivity(unchecked) unowned(unsafe) var firstConnection: TCPConnection?

    func link(_ connection: TCPConnection) {
        connection.nextInLoop = firstConnection
        firstConnection?.previousInLoop = connection
        firstConnection = connection
    }

    func unlink(_ connection: TCPConnection) {
        if let previous = connection.previousInLoop {
            previous.nextInLoop = connection.nextInLoop
        } else if firstConnection === connection {
            firstConnection = connection.nextInLoop
        }
        connection.nextInLoop?.previousInLoop = connection.previousInLoop
        connection.previousInLoop = nil
        connection.nextInLoop = nil
    }

    /// The open connections, in no particular order.
    var openConnections: [TCPConnection] {
        var all: [TCPConnection] = []
        var cursor = firstConnection
        while let connection = cursor {
            all.append(connection)
            cursor = connection.nextInLoop
        }
        return all
    }
    var endOfTurn: [() -> Void] = []
    /// Connections draining their output before moving to another loop, and what to do once drained.
    var detachments: [ObjectIdentifier: (DetachedConnection?) -> Void] = [:]
    private var shutdownHooks: [(id: Int, hook: () -> Void)] = []
    private var nextHookID = 0
    private var isShuttingDown = false
    /// Set by `stop()` on the calling thread, before the loop gets to its shutdown: a loop busy with a burst of
    /// reads (thousands of queued packets, slow handlers) would otherwise hand every one of them to its handlers
    /// first. Read on the loop thread per packet, hence an atomic rather than the submit lock.
    private let stopAsked = Atomic<Bool>(false)

    private var threadID: pthread_t?
    private var ownThread: pthread_t?
    /// Set (under `submitLock`) once a thread runs or is about to run the loop.
    private var started = false
    /// Loops that start, stop and end with this one: the other loops of a multi-loop server.
    private var companions: [EventLoop] = []
    /// Set when a host's libuv loop drives this one.
    private var driver: HostLoopDriver?
    private let log = Logger("loop")

    public init() throws {
        _ = EventLoop.brokenPipesIgnored
        uvLoop = .allocate(capacity: 1)
        wakeup = .allocate(capacity: 1)
        beforePoll = .allocate(capacity: 1)
        afterPoll = .allocate(capacity: 1)
        clock = .allocate(capacity: 1)
        readBuffer = .allocate(byteCount: Self.readBufferSize, alignment: 16)
        let rc = uv_loop_init(uvLoop)
        guard rc == 0 else {
            uvLoop.deallocate()
            throw LoopError("uv_loop_init", code: rc)
        }
        // The loop owns these handles for its whole life; `data` points back here unretained.
        let me = Unmanaged.passUnretained(self).toOpaque()
        uvLoop.pointee.data = me
        uv_async_init(uvLoop, wakeup) { handle in
            EventLoop.from(handle!.pointee.data).drainSubmitted()
        }
        wakeup.pointee.data = me
        uv_prepare_init(uvLoop, beforePoll)
        beforePoll.pointee.data = me
        uv_prepare_start(beforePoll) { handle in EventLoop.from(handle!.pointee.data).flushConnections() }
        uv_check_init(uvLoop, afterPoll)
        afterPoll.pointee.data = me
        uv_check_start(afterPoll) { handle in EventLoop.from(handle!.pointee.data).flushConnections() }
        // Internal handles must not keep the loop alive on their own.
        uv_unref(handlePointer(beforePoll))
        uv_unref(handlePointer(afterPoll))
        uv_timer_init(uvLoop, clock)
        clock.pointee.data = me
        uv_unref(handlePointer(clock))
    }

    /// A loop driven by `host`, a libuv loop the host owns and runs (a `uv_loop_t *`): the calling thread must be
    /// the one that runs `host`, and is this loop's thread from now on (nothing here makes a thread). The loop runs
    /// as soon as the host's does; `run()` and `startThread()` must not be called. `stop()` ends it as usual: once
    /// everything is closed it removes its handles from `host` and calls `onEnded` on that thread; only then may
    /// this object be released, and `host` be closed (`uv_loop_close`). Throws where libuv cannot embed a loop.
    public convenience init(drivenBy host: OpaquePointer) throws {
        try self.init()
        threadID = pthread_self()
        started = true
        driver = try HostLoopDriver(loop: self, host: UnsafeMutablePointer<uv_loop_t>(host))
    }

    /// For a loop driven by a host loop: runs on the host loop's thread once the loop has ended after `stop()` and
    /// left the host loop (nothing of it remains there). Set before stopping.
    public var onEnded: (() -> Void)? {
        get { driver?.ended }
        set { driver?.ended = newValue }
    }

    /// True when a host's libuv loop drives this loop (`init(drivenBy:)`).
    public var isDriven: Bool { driver != nil }

    /// A peer that resets its connection while we write to it must not kill the host: libuv writes with writev,
    /// which raises SIGPIPE (no MSG_NOSIGNAL there), so SIGPIPE is ignored, as Node does, unless the host installed
    /// a handler of its own (then it is left alone). Done once, when the first loop is made.
    static let brokenPipesIgnored: Bool = {
        var current = sigaction()
        guard sigaction(SIGPIPE, nil, &current) == 0 else { return false }
        guard current.__sigaction_handler.sa_handler == nil else { return false }  // SIG_DFL is nil: a handler is set
        var ignore = sigaction()
        ignore.__sigaction_handler.sa_handler = SIG_IGN
        sigemptyset(&ignore.sa_mask)
        return sigaction(SIGPIPE, &ignore, nil) == 0
    }()

    deinit {
        uv_loop_close(uvLoop)
        uvLoop.deallocate()
        wakeup.deallocate()
        beforePoll.deallocate()
        afterPoll.deallocate()
        clock.deallocate()
        readBuffer.deallocate()
        tlsBuffers?.deallocate()
        for timer in graceTimers { timer.deallocate() }
    }

    @inline(__always) static func from(_ data: UnsafeMutableRawPointer?) -> EventLoop {
        Unmanaged<EventLoop>.fromOpaque(data!).takeUnretainedValue()
    }

    // MARK: Running

    /// Runs the loop on the calling thread until `stop()` has finished closing everything.
    public func run() {
        guard driver == nil else { return }  // the host's loop runs it
        threadID = pthread_self()
        submitLock.withLock { started = true }
        pthread_setspecific(currentLoopKey, Unmanaged.passUnretained(self).toOpaque())
        defer { pthread_setspecific(currentLoopKey, nil) }
        for companion in companions where !companion.hasStarted {
            do {
                try companion.startThread()
            } catch {
                log.error("could not start a companion loop's thread: \(error)")
            }
        }
        uv_run(uvLoop, UV_RUN_DEFAULT)
        closeRemainingHandles()
        // The companions stopped with this loop (beginShutdown): wait until each has closed everything.
        for companion in companions { companion.join() }
        threadID = nil
    }

    /// Closes whatever is left (the loop's own handles, unreferenced) once nothing else keeps it alive, so the
    /// loop can be closed cleanly.
    func closeRemainingHandles() {
        uv_walk(uvLoop, { handle, _ in
            if uv_is_closing(handle) == 0 { uv_close(handle, nil) }
        }, nil)
        uv_run(uvLoop, UV_RUN_DEFAULT)
    }

    /// One turn of a driven loop, without blocking (its host's poll said there is work, or its timer is due).
    func runTurn() {
        let previous = pthread_getspecific(currentLoopKey)
        pthread_setspecific(currentLoopKey, Unmanaged.passUnretained(self).toOpaque())
        uv_run(uvLoop, UV_RUN_NOWAIT)
        pthread_setspecific(currentLoopKey, previous)
    }

    /// The loop whose thread is calling, if any.
    public static var current: EventLoop? {
        pthread_getspecific(currentLoopKey).map { Unmanaged<EventLoop>.fromOpaque($0).takeUnretainedValue() }
    }

    /// True once a thread runs (or was started to run) this loop: from then on only `execute` reaches it from
    /// other threads. Thread-safe.
    public var hasStarted: Bool { submitLock.withLock { started } }

    /// Makes `loop` start on its own thread when this loop runs, stop when this one stops, and `run()` return only
    /// after it ended. Call before `run()`, on the setting-up thread.
    public func addCompanion(_ loop: EventLoop) {
        companions.append(loop)
    }

    /// Runs `work` now when called on this loop's thread or before the loop started; otherwise queues it like
    /// `execute`. For configuration that must reach a loop that may already be running.
    public func perform(_ work: @escaping () -> Void) {
        if isInLoopThread || !hasStarted {
            work()
        } else {
            execute(work)
        }
    }

    /// Starts a thread that runs the loop, then `afterRun` on that thread. `join()` waits for it after `stop()`.
    public func startThread(afterRun: (() -> Void)? = nil) throws {
        guard driver == nil else { throw LoopError("a loop driven by a host loop runs there", code: 0) }
        final class Start {
            let loop: EventLoop
            let afterRun: (() -> Void)?
            init(_ loop: EventLoop, _ afterRun: (() -> Void)?) {
                self.loop = loop
                self.afterRun = afterRun
            }
        }
        let box = Unmanaged.passRetained(Start(self, afterRun)).toOpaque()
        submitLock.withLock { started = true }
        var tid = pthread_t()
        let rc = pthread_create(&tid, nil, { arg in
            let start = Unmanaged<Start>.fromOpaque(arg!).takeRetainedValue()
            start.loop.run()
            start.afterRun?()
            return nil
        }, box)
        guard rc == 0 else {
            Unmanaged<Start>.fromOpaque(box).release()
            submitLock.withLock { started = false }
            throw LoopError("pthread_create", code: -rc)
        }
        ownThread = tid
    }

    /// Lets the loop's thread end on its own (when nobody will `join()` it). Call on that thread.
    public func detachThread() {
        guard let tid = ownThread else { return }
        ownThread = nil
        pthread_detach(tid)
    }

    /// Waits for the thread started by `startThread()` to end. Must not be called on the loop thread.
    public func join() {
        guard let tid = ownThread, !isInLoopThread else { return }
        pthread_join(tid, nil)
        ownThread = nil
    }

    /// True on the thread that runs the loop.
    public var isInLoopThread: Bool {
        guard let id = threadID else { return false }
        return pthread_equal(id, pthread_self()) != 0
    }

    /// Stops the loop gracefully: shutdown hooks run (servers say goodbye to their clients), then every handle is
    /// closed and `run()` returns once pending writes drained (at most `graceMilliseconds`). Thread-safe; repeated
    /// calls are harmless. `isStopRequested` turns true at once, for this loop and its companions.
    public func stop(graceMilliseconds: UInt64 = 2000) {
        stopAsked.store(true, ordering: .relaxed)
        // Companions are set before the loop runs and never change: safe to read here, on any thread.
        for companion in companions { companion.stopAsked.store(true, ordering: .relaxed) }
        execute { [self] in beginShutdown(grace: graceMilliseconds) }
    }

    /// Registers work to run when the loop stops, in registration order. Returns an id for `removeShutdownHook`.
    @discardableResult
    public func addShutdownHook(_ hook: @escaping () -> Void) -> Int {
        nextHookID += 1
        shutdownHooks.append((nextHookID, hook))
        return nextHookID
    }

    public func removeShutdownHook(_ id: Int) {
        shutdownHooks.removeAll { $0.id == id }
    }

    public var isStopping: Bool { isShuttingDown }

    /// True once `stop()` was called on this loop or on the loop it is a companion of, from any thread, even before
    /// the loop has begun its shutdown. What peers send from then on may be dropped: they are about to be told the
    /// server is going away. Any thread.
    public var isStopRequested: Bool { stopAsked.load(ordering: .relaxed) }

    private func beginShutdown(grace: UInt64) {
        guard !isShuttingDown else { return }
        isShuttingDown = true
        let hooks = shutdownHooks
        shutdownHooks.removeAll()
        for entry in hooks { entry.hook() }
        for companion in companions { companion.stop(graceMilliseconds: grace) }
        submitLock.withLock { stopRequested = true }
        drainSubmitted()
        flushConnections()
        uv_close(handlePointer(wakeup), nil)
        uv_timer_stop(clock)
        // A last timer cuts connections that have not drained in time; unref'd so it never delays a clean exit.
        let graceTimer = UnsafeMutablePointer<uv_timer_t>.allocate(capacity: 1)
        uv_timer_init(uvLoop, graceTimer)
        graceTimer.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        uv_timer_start(graceTimer, { timer in
            let loop = EventLoop.from(timer!.pointee.data)
            for connection in loop.openConnections { connection.close(afterFlush: false) }
            uv_close(handlePointer(timer!), nil)
            // Anything else still open (a listener nobody closed) must not keep the loop alive.
            uv_walk(timer!.pointee.loop, { handle, _ in
                if uv_is_closing(handle) == 0, uv_has_ref(handle) != 0 { uv_close(handle, nil) }
            }, nil)
        }, grace, 0)
        uv_unref(handlePointer(graceTimer))
        // Freed with the loop: the walk above or run()'s final walk closes it.
        graceTimers.append(graceTimer)
    }
    private var graceTimers: [UnsafeMutablePointer<uv_timer_t>] = []

    // MARK: Submitting work from other threads

    /// Runs `work` on the loop thread soon. Thread-safe: the one way into a loop from outside. Returns false (and
    /// drops the work) once the loop is stopping.
    @discardableResult
    public func execute(_ work: @escaping () -> Void) -> Bool {
        // Sending under the lock: once shutdown set `stopRequested`, the async handle may be closed at any time.
        submitLock.withLock {
            guard !stopRequested else { return false }
            submitted.append(work)
            if submitted.count == 1 { uv_async_send(wakeup) }
            return true
        }
    }

    private func drainSubmitted() {
        // Drain fully: uv_async_send coalesces wake-ups, so one wake may stand for many submissions.
        while true {
            let batch: [() -> Void] = submitLock.withLock {
                let items = submitted
                submitted.removeAll(keepingCapacity: true)
                return items
            }
            if batch.isEmpty { break }
            for work in batch { work() }
        }
    }

    // MARK: Time and timers

    /// The loop's clock in milliseconds (cached at the start of each turn, like `uv_now`). A driven loop reads the
    /// clock each time: the host's callbacks call in between its turns, maybe long after the last one.
    @inline(__always) public var now: UInt64 {
        if driver != nil { uv_update_time(uvLoop) }
        return uv_now(uvLoop)
    }

    public func schedule(_ target: any TimerTarget, at deadline: UInt64) {
        timers.schedule(target, at: deadline)
        if deadline < armedDeadline { arm() }
    }

    public func schedule(_ target: any TimerTarget, afterMilliseconds delay: UInt64) {
        schedule(target, at: now &+ delay)
    }

    public func cancelTimer(_ target: any TimerTarget) {
        timers.cancel(target)
    }

    private func arm() {
        guard let deadline = timers.earliestDeadline else {
            uv_timer_stop(clock)
            armedDeadline = .max
            return
        }
        armedDeadline = deadline
        let current = now
        uv_timer_start(clock, { timer in
            EventLoop.from(timer!.pointee.data).fireTimers()
        }, deadline > current ? deadline - current : 0, 0)
    }

    private func fireTimers() {
        armedDeadline = .max
        let current = now
        while let due = timers.popDue(now: current) {
            due.timerFired(now: current)
        }
        arm()
    }

    // MARK: Output coalescing

    func enqueueFlush(_ connection: TCPConnection) {
        flushQueue.append(connection)
    }

    /// Writes out everything connections queued during this turn: one `uv_write` per connection.
    func flushConnections() {
        while !endOfTurn.isEmpty {
            let work = endOfTurn
            endOfTurn.removeAll(keepingCapacity: true)
            for item in work { item() }
        }
        guard !flushQueue.isEmpty else { return }
        var index = 0
        while index < flushQueue.count {
            flushQueue[index].flush()
            index += 1
        }
        flushQueue.removeAll(keepingCapacity: true)
    }
}

/// Which loop's thread this is (`EventLoop.current`).
private let currentLoopKey: pthread_key_t = {
    var key = pthread_key_t()
    pthread_key_create(&key, nil)
    return key
}()

@inline(__always) func handlePointer<T>(_ p: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<uv_handle_t> {
    UnsafeMutableRawPointer(p).assumingMemoryBound(to: uv_handle_t.self)
}

@inline(__always) func streamPointer<T>(_ p: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<uv_stream_t> {
    UnsafeMutableRawPointer(p).assumingMemoryBound(to: uv_stream_t.self)
}

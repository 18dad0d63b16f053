import CLibUV

/// Runs a handler on the loop thread when one of `signals` arrives (for graceful shutdown on SIGINT/SIGTERM).
/// The watcher does not keep the loop alive.
public final class SignalWatcher {
    private var handles: [UnsafeMutablePointer<uv_signal_t>] = []
    private let handler: () -> Void

    public init(loop: EventLoop, signals: [Int32], handler: @escaping () -> Void) {
        self.handler = handler
        for signal in signals {
            let handle = UnsafeMutablePointer<uv_signal_t>.allocate(capacity: 1)
            uv_signal_init(loop.uvLoop, handle)
            handle.pointee.data = Unmanaged.passUnretained(self).toOpaque()
            uv_signal_start(handle, { handle, _ in
                Unmanaged<SignalWatcher>.fromOpaque(handle!.pointee.data!).takeUnretainedValue().handler()
            }, signal)
            uv_unref(handlePointer(handle))
            handles.append(handle)
        }
    }

    /// Stops watching. Call on the loop thread, or after the loop ended.
    public func close() {
        for handle in handles {
            handle.pointee.data = nil
            if uv_is_closing(handlePointer(handle)) == 0 {
                uv_signal_stop(handle)
                uv_close(handlePointer(handle)) { $0!.deallocate() }
            }
        }
        handles.removeAll()
    }
}

import SIOLoop
import SocketIO
#if canImport(Glibc)
import Glibc
#endif

extension RedisAdapter: AdapterHealthReporting {
    public func health(_ completion: @escaping (AdapterHealth) -> Void) { client.health(completion) }
}

extension RedisClient {
    /// Both connections' state, and the round trip of a PING on the publishing one, for metrics: the lag every
    /// message to or from other nodes has at least. No answer within `timeout` ms (or no connection) is nil.
    /// Loop thread; `completion` runs once, on this loop.
    public func health(timeout: UInt64 = 1000, _ completion: @escaping (AdapterHealth) -> Void) {
        let connections = [(role: "pub", up: pub.isConnected), (role: "sub", up: sub.isConnected)]
        let probe = HealthProbe(loop: loop) { lag in completion(AdapterHealth(connections: connections, lagSeconds: lag)) }
        let sent = command([Array("PING".utf8)]) { reply in probe.finish(reply == nil ? nil : probe.elapsedSeconds) }
        if sent { loop.schedule(probe, afterMilliseconds: timeout) } else { probe.finish(nil) }
    }
}

/// One PING in flight: answered, or given up at its deadline, whichever comes first.
private final class HealthProbe: TimerTarget {
    var timerSlot = TimerSlot()
    private unowned let loop: EventLoop
    private var completion: ((Double?) -> Void)?
    private let started = HealthProbe.monotonicSeconds()

    init(loop: EventLoop, completion: @escaping (Double?) -> Void) {
        self.loop = loop
        self.completion = completion
    }

    var elapsedSeconds: Double { HealthProbe.monotonicSeconds() - started }

    func finish(_ lag: Double?) {
        guard let done = completion else { return }
        completion = nil
        loop.cancelTimer(self)
        done(lag)
    }

    func timerFired(now: UInt64) { finish(nil) }

    static func monotonicSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }
}

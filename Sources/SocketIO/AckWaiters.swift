import SIOLoop

/// One acknowledgement a socket waits for, with an optional deadline in the loop's timer queue.
final class PendingAck: TimerTarget {
    let id: UInt64
    unowned let socket: Socket
    let completion: (Result<SocketIOArguments, SocketIOError>) -> Void
    var timerSlot = TimerSlot()

    init(id: UInt64, socket: Socket, completion: @escaping (Result<SocketIOArguments, SocketIOError>) -> Void) {
        self.id = id
        self.socket = socket
        self.completion = completion
    }

    func timerFired(now: UInt64) {
        socket.ackTimedOut(id)
    }
}

/// Gathers the replies of a broadcast with acks: complete when every server reported its client count and that many
/// replies arrived, or when the timeout fires first.
final class BroadcastAckCollector: TimerTarget {
    private unowned let loop: EventLoop
    /// Called once when the collector finishes (the namespace forgets it).
    var onFinish: (() -> Void)?
    private var completion: ((SocketIOError?, [SocketIOArguments]) -> Void)?
    private var responses: [SocketIOArguments] = []
    private var expectedClients = 0
    private var reportedServers = 0
    private var expectedServers: Int?
    var timerSlot = TimerSlot()

    init(loop: EventLoop, completion: @escaping (SocketIOError?, [SocketIOArguments]) -> Void) {
        self.loop = loop
        self.completion = completion
    }

    func expect(_ clients: Int) {
        // Counts may come from other nodes: a hostile or broken one must not overflow the sum.
        expectedClients = min(expectedClients + min(max(clients, 0), 1 << 31), 1 << 40)
        reportedServers += 1
        check()
    }

    func expectServers(_ servers: Int) {
        expectedServers = servers
        check()
    }

    func receive(_ reply: SocketIOArguments) {
        guard completion != nil else { return }
        responses.append(reply)
        check()
    }

    private func check() {
        guard let expectedServers, reportedServers >= expectedServers, responses.count >= expectedClients else { return }
        finish(nil)
    }

    func timerFired(now: UInt64) { finish(.timeout) }

    func finish(_ error: SocketIOError?) {
        guard let done = completion else { return }
        completion = nil
        loop.cancelTimer(self)
        onFinish?()
        onFinish = nil
        done(error, responses)
    }
}

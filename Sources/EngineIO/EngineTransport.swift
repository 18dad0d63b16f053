/// A way for one session's packets to travel: long-polling or WebSocket. A transport belongs to one socket;
/// `discard()` cuts it loose (after an upgrade, or when the session ends). Loop thread only.
class EngineTransport {
    /// Strong while attached; `discard()` breaks the cycle.
    var socket: EngineSocket?

    var name: EngineTransportName { fatalError("abstract") }
    /// True when a message given now goes out without waiting (volatile messages are dropped otherwise).
    var isWritableNow: Bool { true }
    var bufferedBytes: Int { 0 }
    /// What the client has not received yet, counted against `maxBufferedBytes`: `bufferedBytes`, and over
    /// WebSocket also what the kernel holds for it.
    var undeliveredBytes: Int { bufferedBytes }
    func hasUndelivered(moreThan limit: Int) -> Bool { undeliveredBytes > limit }

    func attach(to socket: EngineSocket) { self.socket = socket }
    func send(_ message: EngineMessage) {}
    /// Closes for `reason`. False when the close can only be delivered later (polling with no GET pending).
    func close(reason: EngineCloseReason) -> Bool { true }
    func discard() { socket = nil }
}

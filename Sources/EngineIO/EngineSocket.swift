import EngineIOCodec
import SIOHTTP
import SIOLoop

/// What the layer above (Socket.IO, or an application using Engine.IO directly) hears from a session.
/// Called on the loop thread.
public protocol EngineSocketDelegate: AnyObject {
    func engineSocket(_ socket: EngineSocket, didReceiveText text: [UInt8])
    func engineSocket(_ socket: EngineSocket, didReceiveBinary data: [UInt8])
    /// The session ended. Called once; nothing sent afterwards is delivered.
    func engineSocket(_ socket: EngineSocket, didCloseWith reason: EngineCloseReason)
}

/// One Engine.IO session: a client identified by its sid, over long-polling or WebSocket, possibly upgrading
/// from the first to the second. Owns the heartbeat through one entry in the loop's timer queue: in v4 the server
/// pings every `pingInterval` and the client has `pingTimeout` to answer; in v3 the client pings, the server
/// answers, and a client silent for `pingInterval + pingTimeout` is gone. Loop thread only.
public final class EngineSocket: TimerTarget {
    public let id: String
    /// The handshake request: headers, query, for the layers above.
    public let request: HTTPRequest
    public let remoteAddress: String
    public unowned let server: EngineServer
    public var delegate: (any EngineSocketDelegate)?

    enum State { case open, closing, closed }
    private(set) var state = State.open
    private(set) var transport: EngineTransport
    /// A WebSocket probing to take over from polling.
    private var probe: WebSocketTransport?

    private var heartbeatDeadline: UInt64 = 0
    private var upgradeDeadline: UInt64 = .max
    private var closeDeadline: UInt64 = .max
    public var timerSlot = TimerSlot()
    // One-byte fields together after the words (padding between words costs every session a size class).
    /// The protocol revision of the handshake (v3 only with `allowEIO3`).
    public let protocolVersion: EngineProtocol
    private var probeAnswered = false
    private var awaitingPong = false

    init(id: String, request: HTTPRequest, remoteAddress: String, server: EngineServer, transport: EngineTransport,
         protocolVersion: EngineProtocol = .v4) {
        self.id = id
        self.protocolVersion = protocolVersion
        self.request = request
        self.remoteAddress = remoteAddress
        self.server = server
        self.transport = transport
        transport.attach(to: self)
    }

    public var transportName: EngineTransportName { transport.name }
    public var isOpen: Bool { state == .open }

    /// Sends the open packet and starts the heartbeat. `upgrades` is empty or `["websocket"]`.
    func open(upgrades: [String]) {
        var handshake: [UInt8] = []
        handshake.reserveCapacity(128)
        handshake.append(contentsOf: "{\"sid\":\"".utf8)
        handshake.append(contentsOf: id.utf8)
        handshake.append(contentsOf: "\",\"upgrades\":".utf8)
        handshake.append(contentsOf: upgrades.isEmpty ? "[]".utf8 : "[\"websocket\"]".utf8)
        handshake.append(contentsOf: protocolVersion == .v3 ? server.handshakeTailV3 : server.handshakeTail)
        transport.send(EngineMessage(type: .open, data: handshake))
        heartbeatDeadline = server.loop.now + heartbeatWindow
        reschedule()
    }

    // MARK: Sending

    /// Queues a message. Over WebSocket it is written this turn; over polling it waits for the next GET.
    /// A volatile message is dropped when the transport cannot take it now.
    public func send(_ message: EngineMessage) {
        guard state == .open else { return }
        if message.isVolatile && !transport.isWritableNow {
            server.counters.volatileDrops &+= 1
            return
        }
        if transport.hasUndelivered(moreThan: server.options.maxBufferedBytes) {
            server.log.warn("closing \(id): \(transport.undeliveredBytes) bytes queued for a client that does not read "
                            + "(\(transport.bufferedBytes) here, the rest in the kernel)")
            server.counters.backpressureCloses &+= 1
            close(reason: .transportError)
            return
        }
        server.counters.packetsOut &+= 1
        server.counters.bytesOut &+= UInt64(message.data.count)
        transport.send(message)
    }

    public func send(text: [UInt8]) { send(EngineMessage(text: text)) }
    public func send(binary: [UInt8]) { send(EngineMessage(binary: binary)) }

    /// Bytes queued for this client and not yet written.
    public var bufferedBytes: Int { transport.bufferedBytes }

    // MARK: Receiving

    func transport(_ from: EngineTransport, received packet: EnginePacket) {
        if from !== transport {
            probeReceived(packet, from: from)
            return
        }
        guard state == .open else { return }
        switch packet.type {
        case .message:
            server.counters.packetsIn &+= 1
            server.counters.bytesIn &+= UInt64(packet.data.count)
            if packet.isBinary {
                delegate?.engineSocket(self, didReceiveBinary: packet.data)
            } else {
                delegate?.engineSocket(self, didReceiveText: packet.data)
            }
        case .pong:
            // v3: the server never pings, so a pong is the wrong heartbeat direction, as for the reference.
            guard protocolVersion == .v4 else { return close(reason: .transportError) }
            awaitingPong = false
            heartbeatDeadline = server.loop.now + server.options.pingInterval
            reschedule()
        case .close:
            close(reason: .transportClose)
        case .ping:
            // v4: only the server pings (a probe ping arrives on the probing WebSocket, not here).
            guard protocolVersion == .v3 else { return close(reason: .transportError) }
            heartbeatDeadline = server.loop.now + heartbeatWindow
            reschedule()
            transport.send(EngineMessage.pong)
        case .open, .upgrade, .noop:
            break
        }
    }

    func transportFailedToDecode(_ from: EngineTransport) {
        if from === transport { close(reason: .parseError) } else { abandonProbe() }
    }

    func transportClosed(_ from: EngineTransport, reason: EngineCloseReason) {
        if from === transport {
            finish(reason)
        } else if from === probe {
            probe = nil
            upgradeDeadline = .max
            reschedule()
        }
    }

    // MARK: Upgrade (polling -> websocket)

    /// Whether a WebSocket with this sid may start probing.
    var canUpgrade: Bool { state == .open && probe == nil && transport.name == .polling && server.options.allowUpgrades }

    func beginUpgrade(_ candidate: WebSocketTransport) {
        probe = candidate
        probeAnswered = false
        candidate.attach(to: self)
        upgradeDeadline = server.loop.now + server.options.upgradeTimeout
        reschedule()
    }

    private func probeReceived(_ packet: EnginePacket, from candidate: EngineTransport) {
        guard candidate === probe, let probe else { return }
        if packet.type == .ping, packet.data == Array("probe".utf8), !probeAnswered {
            probeAnswered = true
            probe.send(EngineMessage.probePong)
            // Release the pending GET so the client can pause polling and send the upgrade packet.
            (transport as? PollingTransport)?.releaseForUpgrade()
        } else if packet.type == .upgrade, state == .open {
            // With or without the probe exchange, as the reference's maybeUpgrade accepts it.
            let old = transport
            transport = probe
            self.probe = nil
            upgradeDeadline = .max
            reschedule()
            (old as? PollingTransport)?.handOver(to: probe)
            old.discard()
            server.counters.upgrades &+= 1
            server.onUpgrade?(self)
        } else {
            abandonProbe()
        }
    }

    private func abandonProbe() {
        guard let candidate = probe else { return }
        probe = nil
        upgradeDeadline = .max
        (transport as? PollingTransport)?.upgradeAbandoned()
        candidate.discard()
        candidate.closeConnection()
        reschedule()
    }

    // MARK: Heartbeat and timeouts

    /// Until the first ping (v4: the server's), or the latest a client ping may come (v3). After an upgrade a v3
    /// session keeps this deadline; the reference drops its timer there (clearTransport), which leaves a silent
    /// upgraded v3 client connected until TCP notices.
    private var heartbeatWindow: UInt64 {
        protocolVersion == .v3 ? server.options.pingInterval + server.options.pingTimeout : server.options.pingInterval
    }

    private func reschedule() {
        guard state != .closed else {
            server.loop.cancelTimer(self)
            return
        }
        let deadline = state == .closing ? closeDeadline : min(heartbeatDeadline, upgradeDeadline)
        server.loop.schedule(self, at: deadline)
    }

    public func timerFired(now: UInt64) {
        switch state {
        case .closed:
            return
        case .closing:
            finish(.forcedClose)
            return
        case .open:
            break
        }
        if upgradeDeadline <= now {
            abandonProbe()
        }
        if heartbeatDeadline <= now {
            if awaitingPong || protocolVersion == .v3 {
                close(reason: .pingTimeout)
                return
            }
            awaitingPong = true
            transport.send(EngineMessage.ping)
            heartbeatDeadline = now + server.options.pingTimeout
        }
        reschedule()
    }

    // MARK: Closing

    /// Closes the session ("forced close" unless another reason is given). Queued messages are still delivered:
    /// over polling with the close packet on the next GET, over WebSocket before the close frame.
    public func close(reason: EngineCloseReason = .forcedClose) {
        guard state == .open else { return }
        abandonProbe()
        // The transport is always closed too, as the reference's clearTransport does.
        if !transport.close(reason: reason) {
            // Polling with no GET pending: keep the session until the client comes for the close packet.
            state = .closing
            closeDeadline = server.loop.now + server.options.pingInterval + server.options.pingTimeout
            notifyClosed(reason)
            reschedule()
            return
        }
        finish(reason)
    }

    /// A closing polling session delivered its close packet (or timed out): forget it.
    func finish(_ reason: EngineCloseReason) {
        guard state != .closed else { return }
        let wasOpen = state == .open
        state = .closed
        server.loop.cancelTimer(self)
        transport.discard()
        probe?.discard()
        probe?.closeConnection()
        probe = nil
        server.forget(self)
        if wasOpen { notifyClosed(reason) }
    }

    private func notifyClosed(_ reason: EngineCloseReason) {
        server.log.debug("socket \(id) closed: \(reason.rawValue)")
        server.counters.closed(reason)
        let owner = delegate
        delegate = nil
        owner?.engineSocket(self, didCloseWith: reason)
    }
}

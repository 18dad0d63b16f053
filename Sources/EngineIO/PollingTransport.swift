import EngineIOCodec
import SIOHTTP

/// Engine.IO over HTTP long-polling: the client holds at most one GET (answered with every queued packet, framed
/// by the session's `PollingFormat`) and sends packets with POSTs. Messages queued during one loop turn go out in
/// one response.
final class PollingTransport: EngineTransport {
    private unowned let server: EngineServer
    private let format: any PollingFormat
    private var pendingGet: HTTPExchange?
    private var queue: [EngineMessage] = []
    private var queuedBytes = 0
    private var flushScheduled = false
    /// Deliver a close packet on the next GET, then end the session.
    private var closeRequested = false
    /// A WebSocket is probing: answer GETs with a noop so the client can pause polling.
    private var upgrading = false
    /// A POST whose body is still arriving: a second POST meanwhile is an overlap.
    private var postInProgress: HTTPBodyToken?
    /// Headers for the first response only (the handshake's `Set-Cookie`).
    var handshakeHeaders: [(name: String, value: String)] = []

    init(server: EngineServer, format: any PollingFormat) {
        self.server = server
        self.format = format
    }

    override var name: EngineTransportName { .polling }
    override var isWritableNow: Bool { pendingGet != nil }
    override var bufferedBytes: Int { queuedBytes }

    // MARK: Requests

    func handle(_ exchange: HTTPExchange) {
        switch exchange.request.method {
        case "GET": handleGet(exchange)
        case "POST": handlePost(exchange)
        default: exchange.respond(HTTPResponse(status: 400, headers: server.corsHeaders(for: exchange.request)))
        }
    }

    private func handleGet(_ exchange: HTTPExchange) {
        if pendingGet != nil {
            // At most one GET in flight: refuse the second and end the session, as the reference does.
            exchange.respond(HTTPResponse(status: 400, headers: server.corsHeaders(for: exchange.request)))
            socket?.close(reason: .transportError)
            return
        }
        pendingGet = exchange
        exchange.onAbort = { [unowned self] in
            pendingGet = nil
            socket?.close(reason: .transportError)
        }
        if closeRequested {
            queue.append(EngineMessage.close)
            flush()
        } else if !queue.isEmpty {
            flush()
        } else if upgrading {
            queue.append(EngineMessage.noop)
            flush()
        }
    }

    func bodyStarted(_ token: HTTPBodyToken) {
        if postInProgress?.isActive != true { postInProgress = token }
    }

    /// POST bodies other loops are reading for this session (they move here once complete).
    private var remoteBodies: [RemotePostBody] = []

    func remoteBodyStarted(_ body: RemotePostBody) {
        if postInProgress?.isActive == true || !remoteBodies.isEmpty {
            // Two POSTs at once, one of them on another loop's connection: as for two here. The new one is answered
            // 400 when it arrives (its session is gone by then).
            overlap()
            return
        }
        remoteBodies.append(body)
    }

    func remoteBodyEnded(_ body: RemotePostBody) {
        remoteBodies.removeAll { $0 === body }
    }

    /// Two POSTs at once: the session closes and every POST still arriving has its connection dropped.
    private func overlap() {
        socket?.close(reason: .transportError)
        dropPendingPosts()
    }

    private func dropPendingPosts() {
        if let post = postInProgress, post.isActive { post.dropConnection() }
        postInProgress = nil
        for body in remoteBodies { body.drop() }
        remoteBodies.removeAll()
    }

    private func handlePost(_ exchange: HTTPExchange) {
        let headers = server.corsHeaders(for: exchange.request) + format.headers(for: exchange.request)
        if socket != nil, postInProgress?.isActive == true || !remoteBodies.isEmpty {
            // At most one POST in flight, as with GETs: the second is refused, the session closed, and the first
            // request's connection dropped (the reference destroys its data request on close).
            exchange.respond(HTTPResponse(status: 400, headers: headers), closeConnection: true)
            overlap()
            return
        }
        guard let socket else {
            // A closing session: the client's packets no longer matter.
            exchange.respond(HTTPResponse(status: 200, headers: headers + [("Content-Type", "text/html")], text: "ok"))
            return
        }
        guard case .packets(let packets, let error) = format.decode(exchange.request) else {
            exchange.respond(HTTPResponse(status: 400, headers: headers), closeConnection: true)
            socket.close(reason: .transportError)
            return
        }
        if error == nil {
            exchange.respond(HTTPResponse(status: 200, headers: headers + [("Content-Type", "text/html")], text: "ok"))
        }
        for packet in packets {
            guard let current = self.socket else { break }
            current.transport(self, received: packet)
        }
        if let error {
            // The packets before the bad one were delivered (v3, as the reference's parser hands them on).
            server.log.debug("polling body refused: \(error)")
            exchange.respond(HTTPResponse(status: 400, headers: headers), closeConnection: true)
            self.socket?.close(reason: .parseError)
        }
    }

    // MARK: Sending

    override func send(_ message: EngineMessage) {
        queue.append(message)
        queuedBytes += message.data.count + 1
        guard pendingGet != nil, !flushScheduled else { return }
        flushScheduled = true
        server.loop.atEndOfTurn { [self] in
            flushScheduled = false
            if pendingGet != nil, !queue.isEmpty { flush() }
        }
    }

    /// Answers the pending GET with everything queued.
    private func flush() {
        guard let exchange = pendingGet else { return }
        pendingGet = nil
        exchange.onAbort = nil
        let messages = queue
        queue.removeAll()
        queuedBytes = 0
        let (body, contentType) = format.encode(messages)
        var headers = server.corsHeaders(for: exchange.request) + format.headers(for: exchange.request)
        headers.append(("Content-Type", contentType))
        if !handshakeHeaders.isEmpty {
            headers.append(contentsOf: handshakeHeaders)
            handshakeHeaders = []
        }
        var response = HTTPResponse(status: 200, headers: headers, body: body)
        if let threshold = server.options.httpCompressionThreshold, body.count >= threshold,
           messages.allSatisfy({ $0.compress }),
           let encoding = HTTPCompression.negotiate(exchange.request.header("accept-encoding")),
           let compressed = HTTPCompression.compress(body, encoding: encoding) {
            response.body = compressed
            response.headers.append(("Content-Encoding", encoding.rawValue))
        }
        exchange.respond(response)
        // A deferred close was delivered: the session (already reported closed) can go.
        if closeRequested, messages.last === EngineMessage.close { socket?.finish(.forcedClose) }
    }

    // MARK: Upgrade

    func releaseForUpgrade() {
        upgrading = true
        if pendingGet != nil {
            if queue.isEmpty { queue.append(EngineMessage.noop) }
            flush()
        }
    }

    func upgradeAbandoned() {
        upgrading = false
    }

    /// The upgrade completed: what is still queued goes out over the WebSocket, in order.
    func handOver(to websocket: WebSocketTransport) {
        for message in queue where message.type != .noop { websocket.send(message) }
        queue.removeAll()
        queuedBytes = 0
    }

    // MARK: Closing

    override func close(reason: EngineCloseReason) -> Bool {
        if pendingGet != nil {
            // The client said goodbye itself: its pending GET only needs releasing (the reference sends a noop).
            queue.append(reason == .transportClose ? EngineMessage.noop : EngineMessage.close)
            flush()
            return true
        }
        guard reason == .forcedClose || reason == .serverShuttingDown else { return true }
        closeRequested = true
        return false
    }

    override func discard() {
        super.discard()
        // A POST still arriving for a session that is going away is abandoned, as the reference's doClose does.
        dropPendingPosts()
        if let exchange = pendingGet {
            pendingGet = nil
            exchange.onAbort = nil
            let (body, contentType) = format.encode([EngineMessage.noop])
            exchange.respond(HTTPResponse(status: 200, headers: server.corsHeaders(for: exchange.request)
                + format.headers(for: exchange.request) + [("Content-Type", contentType)], body: body))
        }
        queue.removeAll()
        queuedBytes = 0
    }
}

import SIOLoop

/// One request waiting for its response. The handler may answer at once or later (a long-polling GET is held
/// until there is something to send); if the client goes away first, `onAbort` runs instead.
public final class HTTPExchange {
    public let request: HTTPRequest
    private var connection: HTTPConnection?
    /// Runs once if the connection closes before `respond` was called. Loop thread.
    public var onAbort: (() -> Void)?

    init(request: HTTPRequest, connection: HTTPConnection) {
        self.request = request
        self.connection = connection
    }

    public var isAnswered: Bool { connection == nil }
    public var remoteAddress: String { connection?.tcp.remoteAddress ?? "" }

    /// Sends the response. With `closeConnection`, the connection closes after it is written.
    public func respond(_ response: HTTPResponse, closeConnection: Bool = false) {
        guard let connection else { return }
        self.connection = nil
        onAbort = nil
        connection.finish(self, response, close: closeConnection)
    }

    /// The connection, if this exchange may take it to another loop; the exchange is answered (by the new
    /// loop) from here on.
    func takeConnectionForTransfer() -> HTTPConnection? {
        guard let connection, connection.canHandOff(self) else { return nil }
        self.connection = nil
        onAbort = nil
        return connection
    }

    func abort() {
        connection = nil
        let abort = onAbort
        onAbort = nil
        abort?()
    }
}

/// An upgrade request handed to the application: accept it (take over the TCP connection) or refuse it.
public struct HTTPUpgrade {
    public let request: HTTPRequest
    public let connection: TCPConnection
    /// Bytes that followed the request in the same read: the start of the upgraded protocol.
    public let remainder: [UInt8]
}

/// Serves HTTP/1.1 on one TCP connection: parses requests, hands each to the server's handler in order (a second
/// pipelined request waits for the first's response), applies the idle and request timeouts, and on an `Upgrade`
/// request gives the TCP connection away.
final class HTTPConnection: ConnectionHandler, TimerTarget {
    let tcp: TCPConnection
    private unowned let server: HTTPServer
    private var parser: HTTPRequestParser?
    private var waiting: [HTTPRequest] = []
    private var current: HTTPExchange?
    private var closeAfterResponse = false
    /// The body being read, if any.
    private var bodyToken: HTTPBodyToken?
    var timerSlot = TimerSlot()

    init(tcp: TCPConnection, server: HTTPServer) {
        self.tcp = tcp
        self.server = server
        parser = HTTPRequestParser(limits: server.limits)
    }

    func start() {
        tcp.handler = self
        tcp.startReading()
        // A TLS handshake is bounded by its own timeout; the idle timer starts when it completes.
        if !tcp.isHandshaking { armIdleTimer() }
    }

    func connectionDidSecure(_ connection: TCPConnection) {
        if current == nil, waiting.isEmpty { armIdleTimer() }
    }

    /// Starts on a connection another loop handed over with `request` already read: answers it first.
    func start(with request: HTTPRequest) {
        tcp.handler = self
        waiting.append(request)
        dispatchNext()
    }

    /// True when `exchange` is all this connection holds: nothing pipelined after it, no partial request.
    func canHandOff(_ exchange: HTTPExchange) -> Bool {
        exchange === current && waiting.isEmpty && parser?.isInsideRequest != true && tcp.isOpen
    }

    /// Gives the connection to another loop once its output drained (see `HTTPExchange.transfer`).
    func handOff(_ request: HTTPRequest, _ deliver: @escaping (HTTPTransfer) -> Void) -> Bool {
        current = nil
        detach()
        tcp.detachDescriptor { detached in
            guard let detached else { return }
            deliver(HTTPTransfer(connection: detached, kind: .request(request)))
        }
        return true
    }

    // MARK: Reading

    func connectionDidRead(_ connection: TCPConnection, _ bytes: UnsafeRawBufferPointer) {
        guard let parser else { return }
        var outputs: [HTTPRequestParser.Output] = []
        do {
            try parser.feed(bytes, into: &outputs)
        } catch {
            refuse(status: error.status, message: "\(error)")
            return
        }
        let secure = tcp.isSecure
        for output in outputs {
            switch output {
            case .bodyStarted(var request):
                request.isSecure = secure
                let token = HTTPBodyToken()
                token.drop = { [tcp] in tcp.close(afterFlush: false) }
                bodyToken = token
                server.handler?.httpServer(receivingBodyOf: request, token: token)
            case .request(var request):
                request.isSecure = secure
                endBody()
                waiting.append(request)
            case .upgrade(var request, let remainder):
                request.isSecure = secure
                if current != nil || !waiting.isEmpty {
                    refuse(status: 400, message: "upgrade while requests are pending")
                    return
                }
                detach()
                server.handler?.httpServer(upgrade: HTTPUpgrade(request: request, connection: tcp, remainder: remainder))
                return
            }
        }
        // Bound what a pipelining client can make us hold: stop reading until the queue drains.
        if waiting.count > 8 { tcp.stopReading() }
        if parser.isInsideRequest { armRequestTimer() }
        dispatchNext()
    }

    private func endBody() {
        guard let token = bodyToken else { return }
        bodyToken = nil
        token.isActive = false
        token.drop = nil
        let onEnd = token.onEnd
        token.onEnd = nil
        onEnd?()
    }

    private func dispatchNext() {
        guard current == nil, !waiting.isEmpty, tcp.isOpen else {
            if current == nil, waiting.isEmpty { armIdleTimer() }
            return
        }
        let request = waiting.removeFirst()
        if waiting.count <= 8 { tcp.startReading() }
        if !request.keepAlive { closeAfterResponse = true }
        let exchange = HTTPExchange(request: request, connection: self)
        current = exchange
        server.loop.cancelTimer(self)
        if let handler = server.handler {
            handler.httpServer(handle: exchange)
        } else {
            exchange.respond(HTTPResponse(status: 404, text: "Not Found"))
        }
    }

    func finish(_ exchange: HTTPExchange, _ response: HTTPResponse, close: Bool) {
        guard exchange === current else { return }
        current = nil
        let closing = close || closeAfterResponse || server.isClosing
        tcp.write(response.serialized(keepAlive: !closing))
        if closing {
            tcp.close()
            return
        }
        dispatchNext()
    }

    private func refuse(status: Int, message: String) {
        server.log.debug("refusing request from \(tcp.remoteAddress): \(message)")
        endBody()
        parser?.deallocate()
        parser = nil
        waiting.removeAll()
        current?.abort()
        current = nil
        tcp.write(HTTPResponse(status: status, text: HTTPResponse.reason(status)).serialized(keepAlive: false))
        tcp.close()
    }

    // MARK: Timeouts

    private func armIdleTimer() {
        server.loop.schedule(self, afterMilliseconds: server.keepAliveTimeout)
    }

    private func armRequestTimer() {
        if !timerSlot.isScheduled || timerSlot.deadline > server.loop.now + server.requestTimeout {
            server.loop.schedule(self, afterMilliseconds: server.requestTimeout)
        }
    }

    func timerFired(now: UInt64) {
        // Only idle connections and unfinished requests are timed; a pending response has no timer.
        guard current == nil else { return }
        if parser?.isInsideRequest == true {
            refuse(status: 408, message: "request timeout")
        } else {
            tcp.close()
        }
    }

    // MARK: Closing

    /// Stops serving HTTP on this connection (it was upgraded): no parser, no timer, no registry entry.
    private func detach() {
        parser?.deallocate()
        parser = nil
        server.loop.cancelTimer(self)
        server.forget(self)
        tcp.handler = nil
    }

    /// Server shutdown: idle connections close now, busy ones after their response.
    func closeWhenIdle() {
        if current == nil { tcp.close() } else { closeAfterResponse = true }
    }

    func connectionDidClose(_ connection: TCPConnection) {
        endBody()
        parser?.deallocate()
        parser = nil
        server.loop.cancelTimer(self)
        waiting.removeAll()
        let pending = current
        current = nil
        pending?.abort()
        server.forget(self)
    }
}

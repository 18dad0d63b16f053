import SIOLoop

/// What an HTTP server does with requests. Called on the loop thread.
public protocol HTTPServerHandler: AnyObject {
    /// A complete request. Answer with `exchange.respond` now or later.
    func httpServer(handle exchange: HTTPExchange)
    /// An `Upgrade` request: the handler now owns `upgrade.connection` and must either take it over (set its
    /// handler) or write a refusal and close it.
    func httpServer(upgrade: HTTPUpgrade)
    /// The headers of a request with a body arrived; the body is still on its way. `token` stays active until the
    /// body is complete or the connection is gone. Optional (lets a server notice overlapping uploads).
    func httpServer(receivingBodyOf request: HTTPRequest, token: HTTPBodyToken)
}

extension HTTPServerHandler {
    public func httpServer(receivingBodyOf request: HTTPRequest, token: HTTPBodyToken) {}
}

/// Marks a request body that is still arriving.
public final class HTTPBodyToken {
    public internal(set) var isActive = true
    /// Set by the connection while the body arrives; cleared when it is complete or the connection is gone.
    var drop: (() -> Void)?
    /// Runs once when the body is complete or the connection is gone (whichever comes first). Loop thread.
    public var onEnd: (() -> Void)?
    init() {}

    /// Closes the connection the body is arriving on, at once (the request is abandoned). Loop thread.
    public func dropConnection() {
        let drop = drop
        self.drop = nil
        drop?()
    }
}

/// An HTTP/1.1 server on one loop: a listener and the connections still speaking HTTP.
public final class HTTPServer {
    public unowned let loop: EventLoop
    public let limits: HTTPLimits
    /// An idle keep-alive connection is closed after this long (Node's default, 5 s).
    public let keepAliveTimeout: UInt64
    /// A request must be complete this long after its first byte (slow clients cannot hold a connection forever).
    public let requestTimeout: UInt64
    /// Not retained (its owner is often the handler). `unowned`, not `weak`: a weakly referenced object keeps a side
    /// table for life and every retain of it takes the slow path, and the handler is typically the engine every
    /// message goes through. The handler must outlive this server, or be replaced first.
    public unowned(safe) var handler: (any HTTPServerHandler)?

    /// Set on a server of a multi-loop group that spreads the connections it accepts: returns true when it took
    /// the connection (to hand it to another loop), false to serve it here.
    public var distributeAccepted: ((TCPConnection) -> Bool)?

    private var listeners: [TCPListener] = []
    private var connections: [ObjectIdentifier: HTTPConnection] = [:]
    private(set) var isClosing = false
    let log = Logger("http")

    public init(loop: EventLoop, limits: HTTPLimits = HTTPLimits(), keepAliveTimeout: UInt64 = 5000,
                requestTimeout: UInt64 = 30_000) {
        self.loop = loop
        self.limits = limits
        self.keepAliveTimeout = keepAliveTimeout
        self.requestTimeout = requestTimeout
    }

    /// Listens on `host:port`; port 0 picks one (see `port`). May be called again for more addresses, plain and
    /// TLS side by side. With `tls`, connections accepted there speak HTTPS (and WSS). Returns the bound port.
    /// Loop thread.
    @discardableResult
    public func listen(host: String, port: Int, backlog: Int32 = 511, tls: TLSContext? = nil) throws -> Int {
        listeners.append(try TCPListener(loop: loop, host: host, port: port, backlog: backlog) { [unowned self] tcp in
            accept(tcp, tls: tls)
        })
        return lastPort
    }

    /// Listens on an already bound socket, which the server then owns (and closes). Returns its port. Loop thread.
    @discardableResult
    public func listen(fd: Int32, backlog: Int32 = 511, tls: TLSContext? = nil) throws -> Int {
        listeners.append(try TCPListener(loop: loop, fd: fd, backlog: backlog) { [unowned self] tcp in
            accept(tcp, tls: tls)
        })
        return lastPort
    }

    /// The port of the first listener (0 when not listening).
    public var port: Int { listeners.first?.port ?? 0 }
    /// The port of the newest listener.
    var lastPort: Int { listeners.last?.port ?? 0 }

    /// A TLS connection gets its session here, before it may be handed to another loop (the session goes along).
    func accept(_ tcp: TCPConnection, tls: TLSContext?, distribute: Bool = true) {
        if let tls, !tcp.secure(with: tls) { return }
        if distribute, let distributeAccepted, !isClosing, distributeAccepted(tcp) { return }
        register(tcp)?.start()
    }

    /// A new HTTP connection on `tcp`, or nil (and `tcp` closed) when the server is closing.
    func register(_ tcp: TCPConnection) -> HTTPConnection? {
        guard !isClosing else {
            tcp.close(afterFlush: false)
            return nil
        }
        let connection = HTTPConnection(tcp: tcp, server: self)
        connections[ObjectIdentifier(connection)] = connection
        return connection
    }

    func forget(_ connection: HTTPConnection) {
        connections.removeValue(forKey: ObjectIdentifier(connection))
    }

    /// Number of connections still speaking HTTP (upgraded ones are not counted).
    public var connectionCount: Int { connections.count }

    /// Stops listening and closes HTTP connections as soon as they are idle. Loop thread.
    public func close() {
        guard !isClosing else { return }
        isClosing = true
        for listener in listeners { listener.close() }
        listeners.removeAll()
        for connection in Array(connections.values) { connection.closeWhenIdle() }
    }
}

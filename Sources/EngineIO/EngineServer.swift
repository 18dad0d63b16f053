import EngineIOCodec
import SIOHTTP
import SIOLoop
import WebSocketCodec

/// An Engine.IO v4 server (and v3, with `allowEIO3`): handshakes, sessions by sid, the polling (XHR, and JSONP
/// for v3-era clients) and websocket transports and the upgrade between them, answered exactly as the reference
/// server answers (error codes 0-5, CORS, compression).
///
/// Lives on one loop; every method and callback runs on that loop's thread.
public final class EngineServer: HTTPServerHandler {
    public unowned let loop: EventLoop
    public let options: EngineOptions
    /// Called for each new session, after its open packet was queued.
    public var onConnection: ((EngineSocket) -> Void)?
    /// Requests outside `options.path` when this server listens itself (default: 404). With several loops it
    /// runs on the loop that received the request.
    public var onOtherRequest: ((HTTPExchange) -> Void)? {
        didSet { for sibling in siblings { sibling.loop.perform { sibling.onOtherRequest = self.onOtherRequest } } }
    }
    /// Every request refused with an Engine.IO error code (the reference's `connection_error` event).
    public var onConnectionError: ((EngineConnectionError) -> Void)? {
        didSet { for sibling in siblings { sibling.loop.perform { sibling.onConnectionError = self.onConnectionError } } }
    }

    /// Where this server sits in a multi-loop group: its loop's index, the number of loops, and how to move a
    /// connection to another loop's HTTP server. Nil for a server alone on its loop.
    public struct Shard {
        public let index: Int
        public let count: Int
        public let transfer: (HTTPTransfer, Int) -> Void
        /// The engine of the same path on loop `i` (for telling it of a POST body arriving here).
        public let peer: (Int) -> EngineServer?
        public init(index: Int, count: Int, transfer: @escaping (HTTPTransfer, Int) -> Void,
                    peer: @escaping (Int) -> EngineServer?) {
            self.index = index
            self.count = count
            self.transfer = transfer
            self.peer = peer
        }
    }

    /// Set by a multi-loop server before any request arrives. Session ids then start with a character naming the
    /// loop that owns them, and a request for another loop's session is moved there.
    public var shard: Shard?
    /// The engines of the other loops, on the first loop's engine only: handlers set here reach them too.
    public var siblings: [EngineServer] = []
    /// This loop's counts (sessions, packets, bytes, drops, refusals), for metrics. Loop thread only.
    public internal(set) var counters = EngineCounters()
    /// Called when a session of this loop completes its upgrade to WebSocket (the reference's `upgrade` event).
    public var onUpgrade: ((EngineSocket) -> Void)?
    /// Handlers for exact request paths outside `options.path` (a metrics endpoint), checked before
    /// `onOtherRequest`. Set before the server serves.
    public var exactRoutes: [String: (HTTPExchange) -> Void] = [:]

    private var sessions: [String: EngineSocket] = [:]
    private var http: HTTPServer?
    private var shutdownHook: Int?
    let log = Logger("engine")

    public init(loop: EventLoop, options: EngineOptions = EngineOptions()) {
        self.loop = loop
        self.options = options
        let heartbeat = ",\"pingInterval\":\(options.pingInterval),\"pingTimeout\":\(options.pingTimeout)"
        handshakeTail = Array((heartbeat + ",\"maxPayload\":\(options.maxHttpBufferSize)}").utf8)
        handshakeTailV3 = Array((heartbeat + "}").utf8)
    }

    /// The end of every open packet (after `upgrades`), the same for all sessions: built once.
    let handshakeTail: [UInt8]
    /// The v3 open packet's end: the v3 handshake has no `maxPayload`.
    let handshakeTailV3: [UInt8]

    /// Listens on its own HTTP server at `host:port` (port 0 picks one, see `port`), over TLS with `tls`. The
    /// server closes itself gracefully when the loop stops.
    public func listen(host: String = "0.0.0.0", port: Int, tls: TLSContext? = nil) throws {
        let server = HTTPServer(loop: loop, limits: httpLimits)
        server.handler = self
        try server.listen(host: host, port: port, tls: tls)
        serve(on: server)
    }

    /// Answers every request of `server` (an HTTP server on this loop that listens, or will, for this engine).
    public func serve(on server: HTTPServer) {
        server.handler = self
        http = server
        registerShutdown()
    }

    /// Limits an HTTP server in front of this engine should apply.
    public var httpLimits: HTTPLimits {
        var limits = options.httpLimits
        limits.maxBodyBytes = options.maxHttpBufferSize
        return limits
    }

    public var port: Int { http?.port ?? 0 }
    public var clientsCount: Int { sessions.count }
    /// Open sessions by transport (counted when asked: nothing is kept per packet).
    public var clientsByTransport: (polling: Int, websocket: Int) {
        var polling = 0
        for socket in sessions.values where socket.transportName == .polling { polling += 1 }
        return (polling, sessions.count - polling)
    }
    public func socket(id: String) -> EngineSocket? { sessions[id] }

    /// True for requests under `options.path`.
    public func handles(_ request: HTTPRequest) -> Bool {
        request.target.utf8.starts(with: options.path.utf8)  // bytes, not canonical equivalence
    }

    /// Closes every session and stops listening.
    public func close() {
        if let hook = shutdownHook {
            loop.removeShutdownHook(hook)
            shutdownHook = nil
        }
        for socket in Array(sessions.values) { socket.close(reason: .forcedClose) }
        // Polling sessions still waiting for a GET to carry their close packet will not get one: end them now.
        for socket in Array(sessions.values) { socket.finish(.forcedClose) }
        http?.close()
    }

    /// The shutdown hook reaches this server through a link, not a weak reference (see ShutdownLink).
    private let shutdownLink = ShutdownLink()

    func registerShutdown() {
        guard shutdownHook == nil else { return }
        shutdownLink.action = { [unowned self] in
            shutdownHook = nil
            close()
        }
        shutdownHook = loop.addShutdownHook(shutdownLink)
    }

    func forget(_ socket: EngineSocket) {
        if sessions[socket.id] === socket { sessions.removeValue(forKey: socket.id) }
    }

    // MARK: HTTP requests

    public func httpServer(handle exchange: HTTPExchange) {
        let request = exchange.request
        guard handles(request) else {
            if !exactRoutes.isEmpty, let route = exactRoutes[request.path] {
                route(exchange)
            } else if let other = onOtherRequest { other(exchange) } else {
                exchange.respond(HTTPResponse(status: 404, text: "Not Found"))
            }
            return
        }
        if options.cors != nil, request.method == "OPTIONS" {
            exchange.respond(preflightResponse(for: request))
            return
        }
        if let shard, let owner = owner(of: request, shard), exchange.transfer({ shard.transfer($0, owner) }) {
            return
        }
        if let refusal = verify(request, upgrade: false) {
            refuse(exchange, refusal)
            return
        }
        if let sid = request.queryValue("sid") {
            guard let polling = sessions[sid]?.transport as? PollingTransport else {
                refuse(exchange, EngineRequestRefusal(code: .badRequest, context: [
                    ("name", "TRANSPORT_MISMATCH"), ("transport", "polling"), ("previousTransport", "websocket")]))
                return
            }
            polling.handle(exchange)
            return
        }
        let version = EngineProtocol(queryValue: request.queryValue("EIO"))
        let polling = PollingTransport(server: self, format: pollingFormat(for: request, version))
        let socket = openSession(request: request, remoteAddress: exchange.remoteAddress, transport: polling,
                                 protocolVersion: version)
        if let cookie = options.cookie { polling.handshakeHeaders = [("Set-Cookie", cookieValue(cookie, socket.id))] }
        polling.handle(exchange)
        onConnection?(socket)
    }

    public func httpServer(receivingBodyOf request: HTTPRequest, token: HTTPBodyToken) {
        guard handles(request), let sid = request.queryValue("sid") else { return }
        if let shard, let owner = owner(of: request, shard), let peer = shard.peer(owner) {
            // The body is read here, then the request moves to its session's loop. Meanwhile that loop must know a
            // POST is under way, to refuse an overlapping one as it would its own.
            let loop = loop
            let body = RemotePostBody { loop.execute { token.dropConnection() } }
            token.onEnd = { peer.loop.execute { peer.remotePost(sid: sid, body, started: false) } }
            peer.loop.execute { peer.remotePost(sid: sid, body, started: true) }
            return
        }
        guard let polling = sessions[sid]?.transport as? PollingTransport else { return }
        polling.bodyStarted(token)
    }

    /// Another loop started (or stopped) reading a POST body for session `sid`.
    func remotePost(sid: String, _ body: RemotePostBody, started: Bool) {
        guard let polling = sessions[sid]?.transport as? PollingTransport else { return }
        if started { polling.remoteBodyStarted(body) } else { polling.remoteBodyEnded(body) }
    }

    public func httpServer(upgrade: HTTPUpgrade) {
        let request = upgrade.request
        let connection = upgrade.connection
        guard handles(request) else {
            connection.write(WebSocketHandshake.refusal(status: 400, message: "Bad Request"))
            connection.close()
            return
        }
        if let shard, let owner = owner(of: request, shard) {
            upgrade.transfer { shard.transfer($0, owner) }
            return
        }
        if let refusal = verify(request, upgrade: true) {
            connection.write(WebSocketHandshake.refusal(status: refusal.code.status,
                                                        message: refusal.message ?? refusal.code.message))
            connection.close()
            report(refusal, request: request, remoteAddress: connection.remoteAddress)
            return
        }
        if let problem = WebSocketHandshake.validate(request) {
            connection.write(WebSocketHandshake.refusal(status: 400, message: problem))
            connection.close()
            return
        }
        let sid = request.queryValue("sid")
        var extra: [(name: String, value: String)] = []
        // The first subprotocol offered is selected, as the `ws` library does without a handleProtocols hook.
        if let offered = request.header("sec-websocket-protocol"), let first = WebSocketHandshake.subprotocols(offered)?.first {
            extra.append(("Sec-WebSocket-Protocol", first))
        }
        if request.queryValue("transport") != EngineTransportName.websocket.rawValue {
            // A transport that does not handle upgrades (polling): the reference accepts the WebSocket and closes
            // it at once, without opening a session.
            connection.write(WebSocketHandshake.response(forKey: request.header("sec-websocket-key")!, extraHeaders: extra))
            let websocket = WebSocketConnection(tcp: connection, maxMessageSize: options.maxHttpBufferSize)
            websocket.start(remainder: [])
            websocket.closeWithoutStatus()
            return
        }
        let newID = sid == nil ? newSessionID() : nil
        if let newID, let cookie = options.cookie { extra.append(("Set-Cookie", cookieValue(cookie, newID))) }
        var deflate: PerMessageDeflate?
        if let terms = options.perMessageDeflate, let offer = request.header("sec-websocket-extensions"),
           let agreed = PerMessageDeflate.negotiate(offer: offer, options: terms) {
            deflate = PerMessageDeflate(parameters: agreed, options: terms)
            extra.append(("Sec-WebSocket-Extensions", agreed.responseHeaderValue))
        }
        connection.write(WebSocketHandshake.response(forKey: request.header("sec-websocket-key")!, extraHeaders: extra))
        let websocket = WebSocketConnection(tcp: connection, maxMessageSize: options.maxHttpBufferSize,
                                            perMessageDeflate: deflate)
        // An upgrade speaks its session's protocol; `b64` is the WebSocket request's own, as in the reference.
        let version = sid.flatMap { sessions[$0]?.protocolVersion } ?? EngineProtocol(queryValue: request.queryValue("EIO"))
        let transport = WebSocketTransport(connection: websocket, protocolVersion: version,
                                           supportsBinary: Self.supportsBinary(request), deflate: deflate,
                                           deflateThreshold: options.perMessageDeflateThreshold)
        if let sid {
            if let socket = sessions[sid], socket.canUpgrade {
                socket.beginUpgrade(transport)
            } else {
                // Already upgraded, upgrading, or upgrades are off: the reference accepts then closes.
                websocket.start(remainder: [])
                websocket.close(code: .normal)
                return
            }
            websocket.start(remainder: upgrade.remainder)
            return
        }
        let socket = openSession(id: newID, request: request, remoteAddress: connection.remoteAddress,
                                 transport: transport, protocolVersion: version)
        websocket.start(remainder: upgrade.remainder)
        onConnection?(socket)
    }

    private func openSession(id: String? = nil, request: HTTPRequest, remoteAddress: String,
                             transport: EngineTransport, protocolVersion: EngineProtocol) -> EngineSocket {
        var sid = id ?? newSessionID()
        while sessions[sid] != nil { sid = newSessionID() }
        let socket = EngineSocket(id: sid, request: request, remoteAddress: remoteAddress, server: self,
                                  transport: transport, protocolVersion: protocolVersion)
        sessions[sid] = socket
        counters.connections &+= 1
        let upgrades = transport.name == .polling && options.allowUpgrades && options.transports.contains(.websocket)
            ? ["websocket"] : []
        socket.open(upgrades: upgrades)
        log.debug("handshake \(sid) over \(transport.name.rawValue) from \(remoteAddress)")
        return socket
    }

    /// How a new polling session frames its bodies: by protocol, JSONP when a `j` parameter came with the
    /// handshake (served only with `allowEIO3`, the option of the clients that need it).
    private func pollingFormat(for request: HTTPRequest, _ version: EngineProtocol) -> any PollingFormat {
        let format: any PollingFormat = version == .v4 ? V4PollingFormat()
            : V3PollingFormat(supportsBinary: Self.supportsBinary(request))
        guard options.allowEIO3, let j = request.queryValue("j") else { return format }
        return JSONPPollingFormat(inner: format, index: JSONP.callbackIndex(j))
    }

    /// The reference's `!req._query.b64`: binary unless `b64` is there and not empty.
    private static func supportsBinary(_ request: HTTPRequest) -> Bool {
        (request.queryValue("b64") ?? "").isEmpty
    }

    // MARK: Loops

    private static let loopMarks = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
    /// Most loops a server can have: one session-id character names the loop.
    public static let maxLoops = loopMarks.count

    /// A new session id; with several loops its first character names this loop (114 random bits remain).
    private func newSessionID() -> String {
        var id = SecureRandom.identifier()
        if let shard {
            var bytes = Array(id.utf8)
            bytes[0] = EngineServer.loopMarks[shard.index]
            id = String(decoding: bytes, as: UTF8.self)
        }
        return id
    }

    /// The loop owning the session a request names, when that is another loop of the group.
    private func owner(of request: HTTPRequest, _ shard: Shard) -> Int? {
        guard let first = request.queryValue("sid")?.utf8.first,
              let index = EngineServer.loopMarks.firstIndex(of: first), index < shard.count, index != shard.index
        else { return nil }
        return index
    }

    /// The loop index a session id names (0 for a server alone on its loop).
    public static func loopIndex(ofSessionID id: String, loops: Int) -> Int {
        guard loops > 1, let first = id.utf8.first, let index = loopMarks.firstIndex(of: first), index < loops else {
            return 0
        }
        return index
    }

    // MARK: Verification, as the reference's `verify` and `handshake`

    /// Why a request is refused, if it is: the error code, the context the reference reports with it, and for
    /// `allowRequest` refusals the hook's message. The hook runs once per handshake.
    func verify(_ request: HTTPRequest, upgrade: Bool) -> EngineRequestRefusal? {
        let name = request.queryValue("transport")
        guard let name, let transport = EngineTransportName(rawValue: name), options.transports.contains(transport) else {
            return EngineRequestRefusal(code: .unknownTransport, context: [("transport", name ?? "")])
        }
        // The HTTP layer refuses such values already; kept as the reference's check, in case a request comes by
        // another way.
        if let origin = request.header("origin"), !HTTPHeaders.isFieldValue(origin.utf8) {
            return EngineRequestRefusal(code: .badRequest, context: [("name", "INVALID_ORIGIN"), ("origin", origin)])
        }
        if let sid = request.queryValue("sid") {
            guard let socket = sessions[sid] else { return EngineRequestRefusal(code: .unknownSid, context: [("sid", sid)]) }
            if !upgrade, socket.transportName != transport {
                return EngineRequestRefusal(code: .badRequest, context: [
                    ("name", "TRANSPORT_MISMATCH"), ("transport", name), ("previousTransport", socket.transportName.rawValue)])
            }
            return nil
        }
        guard request.method == "GET" else {
            return EngineRequestRefusal(code: .badHandshakeMethod, context: [("method", request.method)])
        }
        if transport == .websocket, !upgrade {
            return EngineRequestRefusal(code: .badRequest, context: [("name", "TRANSPORT_HANDSHAKE_ERROR")])
        }
        if let allow = options.allowRequest, let refusal = allow(request) {
            return EngineRequestRefusal(code: .forbidden, message: refusal.message, context: [("message", refusal.message)])
        }
        // As the reference: "4" is v4, anything else (or nothing) is v3, which needs allowEIO3.
        let version = request.queryValue("EIO")
        guard EngineProtocol(queryValue: version) == .v4 || options.allowEIO3 else {
            return EngineRequestRefusal(code: .unsupportedProtocolVersion, context: [("protocol", version ?? "")])
        }
        return nil
    }

    private func refuse(_ exchange: HTTPExchange, _ refusal: EngineRequestRefusal) {
        let code = refusal.code
        let remoteAddress = exchange.remoteAddress  // gone once answered
        var body: [UInt8] = Array("{\"code\":\(code.rawValue),\"message\":".utf8)
        JSONText.appendQuoted(refusal.message ?? code.message, to: &body)
        body.append(UInt8(ascii: "}"))
        var headers = corsHeaders(for: exchange.request)
        headers.append(("Content-Type", "application/json"))
        exchange.respond(HTTPResponse(status: code.status, headers: headers, body: body))
        report(refusal, request: exchange.request, remoteAddress: remoteAddress)
    }

    private func report(_ refusal: EngineRequestRefusal, request: HTTPRequest, remoteAddress: String) {
        counters.handshakeErrors[refusal.code.rawValue] &+= 1
        log.debug("refused \(request.method) \(request.target) from \(remoteAddress): \(refusal.code.message)")
        onConnectionError?(EngineConnectionError(request: request, remoteAddress: remoteAddress, code: refusal.code,
                                                 context: refusal.context))
    }

    // MARK: Headers

    /// CORS headers for a response to `request` (none when CORS is off).
    func corsHeaders(for request: HTTPRequest) -> [(name: String, value: String)] {
        guard let cors = options.cors else { return [] }
        var headers: [(name: String, value: String)] = []
        let origin = request.header("origin")
        switch cors.origin {
        case .any:
            headers.append(("Access-Control-Allow-Origin", "*"))
        case .reflect:
            if let origin { headers.append(("Access-Control-Allow-Origin", origin)) }
            headers.append(("Vary", "Origin"))
        case .list(let allowed):
            if let origin, allowed.contains(origin) { headers.append(("Access-Control-Allow-Origin", origin)) }
            headers.append(("Vary", "Origin"))
        }
        if cors.credentials { headers.append(("Access-Control-Allow-Credentials", "true")) }
        return headers
    }

    private func preflightResponse(for request: HTTPRequest) -> HTTPResponse {
        var headers = corsHeaders(for: request)
        guard let cors = options.cors else { return HTTPResponse(status: 204, headers: headers) }
        headers.append(("Access-Control-Allow-Methods", cors.methods.joined(separator: ",")))
        if let allowed = cors.allowedHeaders {
            headers.append(("Access-Control-Allow-Headers", allowed.joined(separator: ",")))
        } else if let asked = request.header("access-control-request-headers") {
            headers.append(("Access-Control-Allow-Headers", asked))
            headers.append(("Vary", "Access-Control-Request-Headers"))
        }
        if let maxAge = cors.maxAge { headers.append(("Access-Control-Max-Age", String(maxAge))) }
        return HTTPResponse(status: 204, headers: headers)
    }

    private func cookieValue(_ cookie: CookieOptions, _ sid: String) -> String {
        var value = "\(cookie.name)=\(sid); Path=\(cookie.path)"
        if cookie.httpOnly { value += "; HttpOnly" }
        if !cookie.sameSite.isEmpty { value += "; SameSite=\(cookie.sameSite)" }
        return value
    }
}

/// A POST body another loop is reading for a session of this loop; `drop` closes that connection (on its loop).
final class RemotePostBody {
    let drop: () -> Void
    init(drop: @escaping () -> Void) { self.drop = drop }
}

/// JSON string quoting for the few JSON texts this layer writes itself.
enum JSONText {
    static func appendQuoted(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                                        hex[Int(byte >> 4)], hex[Int(byte & 15)]])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}

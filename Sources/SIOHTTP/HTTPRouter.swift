/// Sends requests to handlers by path prefix (several Engine.IO servers, or an application's pages, on one port)
/// or by exact path (a file). The first route that matches wins. Loop thread.
public final class HTTPRouter: HTTPServerHandler {
    private var routes: [(prefix: String, exact: Bool, handler: any HTTPServerHandler)] = []
    /// Requests no route takes (default: 404).
    public var fallback: ((HTTPExchange) -> Void)?

    public init() {}

    /// Routes requests whose target starts with `prefix` to `handler` (kept alive by the router).
    public func add(prefix: String, _ handler: any HTTPServerHandler) {
        routes.append((prefix, false, handler))
    }

    /// Routes requests for exactly `path` (the query aside) to `handler`: `/socket.io/socket.io.js` must not also
    /// answer `/socket.io/socket.io.js.map`.
    public func add(path: String, _ handler: any HTTPServerHandler) {
        routes.append((path, true, handler))
    }

    private func route(_ request: HTTPRequest) -> (any HTTPServerHandler)? {
        routes.first { route in
            // Exact bytes, not canonical string equivalence.
            route.exact ? request.path.utf8.elementsEqual(route.prefix.utf8) : request.target.utf8.starts(with: route.prefix.utf8)
        }?.handler
    }

    public func httpServer(handle exchange: HTTPExchange) {
        if let handler = route(exchange.request) {
            handler.httpServer(handle: exchange)
        } else if let fallback {
            fallback(exchange)
        } else {
            exchange.respond(HTTPResponse(status: 404, text: "Not Found"))
        }
    }

    public func httpServer(receivingBodyOf request: HTTPRequest, token: HTTPBodyToken) {
        route(request)?.httpServer(receivingBodyOf: request, token: token)
    }

    public func httpServer(upgrade: HTTPUpgrade) {
        if let handler = route(upgrade.request) {
            handler.httpServer(upgrade: upgrade)
        } else {
            upgrade.connection.write(WebSocketHandshake.refusal(status: 400, message: "Bad Request"))
            upgrade.connection.close()
        }
    }
}

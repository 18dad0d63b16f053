/// Sends requests to handlers by path prefix (several Engine.IO servers, or an application's pages, on one port).
/// The first route whose prefix starts the request target wins. Loop thread.
public final class HTTPRouter: HTTPServerHandler {
    private var routes: [(prefix: String, handler: any HTTPServerHandler)] = []
    /// Requests no route takes (default: 404).
    public var fallback: ((HTTPExchange) -> Void)?

    public init() {}

    /// Routes requests whose target starts with `prefix` to `handler` (kept alive by the router).
    public func add(prefix: String, _ handler: any HTTPServerHandler) {
        routes.append((prefix, handler))
    }

    private func route(_ request: HTTPRequest) -> (any HTTPServerHandler)? {
        routes.first { request.target.utf8.starts(with: $0.prefix.utf8) }?.handler  // exact bytes
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

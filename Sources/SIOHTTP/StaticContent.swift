/// Serves one in-memory body (a page, the client bundle) at the paths it is routed to. GET and HEAD only.
public final class StaticContent: HTTPServerHandler {
    public let body: [UInt8]
    public let contentType: String
    public let cacheControl: String

    public init(body: [UInt8], contentType: String, cacheControl: String = "public, max-age=3600") {
        self.body = body
        self.contentType = contentType
        self.cacheControl = cacheControl
    }

    public func httpServer(handle exchange: HTTPExchange) {
        let method = exchange.request.method
        guard method == "GET" || method == "HEAD" else {
            exchange.respond(HTTPResponse(status: 405, headers: [("Allow", "GET, HEAD")]))
            return
        }
        var response = HTTPResponse(status: 200, headers: [("Content-Type", contentType), ("Cache-Control", cacheControl)],
                                    body: body)
        if method == "HEAD" {
            response.headers.append(("Content-Length", String(body.count)))
            response.body = []
        }
        exchange.respond(response)
    }

    public func httpServer(upgrade: HTTPUpgrade) {
        upgrade.connection.write(WebSocketHandshake.refusal(status: 400, message: "Bad Request"))
        upgrade.connection.close()
    }
}

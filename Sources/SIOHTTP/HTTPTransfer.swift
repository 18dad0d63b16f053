import SIOLoop

/// A connection on its way from one loop to another, with what was already read on it: the socket descriptor
/// (owned by the transfer until a server adopts it) with the TLS session of a TLS connection, and the request that
/// made it move, if any. A multi-loop server moves a request to the loop that owns its session
/// (`HTTPServer.adopt`), and spreads new connections over its loops the same way. Immutable, so it can cross
/// threads (the TLS session is used by no thread while it travels).
public struct HTTPTransfer: @unchecked Sendable {
    public enum Kind: Sendable {
        /// A freshly accepted connection: nothing read yet.
        case connection
        /// A complete request to answer on the new loop; the connection then goes on serving HTTP there.
        case request(HTTPRequest)
        /// An upgrade request; `remainder` holds the bytes read after it (the start of the WebSocket stream).
        case upgrade(HTTPRequest, remainder: [UInt8])
    }

    public let connection: DetachedConnection
    public let kind: Kind

    public init(connection: DetachedConnection, kind: Kind) {
        self.connection = connection
        self.kind = kind
    }

    public var descriptor: Int32 { connection.descriptor }
}

extension HTTPExchange {
    /// Moves this exchange's connection to another loop: `deliver` gets the transfer (on this loop's thread, once
    /// output already queued on the connection was written) and must hand it to an `HTTPServer.adopt` there.
    /// False, with nothing moved, when the connection holds more than this request (pipelined requests or a
    /// partial one), which only the loop that read it can serve; then answer here. Loop thread.
    public func transfer(_ deliver: @escaping (HTTPTransfer) -> Void) -> Bool {
        guard let connection = takeConnectionForTransfer() else { return false }
        return connection.handOff(request) { deliver($0) }
    }
}

extension HTTPUpgrade {
    /// Moves the upgrading connection to another loop (see `HTTPExchange.transfer`). The handler owns the
    /// connection, so this always goes through; `deliver` is not called if the peer closes first. Loop thread.
    public func transfer(_ deliver: @escaping (HTTPTransfer) -> Void) {
        let request = request
        let remainder = remainder
        connection.detachDescriptor { detached in
            guard let detached else { return }
            deliver(HTTPTransfer(connection: detached, kind: .upgrade(request, remainder: remainder)))
        }
    }
}

extension HTTPServer {
    /// Takes over a connection another loop's server handed over: a new connection is served as if accepted
    /// here, a request is answered here (the connection keeps serving HTTP on this loop), an upgrade goes to the
    /// handler. Loop thread.
    public func adopt(_ transfer: HTTPTransfer) {
        guard let tcp = TCPConnection.adopt(transfer.connection, loop: loop) else {
            log.warn("could not adopt a connection from another loop")
            return
        }
        switch transfer.kind {
        case .connection:
            accept(tcp, tls: nil, distribute: false)
        case .request(let request):
            guard let connection = register(tcp) else { return }
            connection.start(with: request)
        case .upgrade(let request, let remainder):
            guard let handler, !isClosing else {
                tcp.close(afterFlush: false)
                return
            }
            handler.httpServer(upgrade: HTTPUpgrade(request: request, connection: tcp, remainder: remainder))
        }
    }
}

import SIOLoop

/// HTTP servers on several loops (one each) behind one port: a multi-loop server's front door. New connections
/// are spread over the loops, and any server can move a connection to another loop (`transfer(_:to:)`), so a
/// request is served by the loop that owns its session whichever loop accepted it.
public final class HTTPServerGroup: @unchecked Sendable {
    /// How new connections are spread over the loops.
    public enum Balancing: String, Sendable {
        /// Every loop listens on the port (SO_REUSEPORT); the kernel picks a loop per connection (by a hash of
        /// the addresses), with no hand-over.
        case reusePort = "reuseport"
        /// The first loop accepts every connection and hands them to the loops in turn.
        case roundRobin = "round-robin"
    }

    /// `servers[i]` runs on the i-th loop.
    public let servers: [HTTPServer]
    public let balancing: Balancing
    private var nextLoop = 0

    public init(servers: [HTTPServer], balancing: Balancing = .reusePort) {
        precondition(!servers.isEmpty, "a group needs at least one server")
        self.servers = servers
        self.balancing = servers.count == 1 ? .reusePort : balancing
        if servers.count > 1, self.balancing == .roundRobin {
            servers[0].distributeAccepted = { [unowned self] tcp in distribute(tcp) }
        }
    }

    /// Listens on `host:port` (port 0 picks one, the same for every loop), with TLS when `tls` is given. May be
    /// called again for more addresses (plain and TLS side by side). Call on the first loop's thread or before it
    /// runs; the other loops get their listeners through their submit queues if they already run.
    /// Returns the bound port.
    @discardableResult
    public func listen(host: String, port: Int, backlog: Int32 = 511, tls: TLSContext? = nil) throws -> Int {
        guard servers.count > 1, balancing != .roundRobin else {
            return try servers[0].listen(host: host, port: port, backlog: backlog, tls: tls)
        }
        // Every socket must have SO_REUSEPORT before the first bind; bind them all here so errors surface now.
        let first = try TCPListener.reusePortSocket(host: host, port: port, backlog: backlog)
        let bound = try servers[0].listen(fd: first, backlog: backlog, tls: tls)
        var descriptors: [Int32] = []
        do {
            for _ in servers.dropFirst() {
                descriptors.append(try TCPListener.reusePortSocket(host: host, port: bound, backlog: backlog))
            }
        } catch {
            for fd in descriptors { _ = SystemCalls.close(fd) }
            throw error
        }
        for (server, fd) in zip(servers.dropFirst(), descriptors) {
            server.loop.perform {
                do {
                    try server.listen(fd: fd, backlog: backlog, tls: tls)
                } catch {
                    server.log.error("loop could not listen: \(error)")
                }
            }
        }
        return bound
    }

    /// Listens on an already bound socket: the first loop accepts and hands connections to the others in turn.
    @discardableResult
    public func listen(fd: Int32, backlog: Int32 = 511, tls: TLSContext? = nil) throws -> Int {
        if servers.count > 1, servers[0].distributeAccepted == nil {
            servers[0].distributeAccepted = { [unowned self] tcp in distribute(tcp) }
        }
        return try servers[0].listen(fd: fd, backlog: backlog, tls: tls)
    }

    /// The port of the first loop's first listener.
    public var port: Int { servers[0].port }

    /// Hands `transfer` to loop `index`'s server. Any thread; the descriptor is closed if that loop has stopped.
    public func transfer(_ transfer: HTTPTransfer, to index: Int) {
        guard servers.indices.contains(index) else {
            transfer.connection.discard()
            return
        }
        let server = servers[index]
        if server.loop.isInLoopThread {
            server.adopt(transfer)
        } else if !server.loop.execute({ server.adopt(transfer) }) {
            transfer.connection.discard()
        }
    }

    /// Round robin from the accepting loop: true when the connection went to another loop.
    private func distribute(_ tcp: TCPConnection) -> Bool {
        let index = nextLoop
        nextLoop = (nextLoop + 1) % servers.count
        guard index != 0 else { return false }
        tcp.detachDescriptor { [self] detached in
            guard let detached else { return }
            transfer(HTTPTransfer(connection: detached, kind: .connection), to: index)
        }
        return true
    }
}

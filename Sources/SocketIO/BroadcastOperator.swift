import SocketIOCodec

/// A broadcast being described: rooms, exclusions and flags, then an emit. Immutable, as in the reference:
/// every call returns a new operator, so a shared one can be reused safely.
public struct BroadcastOperator {
    let namespace: Namespace
    public private(set) var options: BroadcastOptions

    init(namespace: Namespace, options: BroadcastOptions = BroadcastOptions()) {
        self.namespace = namespace
        self.options = options
    }

    /// Also to sockets in `room`.
    public func to(_ room: String) -> BroadcastOperator { to([room]) }
    public func to(_ rooms: [String]) -> BroadcastOperator {
        var copy = self
        copy.options.rooms.formUnion(rooms)
        return copy
    }
    /// `in` is `to`, as in the reference.
    public func `in`(_ room: String) -> BroadcastOperator { to(room) }

    /// Not to sockets in `room`.
    public func except(_ room: String) -> BroadcastOperator { except([room]) }
    public func except(_ rooms: [String]) -> BroadcastOperator {
        var copy = self
        copy.options.except.formUnion(rooms)
        return copy
    }

    /// Recipients that cannot take the packet now do without it.
    public var volatile: BroadcastOperator {
        var copy = self
        copy.options.flags.volatile = true
        return copy
    }

    public func compress(_ enabled: Bool) -> BroadcastOperator {
        var copy = self
        copy.options.flags.compress = enabled
        return copy
    }

    /// This node only (with an adapter spanning several servers).
    public var local: BroadcastOperator {
        var copy = self
        copy.options.flags.local = true
        return copy
    }

    /// Acknowledgements of the next `emit(_:_:ack:)` are awaited this many milliseconds.
    public func timeout(_ milliseconds: UInt64) -> BroadcastOperator {
        var copy = self
        copy.options.flags.timeout = milliseconds
        return copy
    }

    // MARK: Emitting

    /// The namespace of the calling loop: an operator made on one loop may be used on another.
    private var target: Namespace { namespace.here }

    public func emit(_ event: String, _ arguments: SocketIOArguments = .none) {
        let namespace = target
        namespace.counters.broadcasts &+= 1
        namespace.adapter.broadcast(OutgoingEvent(event: event, arguments: arguments), options: options)
    }

    public func emit(_ event: String, _ values: JSONValue...) {
        emit(event, SocketIOArguments(values))
    }

    /// Emits and collects every recipient's acknowledgement. `completion` gets `nil` and all replies once every
    /// reached client answered, `.timeout` and the replies so far when the timeout (default 5000 ms) expires, or
    /// `.disconnected` and the replies so far if the server closes first. It is called exactly once.
    public func emit(_ event: String, _ arguments: SocketIOArguments,
                     ack completion: @escaping (SocketIOError?, [SocketIOArguments]) -> Void) {
        let namespace = target
        namespace.counters.broadcasts &+= 1
        let collector = BroadcastAckCollector(loop: namespace.server.loop) { error, replies in
            if error == .timeout { namespace.counters.acksTimedOut &+= 1 }
            completion(error, replies)
        }
        namespace.track(collector)
        namespace.server.loop.schedule(collector, afterMilliseconds: options.flags.timeout ?? 5000)
        namespace.adapter.broadcastWithAck(
            OutgoingEvent(event: event, arguments: arguments), options: options,
            clientCount: { count in collector.expect(count) },
            ack: { reply in collector.receive(reply) })
        namespace.adapter.serverCount { servers in collector.expectServers(servers) }
    }

    // MARK: Operations on the sockets reached

    public func fetchSockets(_ completion: @escaping ([RemoteSocket]) -> Void) {
        target.adapter.fetchSockets(options, completion: completion)
    }

    /// Makes the sockets reached join `rooms` (on every node, with a cluster adapter).
    public func socketsJoin(_ rooms: [String]) { target.adapter.addSockets(options, rooms: rooms) }
    public func socketsJoin(_ rooms: String...) { socketsJoin(rooms) }
    /// Makes the sockets reached leave `rooms`.
    public func socketsLeave(_ rooms: [String]) { target.adapter.deleteSockets(options, rooms: rooms) }
    public func socketsLeave(_ rooms: String...) { socketsLeave(rooms) }

    /// Disconnects the sockets reached; with `close`, their whole connections.
    public func disconnectSockets(close: Bool = false) {
        target.adapter.disconnectSockets(options, close: close)
    }
}

import SocketIO

/// What both Redis adapters add to the adapter protocol: events between the servers of a cluster, and every room
/// of a namespace. Lets a host (sio-cluster-node, the C ABI) use either adapter the same way.
public protocol ClusterAdapter: SocketIOAdapter {
    /// Sends an event to the other nodes (never this one).
    func serverSideEmit(_ event: String, _ arguments: SocketIOArguments)
    /// The same, collecting every other node's answer: `.timeout` and the answers so far after `timeout` (default:
    /// the adapter's requests timeout), `.disconnected` when Redis cannot be reached.
    func serverSideEmit(_ event: String, _ arguments: SocketIOArguments, timeout: UInt64?,
                        ack completion: @escaping (SocketIOError?, [JSONValue]) -> Void)
    /// Handles events other nodes send with `serverSideEmit`.
    func onServerSideEmit(_ event: String, _ handler: @escaping ServerSideEmitHandler)
    /// Every room of the namespace the adapter can see (the streams adapter, as the reference's, sees this node's).
    func allRooms(completion: @escaping (SocketIOError?, Set<String>) -> Void)
    /// Milliseconds a request waits for the other nodes' answers.
    var requestsTimeout: UInt64 { get }
}

extension RedisAdapter: ClusterAdapter {
    public var requestsTimeout: UInt64 { options.requestsTimeout }
}

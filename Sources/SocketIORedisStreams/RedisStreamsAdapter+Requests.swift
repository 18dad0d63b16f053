import SocketIO
import SocketIORedis

// The cluster-wide API of the streams adapter: ClusterMessaging's requests (ClusterMessaging+Requests.swift).
extension RedisStreamsAdapter {
    public func fetchSockets(_ options: BroadcastOptions, completion: @escaping ([RemoteSocket]) -> Void) {
        clusterFetchSockets(options, completion: completion)
    }

    /// `fetchSockets` across the cluster; `error` is `.timeout` when a node did not answer in time (the flag's
    /// timeout, else `requestsTimeout`), with the sockets gathered so far.
    public func fetchSockets(_ options: BroadcastOptions, completion: @escaping (SocketIOError?, [RemoteSocket]) -> Void) {
        clusterFetchSockets(options, completion: completion)
    }

    public func serverSideEmit(_ event: String, _ arguments: SocketIOArguments = .none) {
        clusterServerSideEmit(event, arguments)
    }

    /// `serverSideEmitWithAck`: every other node's answer, or `.timeout` and the answers so far after `timeout`
    /// (default `requestsTimeout`), or `.disconnected` when Redis cannot be reached.
    public func serverSideEmit(_ event: String, _ arguments: SocketIOArguments, timeout: UInt64? = nil,
                               ack completion: @escaping (SocketIOError?, [JSONValue]) -> Void) {
        clusterServerSideEmit(event, arguments, timeout: timeout, ack: completion)
    }

    public func onServerSideEmit(_ event: String, _ handler: @escaping ServerSideEmitHandler) {
        clusterOnServerSideEmit(event, handler)
    }

    public func broadcastWithAck(_ event: OutgoingEvent, options: BroadcastOptions, clientCount: @escaping (Int) -> Void,
                                 ack: @escaping (SocketIOArguments) -> Void) {
        clusterBroadcastWithAck(event, options: options, clientCount: clientCount, ack: ack)
    }
}

/// Which channels a sharded adapter subscribes to (@socket.io/redis-adapter's `subscriptionMode`).
public enum ShardedSubscriptionMode: String, Sendable, CaseIterable {
    /// Two channels per namespace: `<prefix>#<nsp>#` and `<prefix>#<nsp>#<uid>#`.
    case `static` = "static"
    /// Also one per public room that exists on this node, `<prefix>#<nsp>#<room>#`: a broadcast to one room
    /// reaches only the nodes that have it. A room of 20 characters is taken for a socket id, as Node does
    /// (published on the namespace channel, not subscribed), and this node's socket ids are 20 characters.
    case dynamic = "dynamic"
    /// Like dynamic, with a channel for private rooms (socket ids) too: for much 1:1 messaging.
    case dynamicPrivate = "dynamic-private"
}

/// Options of the sharded pub/sub adapter, with the names and defaults of @socket.io/redis-adapter 8.3's
/// `createShardedAdapter`.
public struct RedisShardedAdapterOptions: Sendable {
    /// Prefix of the channels.
    public var channelPrefix = "socket.io"
    public var subscriptionMode = ShardedSubscriptionMode.dynamic
    /// Milliseconds to wait for the other nodes' answers (ClusterAdapter's `DEFAULT_TIMEOUT`).
    public var requestsTimeout: UInt64 = 5_000
    /// CLIENT SETNAME `<clientName>-pub` and `-ssub` (shows in CLIENT LIST).
    public var clientName: String?
    /// Reconnection backoff: the first retry after this many milliseconds, doubling per failure up to the maximum.
    public var reconnectMinimumDelay: UInt64 = 100
    public var reconnectMaximumDelay: UInt64 = 5_000

    public init(channelPrefix: String = "socket.io", subscriptionMode: ShardedSubscriptionMode = .dynamic,
                requestsTimeout: UInt64 = 5_000, clientName: String? = nil) {
        self.channelPrefix = channelPrefix
        self.subscriptionMode = subscriptionMode
        self.requestsTimeout = max(1, requestsTimeout)
        self.clientName = clientName
    }
}

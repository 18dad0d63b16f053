import SIOLoop
import SocketIO
import SocketIORedis

/// The Redis connections of one server on the sharded adapter, shared by the adapters of all its namespaces, as
/// Node's `pubClient` and `subClient`: `redis` sends SPUBLISH and PUBSUB SHARDNUMSUB (hiredis's async API; their
/// replies are plain), `subscriber` holds every SSUBSCRIBE (ShardedSubscriber: a connection that reads `smessage`
/// pushes itself). Loop thread only.
public final class RedisShardedClient {
    public let endpoint: RedisEndpoint
    public let options: RedisShardedAdapterOptions
    unowned let loop: EventLoop
    let redis: RedisClient
    let subscriber: ShardedSubscriber
    private var closed = false

    public init(loop: EventLoop, endpoint: RedisEndpoint, options: RedisShardedAdapterOptions = RedisShardedAdapterOptions()) {
        self.loop = loop
        self.endpoint = endpoint
        self.options = options
        redis = RedisClient(loop: loop, endpoint: endpoint, clientName: options.clientName,
                            reconnectMinimumDelay: options.reconnectMinimumDelay,
                            reconnectMaximumDelay: options.reconnectMaximumDelay)
        subscriber = ShardedSubscriber(loop: loop, endpoint: endpoint, clientName: options.clientName,
                                       minimumDelay: options.reconnectMinimumDelay,
                                       maximumDelay: options.reconnectMaximumDelay)
        // Closed while the loop still runs: its final walk would otherwise close the poll handle behind us.
        loop.addShutdownHook { [weak self] in self?.close() }
    }

    /// Messages that could not be handed to Redis since start.
    public var unpublished: Int { redis.unpublished }
    /// Messages received on the subscribed channels.
    public var received: Int { subscriber.received }

    func start() {
        guard !closed else { return }
        redis.startPublishing()
        subscriber.start()
    }

    /// SPUBLISH; false when it could not be sent (counted in `unpublished`).
    @discardableResult
    func publish(_ channel: String, _ payload: [UInt8]) -> Bool {
        !closed && redis.publish(channel, payload, command: "SPUBLISH")
    }

    /// Closes both connections for good.
    public func close() {
        guard !closed else { return }
        closed = true
        redis.close()
        subscriber.close()
    }
}

import SocketIO
import SocketIORedis

extension RedisShardedAdapter {
    /// An adapter factory for `io.adapterFactory`: one pair of connections per server (commands, sharded
    /// subscriptions), shared by the adapters of all its namespaces. Needs Redis 7 or later.
    ///
    /// ```swift
    /// io.adapterFactory = try RedisShardedAdapter.factory(url: "redis://127.0.0.1:6379",
    ///                                                     options: RedisShardedAdapterOptions(subscriptionMode: .static))
    /// ```
    public static func factory(url: String = "redis://127.0.0.1:6379",
                               options: RedisShardedAdapterOptions = RedisShardedAdapterOptions()) throws
        -> (Namespace) -> any SocketIOAdapter
    {
        let endpoint = try RedisEndpoint(url: url)
        let registry = ClientRegistry<RedisShardedClient>()
        return { namespace in
            let client = registry.client(for: namespace.server) {
                RedisShardedClient(loop: namespace.server.loop, endpoint: endpoint, options: options)
            }
            return RedisShardedAdapter(namespace: namespace, client: client)
        }
    }

    /// A factory on a client the caller made (to read its counters, or close it).
    public static func factory(client: RedisShardedClient) -> (Namespace) -> any SocketIOAdapter {
        { namespace in RedisShardedAdapter(namespace: namespace, client: client) }
    }
}

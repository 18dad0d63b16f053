import SocketIO
import SocketIORedis

extension RedisStreamsAdapter {
    /// An adapter factory for `io.adapterFactory`: one set of connections per server (commands, subscriptions,
    /// a reader per stream), shared by the adapters of all its namespaces.
    ///
    /// ```swift
    /// io.adapterFactory = try RedisStreamsAdapter.factory(url: "redis://127.0.0.1:6379")
    /// ```
    public static func factory(url: String = "redis://127.0.0.1:6379",
                               options: RedisStreamsAdapterOptions = RedisStreamsAdapterOptions()) throws
        -> (Namespace) -> any SocketIOAdapter
    {
        let endpoint = try RedisEndpoint(url: url)
        let registry = ClientRegistry<RedisStreamsClient>()
        return { namespace in
            let client = registry.client(for: namespace.server) {
                RedisStreamsClient(loop: namespace.server.loop, endpoint: endpoint, options: options)
            }
            return RedisStreamsAdapter(namespace: namespace, client: client)
        }
    }

    /// A factory on a client the caller made (to read its counters, or close it).
    public static func factory(client: RedisStreamsClient) -> (Namespace) -> any SocketIOAdapter {
        { namespace in RedisStreamsAdapter(namespace: namespace, client: client) }
    }
}

/// One client per server using a factory: two servers must not share subscriptions (their namespaces' channels
/// have the same names).
final class ClientRegistry<Client: AnyObject> {
    private var entries: [(server: WeakServer, client: Client)] = []

    func client(for server: SocketIOServer, make: () -> Client) -> Client {
        entries.removeAll { $0.server.value == nil }
        if let entry = entries.first(where: { $0.server.value === server }) { return entry.client }
        let client = make()
        entries.append((WeakServer(value: server), client))
        return client
    }

    private struct WeakServer {
        weak var value: SocketIOServer?
    }
}

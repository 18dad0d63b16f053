import SocketIO
import SocketIORedis

extension RedisStreamsAdapter: AdapterHealthReporting {
    /// The Redis connections under the stream reader, and a PING's round trip (RedisClient.health).
    public func health(_ completion: @escaping (AdapterHealth) -> Void) { client.redis.health(completion) }
}

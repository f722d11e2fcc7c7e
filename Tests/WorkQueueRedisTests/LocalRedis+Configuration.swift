import TestSupport
import WorkQueueRedis

extension LocalRedis {
    /// The client configuration for this server.
    var configuration: RedisConfiguration { RedisConfiguration(host: "127.0.0.1", port: port) }
}

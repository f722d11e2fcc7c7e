import TestSupport
import WorkQueueRedis

extension LocalRedis {
    /// The client configuration for this server.
    var configuration: RedisConfiguration { RedisConfiguration(host: "127.0.0.1", port: port) }
}

/// Runs `body` with a fresh redis-server, stopped afterwards.
func withRedis<T>(_ body: (LocalRedis) async throws -> T) async throws -> T {
    try await LocalRedis.with(body)
}

import Testing
import TestSupport
import WorkQueue
import WorkQueueRedis

/// AUTH (password, or ACL user and password) and SELECT, against a real server.
@Suite struct AuthenticationTests {
    @Test func aclUserPasswordAndDatabaseFromTheURL() async throws {
        let redis = try await LocalRedis()
        try await redis.cli("ACL", "SETUSER", "worker", "on", ">s3cret", "~*", "&*", "+@all")
        try await redis.cli("ACL", "SETUSER", "default", "off")
        let asWorker = ["--user", "worker", "--pass", "s3cret", "--no-auth-warning"]
        let configuration = try RedisConfiguration(url: "redis://worker:s3cret@127.0.0.1:\(redis.port)/3")
        let queue = try await RedisQueue.connect(name: "job2", configuration: configuration)
        try await queue.enqueue(["apple"])
        await queue.close()
        #expect(try await redis.cli(asWorker + ["-n", "3", "lrange", "job2", "0", "-1"]) == "apple")
        #expect(try await redis.cli(asWorker + ["-n", "0", "exists", "job2"]) == "0")

        let wrong = try RedisConfiguration(url: "redis://worker:nope@127.0.0.1:\(redis.port)")
        await #expect {
            _ = try await RedisQueue.connect(name: "job2", configuration: wrong, connectBudget: .seconds(2))
        } throws: { error in
            let message = "\(error)"
            return !message.contains("nope") && message.contains("127.0.0.1:\(redis.port)")
                && (message.contains("WRONGPASS") || message.contains("invalid username-password"))
        }
        await redis.stop()
    }

    @Test func passwordOnly() async throws {
        let redis = try await LocalRedis(arguments: ["--requirepass", "pw"], cliAuthentication: ["-a", "pw", "--no-auth-warning"])
        let queue = try await RedisQueue.connect(name: "q", configuration: try RedisConfiguration(url: "redis://:pw@127.0.0.1:\(redis.port)"))
        #expect(try await queue.enqueue(["a", "b"]) == 2)
        await queue.close()
        await #expect(throws: (any Error).self) {
            _ = try await RedisQueue.connect(name: "q", configuration: RedisConfiguration(host: "127.0.0.1", port: redis.port),
                                             connectBudget: .seconds(1)).counts()
        }
        await redis.stop()
    }
}

import Testing
import WorkQueueRedis

@Suite struct ConfigurationTests {
    @Test func parsesURLs() throws {
        let full = try RedisConfiguration(url: "redis://bob:s3cret@db.example:6380/2")
        #expect(full.host == "db.example" && full.port == 6380 && full.username == "bob" && full.password == "s3cret" && full.database == 2)
        let bare = try RedisConfiguration(url: "redis://localhost")
        #expect(bare.host == "localhost" && bare.port == 6379 && bare.password == nil && bare.database == 0)
        let passOnly = try RedisConfiguration(url: "redis://:pw@h:1")
        #expect(passOnly.username == nil && passOnly.password == "pw" && passOnly.port == 1)
    }

    @Test(arguments: ["http://x", "redis://", "redis://h:0", "redis://h:abc", "redis://h/x", "redis://:pw@h:99999"])
    func rejectsBadURL(url: String) {
        #expect(throws: RedisError.self) { try RedisConfiguration(url: url) }
    }

    @Test func passwordNeverShown() throws {
        let configuration = try RedisConfiguration(url: "redis://bob:s3cret@h:1/0")
        #expect(!configuration.description.contains("s3cret"))
        #expect(!"\(configuration)".contains("s3cret"))
        #expect(configuration.redactedDescription == "redis://bob:***@h:1/0")
        do {
            _ = try RedisConfiguration(url: "redis://bob:s3cret@h:notaport")
            Issue.record("should throw")
        } catch {
            #expect(!"\(error)".contains("s3cret"))
            // The port is not shown either: not a number, it may be a password (redis://:s3cret).
            #expect("\(error)".contains("the port (not shown) is not a number"))
        }
    }

    @Test func precedence() throws {
        let env = ["REDIS_URL": "redis://fromenv:1", "REDIS_SERVICE_HOST": "svc", "REDIS_SERVICE_PORT": "2"]
        #expect(try RedisConfiguration.resolve(flag: "redis://flag:3", environment: env).host == "flag")
        #expect(try RedisConfiguration.resolve(flag: nil, environment: env).host == "fromenv")
        let service = try RedisConfiguration.resolve(flag: nil, environment: ["REDIS_SERVICE_HOST": "svc", "REDIS_SERVICE_PORT": "2"])
        #expect(service.host == "svc" && service.port == 2)
        let fallback = try RedisConfiguration.resolve(flag: nil, environment: [:])
        #expect(fallback.host == "redis" && fallback.port == 6379)
    }
}

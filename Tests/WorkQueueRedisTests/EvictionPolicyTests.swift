import Testing
import TestSupport
import WorkQueueRedis

@Suite struct EvictionPolicyTests {
    @Test func parsesInfoMemory() {
        let info = "# Memory\r\nused_memory:1000\r\nmaxmemory:104857600\r\nmaxmemory_human:100.00M\r\nmaxmemory_policy:allkeys-lru\r\n"
        #expect(EvictionPolicy(info: info) == EvictionPolicy(name: "allkeys-lru", maxmemory: 104_857_600))
        #expect(EvictionPolicy(info: "# Memory\r\nused_memory:1\r\n") == nil)
    }

    @Test func onlyNoEvictionIsSilent() throws {
        #expect(EvictionPolicy(name: "noeviction", maxmemory: 1).warning(queue: "job2") == nil)
        let allKeys = try #require(EvictionPolicy(name: "allkeys-lfu", maxmemory: 10).warning(queue: "job2"))
        #expect(allKeys.contains("pending items (job2)") && allKeys.contains("noeviction"))
        let volatile = try #require(EvictionPolicy(name: "volatile-ttl", maxmemory: 10).warning(queue: "job2"))
        #expect(volatile.contains("job2:leased_by_session:*") && volatile.contains("TTL"))
        let unlimited = try #require(EvictionPolicy(name: "allkeys-random", maxmemory: 0).warning(queue: "q"))
        #expect(unlimited.contains("maxmemory is 0"))
    }

    @Test func readsTheServersPolicy() async throws {
        try await LocalRedis.with { redis in
            let queue = try await RedisQueue.connect(name: "q", configuration: RedisConfiguration(url: redis.url))
            #expect(try await queue.evictionPolicy().isNoEviction)
            try await redis.cli("CONFIG", "SET", "maxmemory-policy", "volatile-lru")
            #expect(try await queue.evictionPolicy().name == "volatile-lru")
            await queue.close()
        }
    }
}

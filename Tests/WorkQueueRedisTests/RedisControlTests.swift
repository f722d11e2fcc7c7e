import Foundation
import Testing
import TestSupport
import WorkQueue
@testable import WorkQueueRedis

/// Pause, cancel and the rate limit in the Redis scripts, on a real redis-server.
@Suite struct RedisControlTests {
    @Test func aBurstCannotExceedTheBucketAndTheTakeSaysHowLongToWait() async throws {
        try await LocalRedis.with { server in
            try await server.cli(["rpush", "rl"] + (0..<500).map(String.init))
            // 10/s: a burst of 1, then one item per 100 ms.
            let limited = try await RedisQueue.connect(name: "rl", configuration: server.configuration,
                                                       options: .init(rateLimit: RateLimit(parsing: "10/s")))
            defer { Task { await limited.close() } }
            let first = try await limited.exchange([], lease: 100, session: "s1", duration: .seconds(30))
            #expect(first.leases.count == 1)
            let wait = try #require(first.retryAfter)
            #expect(wait > .zero && wait <= .milliseconds(100))
            // Asking again at once: at most one more (100 ms may pass on a loaded machine).
            let second = try await limited.exchange([], lease: 100, session: "s1", duration: .seconds(30))
            #expect(second.leases.count <= 1)
            // The state is on the server, shared by every worker: a second connection is limited too.
            let other = try await RedisQueue.connect(name: "rl", configuration: server.configuration,
                                                     options: .init(rateLimit: RateLimit(parsing: "10/s")))
            defer { Task { await other.close() } }
            let third = try await other.exchange([], lease: 100, session: "s2", duration: .seconds(30))
            #expect(first.leases.count + second.leases.count + third.leases.count <= 3)
            let tat = try await server.cli("get", "rl:rate")
            #expect(Double(tat) != nil, "NAME:rate holds the theoretical arrival time: \(tat)")
            #expect(Int(try await server.cli("pttl", "rl:rate")) ?? -2 > 0)
            // 200/s from idle: at most the burst (20) in one take.
            try await server.cli("del", "rl:rate")
            let fast = try await RedisQueue.connect(name: "rl", configuration: server.configuration,
                                                    options: .init(rateLimit: RateLimit(parsing: "200/s")))
            defer { Task { await fast.close() } }
            let burst = try await fast.exchange([], lease: 100, session: "s3", duration: .seconds(30))
            #expect(burst.leases.count >= 1 && burst.leases.count <= 21)
            #expect(burst.retryAfter != nil)
            // No limit: everything asked for, no hint, and no rate key written.
            try await server.cli("del", "rl:rate")
            let free = try await RedisQueue.connect(name: "rl", configuration: server.configuration)
            defer { Task { await free.close() } }
            let all = try await free.exchange([], lease: 100, session: "s4", duration: .seconds(30))
            #expect(all.leases.count == 100 && all.retryAfter == nil)
            #expect(try await server.cli("exists", "rl:rate") == "0")
        }
    }

    @Test func aLargeCancelMovesInPagesAndRestoresInOrder() async throws {
        try await LocalRedis.with { server in
            let count = 25_000
            for start in stride(from: 0, to: count, by: 5000) {
                try await server.cli(["rpush", "big"] + (start..<start + 5000).map(String.init))
            }
            let queue = try await RedisQueue.connect(name: "big", configuration: server.configuration)
            defer { Task { await queue.close() } }
            #expect(try await queue.cancel(max: 1_000_000) == RedisQueue.controlPageSize)
            var moved = RedisQueue.controlPageSize
            while true {
                let page = try await queue.cancel(max: RedisQueue.controlPageSize)
                moved += page
                if page < RedisQueue.controlPageSize { break }
            }
            #expect(moved == count)
            #expect(try await server.cli("llen", "big") == "0")
            #expect(try await server.cli("llen", "big:cancelled") == "\(count)")
            #expect(try await server.cli("hexists", "big:control", "cancelled") == "1")
            #expect(try await queue.cancelledItems(offset: 24_998, limit: 10) == ["24998", "24999"])
            while try await queue.restoreCancelled(max: RedisQueue.controlPageSize) == RedisQueue.controlPageSize {}
            #expect(try await server.cli("lindex", "big", "0") == "0")
            #expect(try await server.cli("lindex", "big", "-1") == "24999")
            #expect(try await server.cli("llen", "big") == "\(count)")
            try await queue.clearCancelled()
            try await queue.setPaused(true)
            #expect(try await server.cli("hgetall", "big:control") == "paused\n1")
            try await queue.setPaused(false)
            #expect(try await server.cli("exists", "big:control") == "0")
        }
    }
}

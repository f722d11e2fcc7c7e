import Testing
import TestSupport
import WorkQueue
@testable import WorkQueueRedis

/// The safe producer's keys at the Redis level: the holds in `NAME:holds` (and a legacy
/// `NAME:open`) hold workers, `NAME:drained` is set by the atomic exit-0 decision and refuses
/// later pushes.
@Suite(.serialized) struct ProducerMarkTests {
    @Test func finishIfDrainedNeedsEveryListEmptyAndNoOpenMark() async throws {
        try await LocalRedis.with { server in
            let queue = try await RedisQueue.connect(name: "job2", configuration: server.configuration)
            defer { Task { await queue.close() } }
            try await server.cli("rpush", "job2", "apple")
            #expect(try await queue.finishIfDrained(session: "w1") == false)
            let leases = try await queue.lease(max: 1, session: "w1", duration: .seconds(30))
            // In flight: not drained.
            #expect(try await queue.finishIfDrained(session: "w1") == false)
            _ = try await queue.fail(try #require(leases.first), error: "boom", disposition: .retry(after: .seconds(60)))
            // Scheduled for a retry: not drained.
            #expect(try await queue.finishIfDrained(session: "w1") == false)
            try await server.cli("del", "job2:retry")
            // Held open by a producer: not drained, and nothing is marked.
            #expect(try await queue.open(producer: "p1", ttl: .seconds(30), reopen: false) == .done(1))
            #expect(try await queue.finishIfDrained(session: "w1") == false)
            #expect(try await server.cli("exists", "job2:drained") == "0")
            #expect(try await queue.close(producer: "someone-else") == false)
            #expect(try await server.cli("zrange", "job2:holds", "0", "-1") == "p1")
            #expect(try await server.cli("get", "job2:open") == "job2:holds")  // the mirror older workers read
            #expect(try await queue.close(producer: "p1"))
            #expect(try await server.cli("exists", "job2:holds", "job2:open") == "0")
            #expect(try await queue.finishIfDrained(session: "w1"))
            #expect(try await queue.finishIfDrained(session: "w2"))
            // The first worker's session stays.
            #expect(try await server.cli("get", "job2:drained") == "w1")
        }
    }

    @Test func theOpenMarkExpiresWithItsTTL() async throws {
        try await LocalRedis.with { server in
            let queue = try await RedisQueue.connect(name: "job2", configuration: server.configuration)
            defer { Task { await queue.close() } }
            // 1.5 s: long enough that a loaded machine (CI saw 300 ms pass) still checks the
            // hold before it lapses.
            #expect(try await queue.open(producer: "p1", ttl: .milliseconds(1_500), reopen: false) == .done(1))
            let ttl = try #require(Int(try await server.cli("pttl", "job2:open")))
            #expect(ttl > 0 && ttl <= 1_500)
            #expect(try await queue.finishIfDrained(session: "w1") == false)
            try await Task.sleep(for: .milliseconds(1_700))
            #expect(try await queue.finishIfDrained(session: "w1"))
        }
    }

    @Test func aDrainedQueueRefusesPushesAndOpensUnlessReopened() async throws {
        try await LocalRedis.with { server in
            let queue = try await RedisQueue.connect(name: "job2", configuration: server.configuration)
            defer { Task { await queue.close() } }
            #expect(try await queue.push(["a", "b"]) == .done(2))
            try await server.cli("del", "job2")
            #expect(try await queue.finishIfDrained(session: "w1"))
            #expect(try await queue.push(["c"]) == .drained)
            #expect(try await server.cli("exists", "job2") == "0")
            #expect(try await queue.open(producer: "p1", ttl: .seconds(30), reopen: false) == .drained)
            #expect(try await server.cli("exists", "job2:open") == "0")
            #expect(try await queue.open(producer: "p1", ttl: .seconds(30), reopen: true) == .done(1))
            #expect(try await server.cli("exists", "job2:drained") == "0")
            #expect(try await queue.push(["c"]) == .done(1))
            #expect(try await queue.close(producer: nil))
        }
    }

    @Test func theMarksAreTypeChecked() async throws {
        try await LocalRedis.with { server in
            try await server.cli("rpush", "job2:open", "x")
            let queue = try await RedisQueue.connect(name: "job2", configuration: server.configuration)
            defer { Task { await queue.close() } }
            await #expect(throws: WorkQueueError.wrongKeyType(key: "job2:open", actual: "list", expected: "string")) {
                try await queue.validateKeyTypes()
            }
            try await server.cli("del", "job2:open")
            try await server.cli("set", "job2:holds", "x")
            await #expect(throws: WorkQueueError.wrongKeyType(key: "job2:holds", actual: "string", expected: "zset")) {
                try await queue.validateKeyTypes()
            }
        }
    }

    /// Two holders: each one's close ends only its own hold, and the queue stays open while
    /// either lives; `NAME:open` mirrors them for older workers until the last one ends.
    @Test func holdsAreIndependent() async throws {
        try await LocalRedis.with { server in
            let queue = try await RedisQueue.connect(name: "job2", configuration: server.configuration)
            defer { Task { await queue.close() } }
            #expect(try await queue.open(producer: "operator", ttl: .seconds(600), reopen: false) == .done(1))
            #expect(try await queue.open(producer: "push", ttl: .seconds(30), reopen: false) == .done(1))
            #expect(try await queue.holds().map(\.name) == ["push", "operator"])
            let mirror = try #require(Int(try await server.cli("pttl", "job2:open")))
            #expect(mirror > 590_000, "the mirror lives as long as the last hold")
            #expect(try await queue.endHolds("push") == RedisQueue.HoldsEnded(ended: 1, remaining: 1))
            #expect(try await queue.finishIfDrained(session: "w1") == false)
            #expect(try await server.cli("get", "job2:open") == "job2:holds")
            // Refreshing one hold with a shorter TTL shortens the mirror too.
            #expect(try await queue.open(producer: "operator", ttl: .seconds(20), reopen: false) == .done(1))
            #expect(try #require(Int(try await server.cli("pttl", "job2:open"))) <= 20_000)
            #expect(try await queue.endHolds("push") == RedisQueue.HoldsEnded(ended: 0, remaining: 1))
            #expect(try await queue.endHolds("operator") == RedisQueue.HoldsEnded(ended: 1, remaining: 0))
            #expect(try await server.cli("exists", "job2:holds", "job2:open") == "0")
            #expect(try await queue.finishIfDrained(session: "w1"))
        }
    }

    /// A hold expires on its own and is pruned; the others stay.
    @Test func anExpiredHoldIsPrunedAndTheOthersStay() async throws {
        try await LocalRedis.with { server in
            let queue = try await RedisQueue.connect(name: "job2", configuration: server.configuration)
            defer { Task { await queue.close() } }
            #expect(try await queue.open(producer: "short", ttl: .milliseconds(200), reopen: false) == .done(1))
            #expect(try await queue.open(producer: "long", ttl: .milliseconds(900), reopen: false) == .done(1))
            try await Task.sleep(for: .milliseconds(400))
            #expect(try await queue.holds().map(\.name) == ["long"])
            #expect(try await queue.finishIfDrained(session: "w1") == false)
            #expect(try await server.cli("zrange", "job2:holds", "0", "-1") == "long", "the expired hold is pruned")
            try await Task.sleep(for: .milliseconds(700))
            #expect(try await queue.finishIfDrained(session: "w1"))
            #expect(try await server.cli("exists", "job2:holds") == "0")
        }
    }

    /// A `NAME:open` written by an older version is one more hold: workers wait for it, a new
    /// producer's hold leaves it alone, `close` of the default hold (legacyMark) removes it.
    @Test func aLegacyOpenMarkIsHonored() async throws {
        try await LocalRedis.with { server in
            let queue = try await RedisQueue.connect(name: "job2", configuration: server.configuration)
            defer { Task { await queue.close() } }
            try await server.cli("set", "job2:open", "oldhost:42:beef", "PX", "60000")
            #expect(try await queue.finishIfDrained(session: "w1") == false)
            #expect(try await queue.open(producer: "p", ttl: .seconds(30), reopen: false) == .done(1))
            #expect(try await server.cli("get", "job2:open") == "oldhost:42:beef")
            #expect(try await queue.endHolds("p") == RedisQueue.HoldsEnded(ended: 1, remaining: 1))
            let holds = try await queue.holds()
            #expect(holds.map(\.name) == ["oldhost:42:beef"] && holds.first?.isLegacyMark == true)
            #expect(try await queue.finishIfDrained(session: "w1") == false)
            #expect(try await queue.endHolds("operator", legacyMark: true) == RedisQueue.HoldsEnded(ended: 1, remaining: 0))
            #expect(try await queue.finishIfDrained(session: "w1"))
        }
    }

    /// Retrying dead letters into a drained queue is refused in the same step as the move.
    @Test func retryingDeadLettersIntoADrainedQueueIsRefused() async throws {
        try await LocalRedis.with { server in
            let queue = try await RedisQueue.connect(name: "job2", configuration: server.configuration)
            defer { Task { await queue.close() } }
            try await server.cli("rpush", "job2:dead", "x")
            #expect(try await queue.finishIfDrained(session: "w1"))
            #expect(try await queue.retryDeadLetters(reopen: false) == .drained)
            await #expect(throws: WorkQueueError.self) { try await queue.retryDeadLetters() }
            #expect(try await server.cli("llen", "job2:dead") == "1")
            #expect(try await queue.retryDeadLetters(reopen: true) == .done(1))
            #expect(try await server.cli("lrange", "job2", "0", "-1") == "x")
            #expect(try await server.cli("exists", "job2:drained") == "0")
        }
    }
}

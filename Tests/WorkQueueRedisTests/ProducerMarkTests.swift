import Testing
import TestSupport
import WorkQueue
@testable import WorkQueueRedis

/// The safe producer's keys at the Redis level: `NAME:open` holds workers, `NAME:drained` is
/// set by the atomic exit-0 decision and refuses later pushes.
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
            #expect(try await server.cli("get", "job2:open") == "p1")
            #expect(try await queue.close(producer: "p1"))
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
            #expect(try await queue.open(producer: "p1", ttl: .milliseconds(300), reopen: false) == .done(1))
            let ttl = try #require(Int(try await server.cli("pttl", "job2:open")))
            #expect(ttl > 0 && ttl <= 300)
            #expect(try await queue.finishIfDrained(session: "w1") == false)
            try await Task.sleep(for: .milliseconds(400))
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
        }
    }
}

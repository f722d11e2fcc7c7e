import Testing
import TestSupport
import WorkQueue
@_spi(Testing) @testable import WorkQueueRedis

/// Issue 30: what the hot path asks of Redis. Our leases leave no entry in `NAME:processing`
/// (a settlement finds its item by its token, never by scanning what other workers hold), a
/// plain completion travels as its token alone, and a renewal beat is one script call that
/// also reads the control marks. Asserted on what Redis ran (`INFO commandstats`), not on time.
@Suite struct SettlementCostTests {
    /// Calls of `command` (lowercase) Redis ran since the last `CONFIG RESETSTAT`.
    static func calls(_ server: LocalRedis, _ command: String) async throws -> Int {
        let stats = try await server.cli("info", "commandstats")
        let prefix = "cmdstat_\(command):calls="
        guard let line = stats.split(whereSeparator: \.isNewline).first(where: { $0.hasPrefix(prefix) }) else { return 0 }
        return Int(line.dropFirst(prefix.count).prefix(while: \.isNumber)) ?? 0
    }

    @Test func settlementsNeverScanTheEntriesOtherWorkersHoldInProcessing() async throws {
        try await LocalRedis.with { server in
            // 1,000 items a tutorial worker holds, in NAME:processing in front of anything else.
            let held = (0..<1000).map { "held-\($0)" }
            try await server.cli(["rpush", "q:processing"] + held)
            let queue = try await RedisQueue.connect(name: "q", configuration: server.configuration)
            try await queue.enqueue((0..<200).map { WorkItem("item-\($0)") })
            try await server.cli("config", "resetstat")
            var leases: [Lease] = []
            for _ in 0..<10 where leases.count < 200 {
                leases += try await queue.lease(max: 200, session: "w", duration: .seconds(60))
            }
            #expect(leases.count == 200)
            #expect(try await server.cli("llen", "q:processing") == "1000", "our leases leave no entry there")
            #expect(try await queue.counts().processing == 1200, "in flight: the tutorial's entries and our leases")
            let result = try await queue.exchange(leases.map { .complete($0, result: nil) }, lease: 0, session: "w",
                                                  duration: .seconds(60))
            #expect(result.outcomes.allSatisfy { $0 == .settled })
            #expect(result.counts.processing == 1000)
            #expect(try await Self.calls(server, "lrem") == 0, "no settlement searched NAME:processing")
            #expect(try await Self.calls(server, "lmove") == 0)
            #expect(try await server.cli("lrange", "q:processing", "0", "2") == "held-0\nheld-1\nheld-2")
            #expect(try await server.cli("llen", "q:processing") == "1000")
            #expect(try await server.cli("get", "q:completed") == "200")
            // Not drained while a tutorial worker holds items, drained once it is done.
            #expect(!(try await queue.finishIfDrained(session: "w")))
            try await server.cli("del", "q:processing")
            #expect(try await queue.finishIfDrained(session: "w"))
            await queue.close()
        }
    }

    @Test func aLeaseOfOursKeepsTheQueueFromDrainingWithoutAnyEntryInProcessing() async throws {
        try await LocalRedis.with { server in
            let queue = try await RedisQueue.connect(name: "q", configuration: server.configuration)
            try await queue.enqueue(["a"])
            let lease = try #require(try await queue.lease(max: 1, session: "w", duration: .seconds(60)).first)
            #expect(try await server.cli("exists", "q:processing") == "0")
            #expect(!(try await queue.counts().isDrained))
            #expect(!(try await queue.finishIfDrained(session: "other")), "a lease in flight: not drained")
            #expect(try await queue.complete(lease, result: nil) == .settled)
            #expect(try await queue.finishIfDrained(session: "other"))
            await queue.close()
        }
    }

    @Test func aRenewalBeatIsOneScriptCallThatReadsTheMarks() async throws {
        try await LocalRedis.with { server in
            let queue = try await RedisQueue.connect(name: "q", configuration: server.configuration)
            try await queue.enqueue(["a", "b", "c"])
            let leases = try await queue.lease(max: 3, session: "w", duration: .seconds(60))
            try await queue.setPaused(true)
            try await server.cli("config", "resetstat")
            let reply = try await queue.renewReadingControl(RenewRequest(leases: leases, duration: .seconds(60)))
            #expect(reply.owned == [true, true, true])
            #expect(reply.control == QueueControl(paused: true))
            let stats = try await server.cli("info", "commandstats")
            // Commands the script ran count here too: ZSCORE, ZADD, HMGET, TIME.
            let inside = ["evalsha", "info", "config|resetstat", "zscore", "zadd", "hmget", "time", "zcard", "hlen"]
            let outside = stats.split(whereSeparator: \.isNewline).filter { line in
                line.hasPrefix("cmdstat_") && !inside.contains { line.hasPrefix("cmdstat_\($0):") }
            }
            #expect(outside.isEmpty, "\(outside)")
            #expect(try await Self.calls(server, "evalsha") == 1, "one round trip per beat")
            await queue.close()
        }
    }
}

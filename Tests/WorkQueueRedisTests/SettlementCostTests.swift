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

    /// Issue 30, round 2: plain completions read no item. `ZREM`'s count of deadlines says
    /// every lease was held, so the only `HMGET` of the call is the control marks'; when the
    /// count falls short, each settlement still gets its own outcome.
    @Test func plainCompletionsReadNoItemsAndAShortCountStillGivesEachItsOutcome() async throws {
        try await LocalRedis.with { server in
            let queue = try await RedisQueue.connect(name: "q", configuration: server.configuration)
            try await queue.enqueue((0..<100).map { WorkItem("item-\($0)") })
            let leases = try await queue.lease(max: 100, session: "w", duration: .seconds(60))
            try #require(leases.count == 100)
            try await server.cli("config", "resetstat")
            let first = try await queue.exchange(leases[..<50].map { .complete($0, result: nil) }, lease: 0, session: "w",
                                                 duration: .seconds(60))
            #expect(first.outcomes == Array(repeating: .settled, count: 50))
            #expect(try await Self.calls(server, "hmget") == 1, "the control marks only: no item read")
            #expect(try await Self.calls(server, "zrem") == 1)
            // Three of these were settled above: their leases are not held any more.
            let again = [leases[3], leases[60], leases[20], leases[61], leases[40]] + leases[62...] + leases[50..<60]
            let second = try await queue.exchange(again.map { .complete($0, result: nil) }, lease: 0, session: "w",
                                                  duration: .seconds(60))
            #expect(second.outcomes == [.leaseLost, .settled, .leaseLost, .settled, .leaseLost]
                + Array(repeating: .settled, count: 48))
            #expect(try await server.cli("get", "q:completed") == "100")
            #expect(try await server.cli("hlen", "q:lease-items") == "0")
            #expect(try await server.cli("zcard", "q:leases") == "0")
            await queue.close()
        }
    }

    /// Issue 30, round 2: a worker's few hundred leases would make `NAME:lease-items` a
    /// listpack (up to hash-max-listpack-entries, 512 by default), searched from its start by
    /// every field's `HSET`, `HMGET` and `HDEL`; a take keeps it a hash table, and leaves no
    /// trace of the placeholder field it uses for that.
    @Test func aTakeOfManyLeasesKeepsTheLeaseItemsAHashTable() async throws {
        try await LocalRedis.with { server in
            let queue = try await RedisQueue.connect(name: "q", configuration: server.configuration)
            try await queue.enqueue((0..<100).map { WorkItem("item-\($0)") })
            let leases = try await queue.lease(max: 100, session: "w", duration: .seconds(60))
            #expect(leases.count == 100)
            #expect(try await server.cli("object", "encoding", "q:lease-items") == "hashtable")
            #expect(try await server.cli("hlen", "q:lease-items") == "100")
            #expect(try await server.cli("hexists", "q:lease-items", "w:") == "0")
            #expect(try await queue.counts().processing == 100)
            // A few leases stay a small listpack: no placeholder needed.
            try await server.cli("flushall")
            try await queue.enqueue(["a", "b"])
            #expect(try await queue.lease(max: 2, session: "w", duration: .seconds(60)).count == 2)
            #expect(try await server.cli("hlen", "q:lease-items") == "2")
            await queue.close()
        }
    }

    /// The take's reply carries no tokens: the worker computes them (`<session>:<first + k>`),
    /// and a retried take that finds some of its leases gone lists the numbers of those left.
    @Test func aRetriedTakeWithALeaseGoneHandsOutTheOthersUnderTheirOwnTokens() async throws {
        try await LocalRedis.with { server in
            let queue = try await RedisQueue.connect(name: "q", configuration: server.configuration)
            try await queue.enqueue(["a", "b", "c", "d", "e"])
            queue.faultInjection = .init(dropConnectionAfterTake: true)
            await #expect(throws: RedisError.self) { try await queue.lease(max: 5, session: "w", duration: .seconds(60)) }
            queue.faultInjection = .init()
            // The second lease ends while the worker does not know it has it (as recovery does).
            let tokens = try await server.cli("hkeys", "q:lease-items").split(whereSeparator: \.isNewline).map(String.init).sorted()
            try #require(tokens.count == 5)
            let gone = try await server.cli("hget", "q:lease-items", tokens[1])
            try await server.cli("hdel", "q:lease-items", tokens[1])
            try await server.cli("zrem", "q:leases", tokens[1])
            let leases = try await queue.lease(max: 5, session: "w", duration: .seconds(60))
            #expect(leases.count == 4)
            #expect(!leases.map(\.item).contains(WorkItem(gone)))
            for lease in leases {
                #expect(try await server.cli("hget", "q:lease-items", lease.token) == String(decoding: lease.item.bytes, as: UTF8.self),
                        "\(lease.token)")
            }
            let settled = try await queue.exchange(leases.map { .complete($0, result: nil) }, lease: 0, session: "w",
                                                   duration: .seconds(60))
            #expect(settled.outcomes == Array(repeating: .settled, count: 4))
            #expect(try await server.cli("hlen", "q:lease-items") == "0")
            await queue.close()
        }
    }
}

import Testing
import TestSupport
import WorkQueue
import WorkQueueRedis

/// Results and errors are stored with a size bound.
@Suite struct StoredTextTests {
    @Test func shortTextsAreKeptAndLongOnesCutAtACharacterWithAMarker() {
        #expect(StoredText.bounded("12 = 2 * 2 * 3") == "12 = 2 * 2 * 3")
        let exact = String(repeating: "x", count: StoredText.maxBytes)
        #expect(StoredText.bounded(exact) == exact)
        let long = String(repeating: "é", count: 10_000)   // 2 bytes each
        let bounded = StoredText.bounded(long)
        #expect(bounded.utf8.count <= StoredText.maxBytes)
        #expect(bounded.hasSuffix("…[truncated, 20000 bytes in all]"))
        #expect(bounded.hasPrefix("éé"))
        #expect(!bounded.contains("\u{FFFD}"))
    }

    @Test func aHugeResultAndAHugeErrorAreStoredBounded() async throws {
        try await LocalRedis.with { redis in
            let queue = try await RedisQueue.connect(name: "big", configuration: RedisConfiguration(url: redis.url))
            try await queue.enqueue(["a", "b"])
            let leases = try await queue.lease(max: 2, session: "s", duration: .seconds(30))
            try #require(leases.count == 2)
            let huge = String(repeating: "r", count: 1 << 20)
            #expect(try await queue.complete(leases[0], result: huge) == .settled)
            #expect(try await queue.fail(leases[1], error: huge, disposition: .deadLetter) == .settled)
            let result = try #require(try await queue.completions(after: nil, limit: 10).first).result
            let error = try await redis.cli("HVALS", "big:errors")
            #expect(result.utf8.count <= StoredText.maxBytes && result.hasSuffix("bytes in all]"))
            #expect(error.utf8.count <= StoredText.maxBytes && error.hasSuffix("bytes in all]"))
            await queue.close()
        }
    }
}

/// `NAME:results` is a stream of completion records, trimmed exactly to `resultsMax` by the
/// completions themselves, what is dropped counted in `NAME:results:dropped`.
@Suite struct ResultsRetentionTests {
    @Test func completionsTrimTheStreamToTheBoundAndCountTheDropped() async throws {
        try await LocalRedis.with { redis in
            let bounded = try await RedisQueue.connect(name: "kept", configuration: RedisConfiguration(url: redis.url),
                                                       options: .init(resultsMax: 20))
            try await bounded.enqueue((0..<50).map { WorkItem("item \($0)") })
            let leases = try await bounded.lease(max: 50, session: "w", duration: .seconds(30))
            _ = try await bounded.exchange(leases.prefix(30).map { .complete($0, result: "r") }, lease: 0, session: "w",
                                           duration: .seconds(30))
            #expect(try await redis.cli("XLEN", "kept:results") == "20")
            #expect(try await redis.cli("GET", "kept:results:dropped") == "10")
            for lease in leases.suffix(20) { #expect(try await bounded.complete(lease, result: "r") == .settled) }
            #expect(try await redis.cli("XLEN", "kept:results") == "20")
            #expect(try await redis.cli("GET", "kept:results:dropped") == "30")
            let kept = try await bounded.completions(after: nil, limit: 1000)
            #expect(kept.map(\.item) == (30..<50).map { WorkItem("item \($0)") }, "the most recent, in order")
            await bounded.close()
            // Without a bound nothing is trimmed.
            let unbounded = try await RedisQueue.connect(name: "all", configuration: RedisConfiguration(url: redis.url))
            try await unbounded.enqueue((0..<50).map { WorkItem("item \($0)") })
            let all = try await unbounded.lease(max: 50, session: "w", duration: .seconds(30))
            _ = try await unbounded.exchange(all.map { .complete($0, result: "r") }, lease: 0, session: "w", duration: .seconds(30))
            #expect(try await redis.cli("XLEN", "all:results") == "50")
            #expect(try await redis.cli("EXISTS", "all:results:dropped") == "0")
            await unbounded.close()
        }
    }

    /// An earlier version's hash in `NAME:results` stops the queue with how to migrate, and
    /// nothing is modified, not even by a completion that would record a result.
    @Test func anOldResultsHashGivesAClearErrorAndNothingIsModified() async throws {
        try await LocalRedis.with { redis in
            try await redis.cli("HSET", "old:results", "0123abcd", "an old result")
            let queue = try await RedisQueue.connect(name: "old", configuration: RedisConfiguration(url: redis.url))
            await #expect {
                try await queue.validateKeyTypes()
            } throws: { error in
                "\(error)".contains("RENAME") && "\(error)".contains("old:results") && "\(error)".contains("earlier version")
            }
            try await queue.enqueue(["a"])
            let lease = try #require(try await queue.lease(max: 1, session: "w", duration: .seconds(30)).first)
            await #expect {
                _ = try await queue.complete(lease, result: "new")
            } throws: { error in
                "\(error)".contains("RENAME")
            }
            #expect(try await redis.cli("HVALS", "old:lease-items") == "a", "the item is still held")
            #expect(try await redis.cli("HGET", "old:results", "0123abcd") == "an old result")
            await #expect(throws: (any Error).self) { _ = try await queue.completions(after: nil, limit: 10) }
            await queue.close()
        }
    }
}

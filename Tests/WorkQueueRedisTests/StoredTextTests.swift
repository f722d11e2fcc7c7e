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
            let result = try await redis.cli("HVALS", "big:results")
            let error = try await redis.cli("HVALS", "big:errors")
            #expect(result.utf8.count <= StoredText.maxBytes && result.hasSuffix("bytes in all]"))
            #expect(error.utf8.count <= StoredText.maxBytes && error.hasSuffix("bytes in all]"))
            await queue.close()
        }
    }
}

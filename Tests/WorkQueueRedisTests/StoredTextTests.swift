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

/// `NAME:results` is kept within `resultsMax` by the recovery pass.
@Suite struct ResultsRetentionTests {
    @Test func theRecoveryPassTrimsResultsToTheBound() async throws {
        try await LocalRedis.with { redis in
            var fields: [String] = ["HSET", "kept:results"]
            for index in 0..<50 { fields += ["sha\(index)", "result \(index)"] }
            try await redis.cli(fields)
            let queue = try await RedisQueue.connect(name: "kept", configuration: RedisConfiguration(url: redis.url))
            #expect(try await queue.maintain(maxAttempts: 3, interval: .seconds(5), session: "s") != nil)
            #expect(try await redis.cli("HLEN", "kept:results") == "50", "no bound set: nothing trimmed")
            await queue.close()
            let bounded = try await RedisQueue.connect(name: "kept", configuration: RedisConfiguration(url: redis.url),
                                                       options: .init(resultsMax: 20))
            try await redis.cli("DEL", "kept:recovery")
            #expect(try await bounded.maintain(maxAttempts: 3, interval: .seconds(5), session: "s") != nil)
            #expect(try await redis.cli("HLEN", "kept:results") == "20")
            #expect(try await bounded.trimResults(to: 20) == 0)
            #expect(try await bounded.trimResults(to: 0) == 20)
            await bounded.close()
        }
    }
}

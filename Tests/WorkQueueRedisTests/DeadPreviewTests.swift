import Testing
import TestSupport
import WorkQueue
@testable import WorkQueueRedis

/// The dead letters' preview records (`NAME:dead-previews`, issue 26 defect 1): written with
/// every dead letter, removed with it, and what the dashboard reads instead of the letters.
@Suite struct DeadPreviewTests {
    @Test func everyDeadLetterGetsARecordThatThePagesReadInsteadOfTheLetter() async throws {
        try await LocalRedis.with { server in
            let queue = try await BoundsTests.connect(server, options: .init(maxItemBytes: 1024))
            defer { Task { await queue.close() } }
            // A failure dead-letters "bad"; the take dead-letters the 300,000-byte item for its size.
            let big = WorkItem(Array(repeating: UInt8(ascii: "z"), count: 300_000))
            _ = try await queue.enqueue(["bad"])
            let failed = try await queue.lease(max: 1, session: "s1", duration: .seconds(30))
            _ = try await queue.fail(try #require(failed.first), error: "boom", disposition: .deadLetter)
            _ = try await queue.enqueue([big, "ok"])
            _ = try await queue.lease(max: 2, session: "s1", duration: .seconds(30))
            #expect(try await server.cli("llen", "q:dead") == "2")
            #expect(try await server.cli("llen", "q:dead-previews") == "2")

            let page = try await queue.deadPreviews(from: 0, limit: 20)
            #expect(page.total == 2 && page.next == nil)
            #expect(page.letters.count == 2)
            #expect(page.letters[0].bytes == Array("bad".utf8) && page.letters[0].size == 3)
            #expect(page.letters[0].digest == RedisQueue.digest(Array("bad".utf8)))
            #expect(page.letters[0].attempts == 1 && page.letters[0].error == "boom")
            #expect(page.letters[1].size == 300_000, "the size from the record")
            #expect(page.letters[1].bytes?.count == 240, "the preview only, never the letter")

            // The snapshot's first page: the same records.
            var request = RedisQueue.DashboardRequest()
            request.deadByteBudget = 1
            let snapshot = try await queue.dashboardSnapshot(request)
            #expect(snapshot.deadPage?.map(\.size) == [3, 300_000])
            #expect(snapshot.deadPage?.last?.bytes?.count == 240)
        }
    }

    @Test func lettersOfAnOlderVersionAreReadOnlyWhileTheListIsSmall() async throws {
        try await LocalRedis.with { server in
            let queue = try await BoundsTests.connect(server)
            defer { Task { await queue.close() } }
            // Letters pushed with no record (an older version), then one with a record.
            try await server.cli("rpush", "q:dead", "old-1", "old-2")
            try await server.cli("rpush", "q:dead", "new")
            try await server.cli("rpush", "q:dead-previews", "3::new")
            let small = try await queue.deadPreviews(from: 0, limit: 20)
            #expect(small.letters.map(\.bytes) == [Array("old-1".utf8), Array("old-2".utf8), Array("new".utf8)])
            #expect(small.letters[0].knownDigest == RedisQueue.digest(Array("old-1".utf8)))
            // A large old letter: the whole list is over the budget, so no old letter is read.
            try await server.cli("eval", "redis.call('LSET', KEYS[1], 1, string.rep('x', 400000))", "1", "q:dead")
            let large = try await queue.deadPreviews(from: 0, limit: 20)
            #expect(large.letters.map(\.size) == [nil, nil, 3], "old letters are not read once the list is large")
            #expect(large.letters[0].bytes == nil && large.letters[1].bytes == nil)
            #expect(large.letters[2].bytes == Array("new".utf8))
            // Pages: from 2, one letter.
            let later = try await queue.deadPreviews(from: 2, limit: 1)
            #expect(later.total == 3 && later.next == nil && later.letters.map(\.size) == [3])
            let first = try await queue.deadPreviews(from: 0, limit: 1)
            #expect(first.next == 1)
        }
    }

    @Test func recordsLeaveWithTheirLetters() async throws {
        try await LocalRedis.with { server in
            let queue = try await BoundsTests.connect(server)
            defer { Task { await queue.close() } }
            // One old letter (no record), then three with records.
            try await server.cli("rpush", "q:dead", "old", "a", "b", "c")
            try await server.cli("rpush", "q:dead-previews", "1::a", "1::b", "1::c")
            #expect(try await queue.retryDeadLetter(Array("b".utf8), near: 2) == .moved)
            #expect(try await server.cli("lrange", "q:dead-previews", "0", "-1") == "1::a\n1::c")
            #expect(try await queue.deadPreviews(from: 0, limit: 5).letters.compactMap(\.bytes).map { String(decoding: $0, as: UTF8.self) }
                == ["old", "a", "c"])
            // Retrying all pops the old letter (no record) and the records of the others.
            #expect(try await queue.retryDeadLetters() == 3)
            #expect(try await server.cli("llen", "q:dead-previews") == "0")
            try await server.cli("rpush", "q:dead", "d")
            try await server.cli("rpush", "q:dead-previews", "1::d")
            #expect(try await queue.purgeDeadLetters() == 1)
            #expect(try await server.cli("exists", "q:dead-previews") == "0")
        }
    }
}

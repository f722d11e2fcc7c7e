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
            for _ in 0..<10 {
                let page = try await queue.cancelPage(max: RedisQueue.controlPageSize, mark: false)
                moved += page.moved
                if page.remaining == 0 { break }
            }
            #expect(moved == count)
            #expect(try await server.cli("llen", "big") == "0")
            #expect(try await server.cli("llen", "big:cancelled") == "\(count)")
            #expect(try await server.cli("hexists", "big:control", "cancelled") == "1")
            #expect(try await queue.cancelledItems(offset: 24_998, limit: 10) == ["24998", "24999"])
            for _ in 0..<10 where try await queue.restorePage(max: RedisQueue.controlPageSize, clearCancel: false, hold: nil).remaining > 0 {}
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

    /// Issue 26, defect 2: a page without the mark (a worker's sweep, a cancel's later pages)
    /// checks the mark in its own step, moves nothing once a resume cleared it and never sets
    /// it; `resume --restore`'s first page clears the mark in its step and holds the queue open
    /// while items remain aside.
    @Test func aSweepPageNeverMarksTheQueueAndMovesNothingOnceResumed() async throws {
        try await LocalRedis.with { server in
            try await server.cli(["rpush", "sw"] + (0..<100).map(String.init))
            let queue = try await RedisQueue.connect(name: "sw", configuration: server.configuration)
            defer { Task { await queue.close() } }
            #expect(try await queue.cancelPage(max: 10, mark: false) == ControlPage(moved: 0, remaining: 100, cancelled: false))
            #expect(try await server.cli("hexists", "sw:control", "cancelled") == "0")
            #expect(try await queue.cancelPage(max: 10, mark: true) == ControlPage(moved: 10, remaining: 90, cancelled: true))
            #expect(try await queue.restorePage(max: 4, clearCancel: true, hold: "restore:t")
                == ControlPage(moved: 4, remaining: 6, cancelled: false))
            #expect(try await server.cli("zcard", "sw:holds") == "1")
            #expect(try await queue.finishIfDrained(session: "s") == false)
            // A sweep after the resume: nothing moves, no mark.
            #expect(try await queue.cancelPage(max: 10, mark: false) == ControlPage(moved: 0, remaining: 94, cancelled: false))
            #expect(try await server.cli("hexists", "sw:control", "cancelled") == "0")
            #expect(try await queue.restorePage(max: 10, clearCancel: false, hold: "restore:t")
                == ControlPage(moved: 6, remaining: 0, cancelled: false))
            #expect(try await server.cli("zcard", "sw:holds") == "0")
            #expect(try await server.cli("llen", "sw") == "100")
        }
    }

    /// Issue 26, defect 2: `resume --restore` (mark cleared in the first restore page's step,
    /// then pages until nothing is aside) racing workers' sweeps (pages without the mark, in a
    /// loop): every item is back in pending, counted once, nothing is left aside and the queue
    /// is not cancelled.
    @Test func aRestoreRacingSweepsLeavesNothingAsideAndCountsEachItemOnce() async throws {
        try await LocalRedis.with { server in
            let count = 60_000
            for start in stride(from: 0, to: count, by: 5000) {
                try await server.cli(["rpush", "race"] + (start..<start + 5000).map(String.init))
            }
            let queue = try await RedisQueue.connect(name: "race", configuration: server.configuration)
            defer { Task { await queue.close() } }
            let sweeper = try await RedisQueue.connect(name: "race", configuration: server.configuration)
            defer { Task { await sweeper.close() } }
            var page = try await queue.cancelPage(max: 10_000, mark: true)
            for _ in 0..<100 where page.remaining > 0 { page = try await queue.cancelPage(max: 10_000, mark: false) }
            #expect(try await server.cli("llen", "race:cancelled") == "\(count)")
            // Workers sweeping while the restore runs (bounded: 2,000 pages at most).
            let sweeps = Task {
                var pages = 0
                for _ in 0..<2000 {
                    let page = try await sweeper.cancelPage(max: 1000, mark: false)
                    pages += 1
                    if !page.cancelled { break }
                }
                return pages
            }
            try await Task.sleep(for: .milliseconds(20))
            var restored = 0
            var restore = try await queue.restorePage(max: 1000, clearCancel: true, hold: "restore:race")
            restored += restore.moved
            for _ in 0..<1000 where restore.remaining > 0 {
                restore = try await queue.restorePage(max: 1000, clearCancel: false, hold: "restore:race")
                restored += restore.moved
            }
            _ = try await sweeps.value
            #expect(restored == count)
            #expect(try await server.cli("llen", "race:cancelled") == "0")
            #expect(try await server.cli("llen", "race") == "\(count)")
            #expect(try await server.cli("hexists", "race:control", "cancelled") == "0")
            #expect(try await server.cli("zcard", "race:holds") == "0")
        }
    }

    /// Issue 26, defect 3: a cancel moves every scheduled retry (5 pending and 5,000 retries
    /// due in an hour: once 1,005 and 4,000 left scheduled), and says what remains.
    @Test func aCancelMovesEveryScheduledRetry() async throws {
        try await LocalRedis.with { server in
            try await server.cli(["rpush", "sr"] + (0..<5).map { "p\($0)" })
            let due = Int(Date().timeIntervalSince1970 * 1000) + 3_600_000
            for start in stride(from: 0, to: 5000, by: 1000) {
                let members = (start..<start + 1000).flatMap { ["\(due + $0)", String(format: "%016x:r%d", $0, $0)] }
                try await server.cli(["zadd", "sr:retry"] + members)
            }
            let queue = try await RedisQueue.connect(name: "sr", configuration: server.configuration)
            defer { Task { await queue.close() } }
            #expect(try await queue.cancelPage(max: 10_000, mark: true) == ControlPage(moved: 5005, remaining: 0, cancelled: true))
            #expect(try await server.cli("zcard", "sr:retry") == "0")
            #expect(try await server.cli("llen", "sr:cancelled") == "5005")
            #expect(try await server.cli("lindex", "sr:cancelled", "5") == "r0")
            #expect(try await server.cli("lindex", "sr:cancelled", "-1") == "r4999")
        }
    }

    /// Issue 26, defect 4: a cancel or restore page stops once its items reach the byte budget
    /// (after at least one), pending and scheduled alike; paging on what remains moves all.
    @Test func cancelAndRestorePagesAreBoundedByBytes() async throws {
        try await LocalRedis.with { server in
            let queue = try await RedisQueue.connect(name: "mb", configuration: server.configuration)
            defer { Task { await queue.close() } }
            let mebibyte = [UInt8](repeating: 0x61, count: 1 << 20)
            try await queue.enqueue([WorkItem(mebibyte), WorkItem(mebibyte), WorkItem(mebibyte)])
            // The default budget (1 MiB): one 1 MiB item a call.
            #expect(try await queue.cancelPage(max: 10_000, mark: true) == ControlPage(moved: 1, remaining: 2, cancelled: true))
            #expect(try await queue.restorePage(max: 10_000, clearCancel: false, hold: nil) == ControlPage(moved: 1, remaining: 0, cancelled: true))
            try await server.cli("del", "mb", "mb:cancelled", "mb:control")

            var options = RedisQueue.Options()
            options.replyByteBudget = 10_000
            let small = try await RedisQueue.connect(name: "kb", configuration: server.configuration, options: options)
            defer { Task { await small.close() } }
            let item = String(repeating: "k", count: 4090)
            try await server.cli(["rpush", "kb"] + (0..<20).map { String(format: "%05d", $0) + item })
            try await server.cli(["zadd", "kb:retry"] + (0..<10).flatMap { ["\(9_000_000_000_000 + $0)", String(format: "%016x:r%04d", $0, $0) + item] })
            var pages: [ControlPage] = [try await small.cancelPage(max: 10_000, mark: true)]
            while let last = pages.last, last.remaining > 0, pages.count < 100 { pages.append(try await small.cancelPage(max: 10_000, mark: false)) }
            #expect(pages.allSatisfy { $0.moved >= 1 && $0.moved <= 3 }, "\(pages)")
            #expect(pages.map(\.moved).reduce(0, +) == 30)
            #expect(try await server.cli("zcard", "kb:retry") == "0")
            var restores: [ControlPage] = [try await small.restorePage(max: 10_000, clearCancel: true, hold: nil)]
            while let last = restores.last, last.remaining > 0, restores.count < 100 {
                restores.append(try await small.restorePage(max: 10_000, clearCancel: false, hold: nil))
            }
            #expect(restores.allSatisfy { $0.moved >= 1 && $0.moved <= 3 }, "\(restores)")
            #expect(restores.map(\.moved).reduce(0, +) == 30)
            #expect(try await server.cli("lindex", "kb", "0") == "00000" + item)
            #expect(try await server.cli("lindex", "kb", "-1") == "r0009" + item)
        }
    }

    /// Issue 26, defect 6: `dead purge` deletes the letters' attempts, errors, retry counts
    /// and checkpoints, page by page (a low byte budget here), so that an item pushed again
    /// starts from attempt 1.
    @Test func purgeDeletesWhatIsKeptForTheLettersAndAnItemPushedAgainStartsFromZero() async throws {
        try await LocalRedis.with { server in
            let queue = try await RedisQueue.connect(name: "pg", configuration: server.configuration)
            defer { Task { await queue.close() } }
            // Purged a letter or two a page.
            var options = RedisQueue.Options()
            options.replyByteBudget = 10
            let purger = try await RedisQueue.connect(name: "pg", configuration: server.configuration, options: options)
            defer { Task { await purger.close() } }
            let items: [WorkItem] = ["poison-1", "poison-2", "poison-3"]
            try await queue.enqueue(items)
            for attempt in 1...3 {
                let leases = try await queue.lease(max: 3, session: "s1", duration: .seconds(30))
                try #require(leases.count == 3)
                #expect(leases.allSatisfy { $0.attempt == attempt })
                for lease in leases {
                    _ = try await queue.fail(lease, error: "boom \(attempt)", disposition: attempt < 3 ? .retry(after: .zero) : .deadLetter)
                }
                try await Task.sleep(for: .milliseconds(50))
                _ = try await queue.promoteDueRetries()
            }
            #expect(try await queue.deadLetters().map(\.attempts) == [3, 3, 3])
            // Leftovers a crash could leave: a retry count and a checkpoint by item bytes.
            try await server.cli("hset", "pg:retried", "poison-1", "3")
            try await server.cli("hset", "pg:checkpoints", "poison-2", "step 9")
            #expect(try await purger.purgeDeadLetters() == 3)
            for key in ["pg:dead", "pg:attempts", "pg:errors", "pg:retried", "pg:checkpoints"] {
                #expect(try await server.cli("exists", key) == "0", "\(key)")
            }
            try await queue.enqueue(["poison-1"])
            let again = try #require(try await queue.lease(max: 1, session: "s1", duration: .seconds(30)).first)
            #expect(again.attempt == 1 && again.checkpoint == nil)
        }
    }

    /// Issue 26: every key of a queue is in `RedisKeys.typed` (the key-type check and the
    /// Cluster name check read it), `NAME:on-drained` included.
    @Test func everyKeyIsTyped() {
        let keys = RedisKeys("tq")
        let typed = Set(keys.typed.map(\.key))
        let all = Mirror(reflecting: keys).children.compactMap { $0.value as? String }.filter { $0 != keys.tutorialLeasePrefix }
        #expect(all.count >= 26)
        #expect(all.filter { !typed.contains($0) } == [])
        #expect(typed.contains("tq:on-drained"))
    }
}

import Foundation
import Testing
import TestSupport

/// Sharded queues with the built `workqueue`: push spreads over `{NAME:i}`, workers lease from
/// every shard and exit 0 only when all are drained, status sums them.
@Suite struct ShardFlowTests {
    struct Report: Decodable {
        var queue: String
        var pending: Int
        var processing: Int
        var scheduled: Int
        var completed: Int?
        var drained: Bool
        var shards: [Report]?
    }

    @Test func twoWorkersDrainThreeShardsAndExit0() async throws {
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            let items = (1...30).map { "item-\($0)" }
            let (push, pushed) = try await wq.run(["push", "--queue", "job", "--shards", "3"] + items)
            #expect(pushed == .exited(0), "\(push.stderr)")
            #expect(push.stdoutLines == ["Pushed 30 items to job over 3 shards: {job:0} 10, {job:1} 10, {job:2} 10"])
            for index in 0..<3 { #expect(try await redis.cli("llen", "{job:\(index)}") == "10") }
            #expect(try await redis.cli("exists", "job") == "0")

            let workers = try (0..<2).map { _ in
                try wq.start(["work", "--queue", "job", "--shards", "3", "--handler", "printer", "--option", "delay=0.05"])
            }
            var handled: [String] = []
            for worker in workers {
                #expect(try await worker.wait(timeout: .seconds(60)) == .exited(0), "\(worker.stderr)")
                #expect(worker.stdoutLines.last == "Queue empty, exiting")
                handled += worker.stdoutLines.filter { $0.hasPrefix("Working on ") }.map { String($0.dropFirst("Working on ".count)) }
            }
            #expect(handled.sorted() == items.sorted(), "each item handled once")
            #expect(workers.allSatisfy { $0.stdoutLines.contains { $0.hasPrefix("Working on ") } }, "both workers took items")

            let (status, done) = try await wq.run(["status", "--queue", "job", "--shards", "3", "--json"])
            #expect(done == .exited(0), "\(status.stderr)")
            let report = try JSONDecoder().decode(Report.self, from: Data(status.stdout.utf8))
            #expect(report.queue == "job")
            #expect(report.pending == 0 && report.processing == 0 && report.scheduled == 0)
            #expect(report.completed == 30)
            #expect(report.drained)
            #expect(report.shards?.map(\.queue) == ["{job:0}", "{job:1}", "{job:2}"])
            #expect(report.shards?.map { $0.completed ?? 0 } == [10, 10, 10])
            let (table, _) = try await wq.run(["status", "--queue", "job", "--shards", "3", "--by-shard"])
            #expect(table.stdout.contains("queue {job:2}"))
            for index in 0..<3 { #expect(try await redis.cli("exists", "{job:\(index)}:drained") == "1") }
        }
    }

    /// Items in one shard only are found, and an open mark (set on every shard) keeps the workers
    /// waiting until close.
    @Test func anOpenShardedQueueHoldsTheWorkersUntilClosed() async throws {
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            let (open, opened) = try await wq.run(["open", "--queue", "o", "--shards", "3", "--ttl-seconds", "60"])
            #expect(opened == .exited(0), "\(open.stderr)")
            #expect(open.stdout.contains("workqueue close --queue o --shards 3"))
            for index in 0..<3 { #expect(try await redis.cli("exists", "{o:\(index)}:open") == "1") }
            try await redis.cli("rpush", "{o:2}", "only-in-shard-2")
            let worker = try wq.start(["work", "--queue", "o", "--shards", "3", "--handler", "printer"])
            try #require(try await worker.waitForStdout(containing: "Working on only-in-shard-2"), "\(worker.stderr)")
            try await Task.sleep(for: .milliseconds(500))
            #expect(worker.poll() == nil, "the worker exited while the queue was open")
            let (close, closed) = try await wq.run(["close", "--queue", "o", "--shards", "3"])
            #expect(closed == .exited(0), "\(close.stderr)")
            #expect(try await worker.wait(timeout: .seconds(20)) == .exited(0), "\(worker.stderr)")
            // A drained sharded queue refuses a push, naming a shard.
            let (refused, status) = try await wq.run(["push", "--queue", "o", "--shards", "3", "late"])
            #expect(status == .exited(78))
            #expect(refused.stderr.contains("{o:"))
        }
    }

    /// A shard is an ordinary queue: a worker without --shards (or the tutorial's worker) works
    /// one shard by its name and leaves the others alone.
    @Test func aShardIsAQueueOfItsOwn() async throws {
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            #expect(try await wq.run(["push", "--queue", "t", "--shards", "2", "a", "b", "c", "d"]).termination == .exited(0))
            let inShard1 = try await redis.cli("lrange", "{t:1}", "0", "-1").split(separator: "\n").map(String.init)
            let (worker, status) = try await wq.run(["work", "--queue", "{t:1}", "--handler", "printer"])
            #expect(status == .exited(0), "\(worker.stderr)")
            #expect(worker.stdoutLines.filter { $0.hasPrefix("Working on ") } == inShard1.map { "Working on \($0)" })
            #expect(try await redis.cli("llen", "{t:0}") == "2")
            #expect(try await redis.cli("exists", "{t:1}:drained") == "1")
            #expect(try await redis.cli("exists", "{t:0}:drained") == "0")
        }
    }

    @Test func shardCountsAndNamesAreValidated() async throws {
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            for bad in ["0", "1025", "x"] {
                let (process, status) = try await wq.run(["status", "--queue", "v", "--shards", bad])
                #expect(status == .exited(64), "--shards \(bad): \(process.stderr)")
            }
            let (braces, status) = try await wq.run(["push", "--queue", "{v}", "--shards", "2", "a"])
            #expect(status == .exited(64))
            #expect(braces.stderr.contains("without braces"))
            // One shard is the queue itself: the same keys as without --shards.
            #expect(try await wq.run(["push", "--queue", "v", "--shards", "1", "a"]).termination == .exited(0))
            #expect(try await redis.cli("llen", "v") == "1")
            #expect(try await wq.run(["push", "--queue", "v", "a"], environment: ["WORKQUEUE_SHARDS": "2"]).termination == .exited(0))
            #expect(try await redis.cli("llen", "v") == "1")
            let first = Int(try await redis.cli("llen", "{v:0}")) ?? 0
            let second = Int(try await redis.cli("llen", "{v:1}")) ?? 0
            #expect(first + second == 1)
        }
    }
}

import Testing
import TestSupport
import WorkQueue
@_spi(Testing) @testable import WorkQueueRedis

/// `QueueProducer.push(_:options:)` and `RedisQueue.push(_:options:)` against a real Redis:
/// what the library returns, concurrent producers, shards, and the keys it leaves.
@Suite struct DelayedUniqueProducerTests {
    static func producer(_ server: LocalRedis, _ name: String, shards: Int = 1) async throws -> QueueProducer {
        try await QueueProducer.connect(queue: name, shards: shards, url: server.url)
    }

    @Test func aUniquePushReturnsWhatItSkippedAndTheProducerCountsIt() async throws {
        try await LocalRedis.with { server in
            let producer = try await Self.producer(server, "lib")
            let unique = EnqueueOptions(uniqueWindow: .seconds(60))
            #expect(try await producer.push(["a", "b", "b"], options: unique) == EnqueueReport(pushed: 2, skipped: 1, pending: 2))
            #expect(try await producer.push(typed: [1, 2], options: unique) == EnqueueReport(pushed: 2, skipped: 0, pending: 4))
            #expect(try await producer.push(["a", "b"] + [WorkItem("1")], options: unique) == EnqueueReport(pushed: 0, skipped: 3, pending: 4))
            #expect(await producer.pushed == 4)
            #expect(await producer.skipped == 4)
            // One member of 28 bytes per distinct item, with a TTL of the window.
            #expect(try await server.cli("zcard", "lib:unique") == "4")
            let ttl = Int(try await server.cli("pttl", "lib:unique")) ?? 0
            #expect(ttl > 50_000 && ttl <= 60_000)
            #expect(try await server.cli("eval", "return #redis.call('ZRANGE', KEYS[1], 0, 0)[1]", "1", "lib:unique") == "28")
            await producer.close()
        }
    }

    /// The sample of the DocC article "Producing items" ("Later, and once"), run.
    @Test func theArticleSampleOfDelayedAndUniquePushes() async throws {
        try await LocalRedis.with { server in
            let producer = try await Self.producer(server, "sample")
            let later = EnqueueOptions(delay: .seconds(600))                     // push --delay 10m
            let once = EnqueueOptions(uniqueWindow: .seconds(3600))              // push --unique
            let report = try await producer.push(["report-1"], options: once)   // report.skipped: 0, then 1
            #expect(report == EnqueueReport(pushed: 1, skipped: 0, pending: 1))
            #expect(try await producer.push(["report-1"], options: once).skipped == 1)
            #expect(try await producer.push(["report-2"], options: later).pushed == 1)
            #expect(try await producer.counts().scheduled == 1)
            await producer.close()
        }
    }

    /// A push with options sends at most 1000 items a script call, even with a larger
    /// `chunkSize` (a call stays within the script budget).
    @Test func aPushWithOptionsSendsAtMostAThousandItemsACall() async throws {
        try await LocalRedis.with { server in
            let producer = try await QueueProducer.connect(queue: "big", url: server.url,
                                                           options: ProducerOptions(chunkSize: 5000))
            func calls() async throws -> Int {
                let stats = try await server.cli("info", "commandstats")
                guard let line = stats.split(whereSeparator: \.isNewline).first(where: { $0.hasPrefix("cmdstat_evalsha:") }),
                      let field = line.split(separator: ",").first?.split(separator: "=").last else { return 0 }
                return Int(field) ?? -1
            }
            let before = try await calls()
            let report = try await producer.push((0..<2500).map { WorkItem("i-\($0)") }, options: EnqueueOptions(uniqueWindow: .seconds(60)))
            #expect(report.pushed == 2500)
            let after = try await calls()
            #expect(after - before == 3, "evalsha calls \(before) -> \(after)")
            await producer.close()
        }
    }

    @Test func concurrentUniqueProducersPushEachItemOnce() async throws {
        try await LocalRedis.with { server in
            let items = (0..<2000).map { WorkItem("job-\($0)") }
            let pushed = try await withThrowingTaskGroup(of: EnqueueReport.self) { group in
                for index in 0..<4 {
                    group.addTask {
                        let producer = try await Self.producer(server, "race")
                        // Each producer pushes every item, from another starting point, in chunks.
                        let rotated = Array(items[(index * 500)...] + items[..<(index * 500)])
                        do {
                            let report = try await producer.push(rotated, options: EnqueueOptions(uniqueWindow: .seconds(60)))
                            await producer.close()
                            return report
                        } catch {
                            await producer.close()
                            throw error
                        }
                    }
                }
                var all: [EnqueueReport] = []
                for try await report in group { all.append(report) }
                return all
            }
            #expect(pushed.reduce(0) { $0 + $1.pushed } == 2000)
            #expect(pushed.reduce(0) { $0 + $1.skipped } == 6000)
            #expect(try await server.cli("llen", "race") == "2000")
        }
    }

    @Test func delayedItemsWaitInTheScheduledSetAndNextDueSaysWhen() async throws {
        try await LocalRedis.with { server in
            let producer = try await Self.producer(server, "later", shards: 2)
            #expect(try await producer.nextDue() == nil)
            let report = try await producer.push(["x", "y", "z"], options: EnqueueOptions(delay: .seconds(60)))
            #expect(report.pushed == 3 && report.skipped == 0)
            let counts = try await producer.counts()
            #expect(counts.pending == 0 && counts.scheduled == 3 && !counts.isDrained)
            let due = try #require(try await producer.nextDue())
            #expect(due > .seconds(55) && due <= .seconds(60))
            // The members are the retry set's own: `<16 hex digits>:<item>`.
            let members = try await server.cli("zrange", "{later:0}:retry", "0", "-1") + "\n"
                + server.cli("zrange", "{later:1}:retry", "0", "-1")
            #expect(members.split(separator: "\n").map { String($0.dropFirst(17)) }.sorted() == ["x", "y", "z"])
            // A time already past pushes at once.
            #expect(try await producer.push(["now"], options: EnqueueOptions(notBefore: 1_000)).pushed == 1)
            #expect(try await producer.counts().pending == 1)
            await producer.close()
        }
    }

    @Test func aDrainedQueueRefusesAPushWithOptionsAndWritesNothing() async throws {
        try await LocalRedis.with { server in
            let queue = try await RedisQueue.connect(name: "done", configuration: server.configuration)
            #expect(try await queue.finishIfDrained(session: "w"))
            #expect(try await queue.push(["a"], options: EnqueueOptions(delay: .seconds(5), uniqueWindow: .seconds(5))) == nil)
            await #expect(throws: ProducerError.self) { try await queue.enqueue(["a"], options: EnqueueOptions(delay: .seconds(5))) }
            #expect(try await server.cli("exists", "done:retry", "done:unique", "done") == "0")
            await queue.close()
        }
    }
}

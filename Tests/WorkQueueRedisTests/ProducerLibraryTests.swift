import Foundation
import Testing
import TestSupport
import WorkQueue
import WorkQueueRedis

/// A typed handler's input and output in these tests (and in the README's sample).
struct Square: Codable, Sendable, Equatable { var n: Int }
struct Squared: Codable, Sendable, Equatable { var value: Int }

/// Squares JSON `Square` items, upper-cases raw ones, dead-letters `poison` at once.
struct MixedHandler: WorkHandler {
    func handle(_ item: WorkItem, context: WorkContext) async throws -> String? {
        if item.string == "poison" { throw UnprocessableItem("poison is never processed") }
        if let square = try? TypedItem.decode(Square.self, from: item) {
            return try TypedItem.result(Squared(value: square.n * square.n))
        }
        return item.string.uppercased()
    }
}

/// `QueueProducer`, the library a Swift program fills a queue with: pushes raw and typed
/// items, holds the queue, waits until it is drained, and reads results, counts and dead
/// letters, against a real Redis and an in-process worker.
@Suite(.serialized) struct ProducerLibraryTests {
    /// A worker on `queue` that starts once `server` shows a hold on it (a Job's workers
    /// starting after the producer took its hold) and exits when the queue is drained and
    /// no hold is left; ``Worker/shutdown()`` stops it in any case.
    static func workerOnceHeld(_ server: LocalRedis, queue: String) async throws -> (Worker, Task<WorkerSummary, any Error>) {
        let backend = try await RedisQueue.connect(name: queue, configuration: server.configuration)
        var options = WorkerOptions()
        options.heartbeatInterval = nil
        options.recoveryInterval = .milliseconds(200)
        let worker = try Worker(backend: backend, handler: MixedHandler(), options: options)
        let run = Task {
            do {
                for _ in 0..<200 where try await server.cli("zcard", "\(queue):holds") == "0" {
                    try await Task.sleep(for: .milliseconds(25))
                }
                let summary = try await worker.runUntilStopped()
                await backend.close()
                return summary
            } catch {
                await backend.close()
                throw error
            }
        }
        return (worker, run)
    }

    /// The sample of the DocC article "Producing items" (WorkQueueRedis.docc), contiguous:
    /// compiled here (scripts/docs checks the article against it); the test above runs the
    /// same lines against a worker.
    static func producingItemsArticleSample() async throws {
        let url = "redis://redis:6379"  // rediss:// for TLS, user:password@ for an ACL user, h1:p1,h2:p2 for a Cluster
        let producer = try await QueueProducer.connect(queue: "job2", url: url)
        try await producer.hold(ttl: .seconds(30))                   // workers wait instead of exiting
        try await producer.push(["apple", "banana"])                 // raw items, as `workqueue push`
        try await producer.push(typed: [Square(n: 3), Square(n: 4)]) // JSON items for a TypedWorkHandler
        try await producer.release()                                 // workers exit once it is drained
        let counts = try await producer.waitUntilDrained(timeout: .seconds(600))
        let nine = try await producer.result(Squared.self, for: Square(n: 3))  // Squared(value: 9)
        let apple = try await producer.result(for: "apple")          // the raw result string
        let dead = try await producer.deadLetters(limit: 100)        // dead.next: the next page
        await producer.close()
        _ = (counts, nine, apple, dead)
    }

    /// The sample of docs/producing.md ("From a Swift program"), line for line (the URL aside).
    @Test func theReadmeSampleRunsAgainstAWorker() async throws {
        try await LocalRedis.with { server in
            let (worker, run) = try await Self.workerOnceHeld(server, queue: "job2")
            let url = server.url
            let producer = try await QueueProducer.connect(queue: "job2", url: url)
            try await producer.hold(ttl: .seconds(30))                   // workers wait instead of exiting
            try await producer.push(["apple", "banana"])                 // raw items, as `workqueue push`
            try await producer.push(typed: [Square(n: 3), Square(n: 4)]) // JSON items for a TypedWorkHandler
            // Drained, but held: the worker waits (it would have exited 0 by now otherwise).
            try await Self.waitFor { try await producer.counts().completed == 4 }
            try await Task.sleep(for: .milliseconds(300))
            #expect(try await server.cli("exists", "job2:drained") == "0", "a held queue keeps its worker waiting")
            try await producer.release()                                 // workers exit once it is drained
            let counts = try await producer.waitUntilDrained(timeout: .seconds(600))
            let nine = try await producer.result(Squared.self, for: Square(n: 3))  // Squared(value: 9)
            let apple = try await producer.result(for: "apple")          // the raw result string
            let dead = try await producer.deadLetters(limit: 100)        // dead.next: the next page
            await producer.close()

            // The worker found it drained, with no hold left, and exited.
            try await Self.waitFor { try await server.cli("exists", "job2:drained") == "1" }
            worker.shutdown()
            let summary = try await run.value
            #expect(summary.completed == 4)
            #expect(counts.isDrained && counts.completed == 4 && counts.dead == 0)
            #expect(nine == Squared(value: 9))
            #expect(apple == "APPLE")
            #expect(dead.letters.isEmpty && dead.next == nil)
            #expect(try await server.cli("exists", "job2:holds") == "0")
        }
    }

    /// A typed lookup matches by JSON value: an item another tool pushed with other spacing is
    /// found; a raw lookup matches exact bytes only.
    @Test func aTypedLookupFindsAnItemPushedWithOtherSpacing() async throws {
        try await LocalRedis.with { server in
            let (worker, run) = try await Self.workerOnceHeld(server, queue: "spaced")
            let producer = try await QueueProducer.connect(queue: "spaced", url: server.url)
            try await producer.hold(ttl: .seconds(30))
            let spaced: WorkItem = "{ \"n\" :  5 }\n"
            try await producer.push([spaced])
            try await producer.release()
            _ = try await producer.waitUntilDrained(timeout: .seconds(60))
            #expect(try await producer.result(Squared.self, for: Square(n: 5)) == Squared(value: 25))
            #expect(try await producer.result(Squared.self, for: Square(n: 6)) == nil)
            #expect(try await producer.result(for: spaced) != nil, "a raw lookup with the pushed bytes")
            #expect(try await producer.result(for: try TypedItem.encode(Square(n: 5))) == nil,
                    "a raw lookup compares bytes: the compact spelling is another item")
            await producer.close()
            worker.shutdown()
            _ = try await run.value
        }
    }

    /// The README's sample is this test's code: every line of it is here.
    @Test func theReadmeSampleIsTheTestedCode() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let readme = try String(contentsOf: root.appendingPathComponent("docs/producing.md"), encoding: .utf8)
        let source = try String(contentsOf: URL(fileURLWithPath: #filePath), encoding: .utf8)
        let section = try #require(readme.range(of: "### From a Swift program"), "docs/producing.md has no 'From a Swift program' section")
        let start = try #require(readme.range(of: "```swift\n", range: section.upperBound..<readme.endIndex))
        let end = try #require(readme.range(of: "```", range: start.upperBound..<readme.endIndex))
        let lines = readme[start.upperBound..<end.lowerBound].split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(lines.count >= 10)
        for line in lines where !line.hasPrefix("let url =") {
            #expect(source.contains(line), "README line not in the test: \(line)")
        }
    }

    @Test func aDrainedQueueRefusesPushesAndHoldsUntilReopened() async throws {
        try await LocalRedis.with { server in
            let producer = try await QueueProducer.connect(queue: "job3", url: server.url)
            try await producer.push(["a"])
            try await server.cli("del", "job3")
            try await server.cli("set", "job3:drained", "w1")
            await #expect(throws: ProducerError.queueDrained(queue: "job3")) { try await producer.push(["late"]) }
            await #expect(throws: ProducerError.queueDrained(queue: "job3")) { try await producer.hold() }
            #expect(try await server.cli("llen", "job3") == "0", "nothing of a refused push lands")
            #expect(try await server.cli("exists", "job3:holds") == "0", "nor a refused hold")
            #expect(await producer.pushed == 1)
            #expect(try await producer.reopen())
            try await producer.push(["late"])
            #expect(try await server.cli("lrange", "job3", "0", "-1") == "late")
            // hold(reopen:) clears the marker too.
            try await server.cli("set", "job3:drained", "w2")
            try await producer.hold(reopen: true)
            #expect(try await server.cli("exists", "job3:drained") == "0")
            #expect(ProducerError.queueDrained(queue: "job3").description.contains("reopen"))
            await producer.close()
            #expect(try await server.cli("exists", "job3:holds") == "0", "close ends a kept-alive hold")
            await #expect(throws: ProducerError.closed(queue: "job3")) { try await producer.push(["x"]) }
        }
    }

    @Test func twoProducersHoldsAreIndependent() async throws {
        try await LocalRedis.with { server in
            let first = try await QueueProducer.connect(queue: "job4", url: server.url, options: ProducerOptions(holdName: "nightly"))
            let second = try await QueueProducer.connect(queue: "job4", url: server.url)
            let queue = try await RedisQueue.connect(name: "job4", configuration: server.configuration)
            try await first.hold()
            try await second.hold()
            #expect(second.holdName.split(separator: ":").count == 3, "host:pid:random by default")
            #expect(Set(try await first.holds().map(\.name)) == ["nightly", second.holdName])
            let ended = try await first.release()
            #expect(ended == RedisQueue.HoldsEnded(ended: 1, remaining: 1))
            #expect(try await second.holds().map(\.name) == [second.holdName], "the other producer's hold stays")
            #expect(try await queue.finishIfDrained(session: "w1") == false, "workers still wait for the second producer")
            try await second.release()
            #expect(try await queue.finishIfDrained(session: "w1"))
            // An operator's close --all: every hold, a producer's that was killed included.
            try await server.cli("del", "job4:drained")
            try await first.hold()
            try await second.hold()
            #expect(try await first.endHolds(named: nil) == RedisQueue.HoldsEnded(ended: 2, remaining: 0))
            await first.close()
            await second.close()
            await queue.close()
        }
    }

    @Test func aKeptAliveHoldOutlivesItsTTLAndAnotherLapses() async throws {
        try await LocalRedis.with { server in
            let kept = try await QueueProducer.connect(queue: "job5", url: server.url, options: ProducerOptions(holdName: "kept"))
            let lapsing = try await QueueProducer.connect(queue: "job5", url: server.url, options: ProducerOptions(holdName: "once"))
            try await kept.hold(ttl: .seconds(1))
            try await lapsing.hold(ttl: .seconds(1), keepAlive: false)
            try await Task.sleep(for: .milliseconds(2_500))
            #expect(try await kept.holds().map(\.name) == ["kept"], "refreshed in the background, without a push")
            await lapsing.close()
            await kept.close()
            #expect(try await server.cli("exists", "job5:holds") == "0")
        }
    }

    @Test func itemsSpreadOverShardsAndEveryShardIsHeld() async throws {
        try await LocalRedis.with { server in
            let producer = try await QueueProducer.connect(queue: "job6", shards: 3, url: server.url, options: ProducerOptions(chunkSize: 2))
            #expect(producer.shardNames == ["{job6:0}", "{job6:1}", "{job6:2}"])
            try await producer.hold()
            try await producer.push((1...7).map { WorkItem("item\($0)") })
            let each = await producer.pushedPerShard
            #expect(each.reduce(0, +) == 7 && (each.max() ?? 0) - (each.min() ?? 0) <= 1)
            for (index, name) in producer.shardNames.enumerated() {
                #expect(try await server.cli("llen", name) == "\(each[index])")
                #expect(try await server.cli("zcard", "\(name):holds") == "1")
            }
            #expect(try await producer.counts().pending == 7)
            #expect(try await producer.countsByShard().map(\.pending) == each)
            await #expect(throws: ProducerError.self) { try await producer.waitUntilDrained(timeout: .milliseconds(300)) }
            await producer.close()
            for name in producer.shardNames { #expect(try await server.cli("exists", "\(name):holds") == "0") }
        }
    }

    @Test func deadLettersAndResultsAreReadBack() async throws {
        try await LocalRedis.with { server in
            let producer = try await QueueProducer.connect(queue: "job7", shards: 2, url: server.url)
            try await producer.push(["poison", "poison", "fine", "poison", "fine"])
            try await producer.push(typed: ["fine"])  // the JSON string "fine": another item
            let shards = try await producer.shardNames.asyncMap {
                try await RedisQueue.connect(name: $0, configuration: server.configuration)
            }
            let backend = try ShardedBackend(shards: shards)
            var options = WorkerOptions()
            options.heartbeatInterval = nil
            _ = try await Worker(backend: backend, handler: MixedHandler(), options: options).runUntilStopped()
            let counts = try await producer.waitUntilDrained(timeout: .seconds(5))
            #expect(counts.dead == 3 && counts.completed == 3)
            var letters: [DeadLetter] = []
            var cursor: DeadLetterPage.Cursor?
            var pages = 0
            repeat {
                let page = try await producer.deadLetters(after: cursor, limit: 1)
                letters += page.letters
                cursor = page.next
                pages += 1
            } while cursor != nil
            #expect(letters.count == 3 && pages >= 3)
            #expect(letters.allSatisfy { $0.item == "poison" && $0.lastError?.contains("never processed") == true })
            #expect(try await producer.results(for: ["fine", "poison", "unknown"]) == ["FINE", nil, nil])
            #expect(try await producer.result(String.self, for: "fine") == "FINE", "the typed item's result, decoded")
            #expect(try await producer.result(String.self, for: "unknown") == nil)
            await #expect(throws: DecodingError.self) { try await producer.result(Squared.self, for: "fine") }
            await producer.close()
            for shard in backend.shards { await shard.close() }
        }
    }

    @Test func replicasBehindStopThePush() async throws {
        try await LocalRedis.with { server in
            let options = ProducerOptions(waitReplicas: 1, replicaTimeout: .milliseconds(100))
            let producer = try await QueueProducer.connect(queue: "job8", url: server.url, options: options)
            await #expect(throws: ProducerError.replicasBehind(queue: "job8", pushed: 1, acknowledged: 0, wanted: 1,
                                                              timeout: .milliseconds(100))) {
                try await producer.push(["a"])
            }
            #expect(try await server.cli("llen", "job8") == "1", "on the primary, but unconfirmed")
            await producer.close()
        }
    }

    @Test func badOptionsSayWhatToDo() async throws {
        try await LocalRedis.with { server in
            await #expect(throws: WorkQueueError.self) {
                try await QueueProducer.connect(queue: "job9", url: server.url, options: ProducerOptions(holdName: "has space"))
            }
            await #expect(throws: WorkQueueError.self) { try await QueueProducer.connect(queue: "{job9}", shards: 2, url: server.url) }
            await #expect(throws: WorkQueueError.self) { try await QueueProducer.connect(queue: "job9", url: "") }
            let producer = try await QueueProducer.connect(queue: "job9", url: server.url)
            await #expect(throws: WorkQueueError.self) { try await producer.hold(ttl: .milliseconds(10)) }
            let notDrained = ProducerError.notDrained(queue: "job9", counts: QueueCounts(pending: 1, processing: 2, scheduled: 3, dead: 0),
                                                      waited: .seconds(5))
            #expect(notDrained.description.contains("1 pending, 2 in flight, 3 scheduled") && notDrained.description.contains("workqueue workers"))
            await producer.close()
        }
    }

    /// A deployment carries what the command's flags set: here TLS with a private CA and an
    /// ACL user.
    @Test func aProducerConnectsOverTLSAsAnACLUser() async throws {
        let pki = try await TestCertificates()
        let redis = try await LocalRedis(tls: pki)
        let asProducer = ["--user", "producer", "--pass", "pw", "--no-auth-warning"]
        do {
            try await redis.cli("ACL", "SETUSER", "producer", "on", ">pw", "~*", "&*", "+@all")
            try await redis.cli("ACL", "SETUSER", "default", "off")
            var configuration = try RedisConfiguration(url: "rediss://producer:pw@127.0.0.1:\(redis.port)")
            configuration.tls = RedisTLS(caFile: pki.caFile)
            let producer = try await QueueProducer.connect(queue: "tlsjob", deployment: .standalone(configuration))
            try await producer.hold()
            try await producer.push(typed: [Square(n: 2)])
            #expect(try await producer.counts().pending == 1)
            #expect(try await producer.holds().map(\.name) == [producer.holdName])
            await producer.close()
            #expect(try await redis.cli(asProducer + ["lrange", "tlsjob", "0", "-1"]) == #"{"n":2}"#)
            #expect(try await redis.cli(asProducer + ["exists", "tlsjob:holds"]) == "0")
            // Without the CA the server's certificate cannot be verified.
            await #expect(throws: RedisError.self) {
                try await QueueProducer.connect(queue: "tlsjob", url: "rediss://producer:pw@127.0.0.1:\(redis.port)",
                                                connectBudget: .seconds(1))
            }
        } catch {
            await redis.stop()
            throw error
        }
        await redis.stop()
    }

    /// Polls `condition` for up to 10 s.
    static func waitFor(_ condition: () async throws -> Bool) async throws {
        for _ in 0..<400 {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(25))
        }
        Issue.record("timed out waiting")
    }
}

extension Array {
    fileprivate func asyncMap<T>(_ transform: (Element) async throws -> T) async throws -> [T] {
        var out: [T] = []
        for element in self { out.append(try await transform(element)) }
        return out
    }
}

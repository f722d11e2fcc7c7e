import Foundation
import Testing
import TestSupport

/// The Kubernetes tutorial's flow with real processes: a queue filled by `redis-cli rpush`,
/// two workers in parallel, each fruit printed once, both exit 0.
@Suite(.serialized) struct TutorialFlowTests {
    static let fruits = ["apple", "banana", "cherry", "date", "fig", "grape", "lemon", "melon", "orange"]

    @Test func twoWorkersDrainTheNineFruitsEachOnce() async throws {
        try await LocalRedis.with { redis in
            try await redis.cli(["rpush", "job2"] + Self.fruits)
            let wq = try Workqueue(redis)
            let workers = try (0..<2).map { _ in
                try wq.start(["work", "--queue", "job2", "--handler", "printer", "--option", "delay=0.2"])
            }
            for worker in workers {
                let termination = try await worker.wait()
                #expect(termination == .exited(0), "\(worker.stderr)")
            }
            var worked: [String] = []
            for worker in workers {
                let lines = worker.stdoutLines
                #expect(lines.first?.hasPrefix("Worker with sessionID: ") == true, "\(lines)")
                #expect(lines.dropFirst().first?.hasPrefix("Initial queue state: empty=") == true, "\(lines)")
                #expect(lines.last == "Queue empty, exiting", "\(lines)")
                worked += lines.filter { $0.hasPrefix("Working on ") }.map { String($0.dropFirst("Working on ".count)) }
            }
            #expect(worked.sorted() == Self.fruits.sorted())
            let sessions = Set(workers.compactMap { $0.stdoutLines.first })
            #expect(sessions.count == 2)
            #expect(try await redis.cli("llen", "job2") == "0")
            #expect(try await redis.cli("llen", "job2:processing") == "0")
            #expect(try await redis.cli("keys", "job2:leased_by_session:*") == "")
        }
    }

    @Test func anInitiallyEmptyQueueSaysSoAndExitsAtOnce() async throws {
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            let (worker, termination) = try await wq.run(["work", "--queue", "job2", "--handler", "printer"])
            #expect(termination == .exited(0))
            #expect(worker.stdoutLines.dropFirst() == ["Initial queue state: empty=True", "Queue empty, exiting"])
        }
    }

    @Test func everyFlagAlsoReadsItsEnvironmentVariable() async throws {
        try await LocalRedis.with { redis in
            try await redis.cli("rpush", "envq", "x", "y")
            let wq = try Workqueue(redis)
            let (worker, termination) = try await wq.run(
                ["work"], environment: ["WORKQUEUE_QUEUE": "envq", "WORKQUEUE_HANDLER": "printer", "WORKQUEUE_OPTIONS": "delay=0",
                                        "WORKQUEUE_CONCURRENCY": "2", "WORKQUEUE_LEASE_SECONDS": "5"])
            #expect(termination == .exited(0), "\(worker.stderr)")
            #expect(Set(worker.stdoutLines.filter { $0.hasPrefix("Working on") }) == ["Working on x", "Working on y"])
            let (bad, badTermination) = try await wq.run(["work", "--queue", "envq", "--handler", "printer"],
                                                          environment: ["WORKQUEUE_CONCURRENCY": "many"])
            #expect(badTermination != .exited(0))
            #expect(bad.stderr.contains("WORKQUEUE_CONCURRENCY"))
        }
    }

    @Test func sigtermReleasesTheInFlightItemAndExitsNonZero() async throws {
        try await LocalRedis.with { redis in
            try await redis.cli("rpush", "slow", "a", "b")
            let wq = try Workqueue(redis)
            let worker = try wq.start(["work", "--queue", "slow", "--handler", "printer", "--option", "delay=30",
                                       "--grace-seconds", "0.2"])
            try #require(try await worker.waitForStdout(containing: "Working on a"), "\(worker.stderr)")
            worker.send(SIGTERM)
            let termination = try await worker.wait(timeout: .seconds(20))
            #expect(termination == .exited(143))
            #expect(!worker.stdout.contains("Queue empty, exiting"))
            #expect(try await redis.cli("lrange", "slow", "0", "-1") == "a\nb")
            #expect(try await redis.cli("llen", "slow:processing") == "0")
            let hash = try await Self.sha224("a")
            #expect(try await redis.cli("hget", "slow:attempts", hash) == "")
        }
    }

    @Test func anItemOfADeadPythonWorkerIsRecovered() async throws {
        // What rediswq.py leaves behind when its pod is killed holding an item: the item in
        // NAME:processing, its lease key expiring.
        try await LocalRedis.with { redis in
            try await redis.cli("rpush", "job2", "apple", "banana")
            #expect(try await redis.cli("rpoplpush", "job2", "job2:processing") == "banana")
            let hash = try await Self.sha224("banana")
            try await redis.cli("setex", "job2:leased_by_session:\(hash)", "1", "python-session")
            let wq = try Workqueue(redis)
            let (worker, termination) = try await wq.run(
                ["work", "--queue", "job2", "--handler", "printer", "--recovery-seconds", "0.5"], timeout: .seconds(30))
            #expect(termination == .exited(0), "\(worker.stderr)")
            #expect(worker.stdoutLines.filter { $0.hasPrefix("Working on") } == ["Working on apple", "Working on banana"])
            #expect(try await redis.cli("llen", "job2:processing") == "0")
        }
    }

    @Test func aWorkerKilledWithMinus9LosesNothingAndTheJobStillFinishes() async throws {
        try await LocalRedis.with { redis in
            try await redis.cli("rpush", "job2", "apple", "banana")
            let wq = try Workqueue(redis)
            let doomed = try wq.start(["work", "--queue", "job2", "--handler", "printer", "--option", "delay=60",
                                       "--lease-seconds", "1"])
            try #require(try await doomed.waitForStdout(containing: "Working on apple"), "\(doomed.stderr)")
            doomed.send(SIGKILL)
            #expect(try await doomed.wait() == .signaled(SIGKILL))
            let (survivor, termination) = try await wq.run(
                ["work", "--queue", "job2", "--handler", "printer", "--recovery-seconds", "0.3"], timeout: .seconds(30))
            #expect(termination == .exited(0), "\(survivor.stderr)")
            #expect(Set(survivor.stdoutLines.filter { $0.hasPrefix("Working on") }) == ["Working on apple", "Working on banana"])
            #expect(survivor.stderr.contains("recovered expired leases: 1 requeued"), "\(survivor.stderr)")
            #expect(try await redis.cli("get", "job2:completed") == "2")
        }
    }

    /// Lowercase hex SHA-224, from coreutils (an independent implementation).
    static func sha224(_ text: String) async throws -> String {
        let directory = try TemporaryDirectory()
        let input = directory.file("item")
        try Data(text.utf8).write(to: URL(fileURLWithPath: input))
        let (process, _) = try await ChildProcess.run(try LocalRedis.locate("sha224sum"), [input], directory: directory.path, label: "sha")
        return String(process.stdout.prefix(56))
    }
}

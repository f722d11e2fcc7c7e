import Foundation
import Testing
import TestSupport

/// The other commands and the fatal errors of `work`, with real processes and a real Redis.
@Suite struct CommandTests {
    @Test func factorPrintsFactorizationsAndABadItemIsDeadLettered() async throws {
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            let (push, pushed) = try await wq.run(["push", "--queue", "nums", "12", "97", "abc", "1000000007"])
            #expect(pushed == .exited(0))
            #expect(push.stdoutLines == ["Pushed 4 items to nums"])
            let workers = try (0..<2).map { _ in
                try wq.start(["work", "--queue", "nums", "--handler", "factor", "--max-attempts", "2", "--retry-base-seconds", "0.05"])
            }
            var lines: [String] = []
            for worker in workers {
                #expect(try await worker.wait() == .exited(0), "\(worker.stderr)")
                lines += worker.stdoutLines
            }
            #expect(lines.contains("12 = 2 * 2 * 3"))
            #expect(lines.contains("97 = 97"))
            #expect(lines.contains("1000000007 = 1000000007"))
            #expect(try await redis.cli("lrange", "nums:dead", "0", "-1") == "abc")
            let (dead, _) = try await wq.run(["dead", "--queue", "nums", "list"])
            #expect(dead.stdoutLines.count == 1)
            #expect(dead.stdout.hasPrefix("abc\tattempts=2\t"))
            #expect(dead.stdout.contains("\"abc\""), "the error quotes the item: \(dead.stdout)")

            let (json, _) = try await wq.run(["status", "--queue", "nums", "--json"])
            let status = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
            #expect(status?["pending"] as? Int == 0)
            #expect(status?["processing"] as? Int == 0)
            #expect(status?["dead"] as? Int == 1)
            #expect(status?["completed"] as? Int == 3)
            #expect(status?["drained"] as? Bool == true)

            // The workers exited (nums:drained): a retry would leave the item with nobody to take it.
            let (refused, refusedStatus) = try await wq.run(["dead", "--queue", "nums", "retry"])
            #expect(refusedStatus == .exited(78), "\(refused.stderr)")
            #expect(try await redis.cli("llen", "nums:dead") == "1")
            let (retry, _) = try await wq.run(["dead", "--queue", "nums", "retry", "--reopen"])
            #expect(retry.stdoutLines == ["Moved 1 dead item of nums back to pending"])
            #expect(try await redis.cli("lrange", "nums", "0", "-1") == "abc")
            try await redis.cli("rpush", "nums:dead", "x")
            let (purge, _) = try await wq.run(["dead", "--queue", "nums", "purge"])
            #expect(purge.stdoutLines == ["Deleted 1 dead item of nums"])
            #expect(try await redis.cli("llen", "nums:dead") == "0")
        }
    }

    @Test func anItemPastItsTimeLimitIsCancelledAndDeadLettered() async throws {
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            _ = try await wq.run(["push", "--queue", "slow", "a"])
            let started = Date()
            let (work, status) = try await wq.run([
                "work", "--queue", "slow", "--handler", "printer", "--option", "delay=30", "--item-timeout", "1",
                "--max-attempts", "1",
            ])
            #expect(status == .exited(0), "\(work.stderr)")
            #expect(work.stdoutLines.suffix(2) == ["Working on a", "Queue empty, exiting"])
            #expect(Date().timeIntervalSince(started) < 15, "the 30 s sleep was cut at the limit")
            #expect(try await redis.cli("lrange", "slow:dead", "0", "-1") == "a")
            let (dead, _) = try await wq.run(["dead", "--queue", "slow", "list"])
            #expect(dead.stdout.hasPrefix("a\tattempts=1\t"))
            #expect(dead.stdout.contains("timed out after 1 s"), "\(dead.stdout)")
        }
    }

    @Test func statusJSONCountsPendingProcessingAndDead() async throws {
        try await LocalRedis.with { redis in
            try await redis.cli("rpush", "q", "a", "b", "c")
            try await redis.cli("rpoplpush", "q", "q:processing")
            try await redis.cli("rpush", "q:dead", "d")
            let wq = try Workqueue(redis)
            let (json, termination) = try await wq.run(["status", "--queue", "q", "--json"])
            #expect(termination == .exited(0))
            let status = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
            #expect(status["pending"] as? Int == 2)
            #expect(status["processing"] as? Int == 1)
            #expect(status["dead"] as? Int == 1)
            #expect(status["scheduled"] as? Int == 0)
            #expect(status["drained"] as? Bool == false)
            #expect(status["queue"] as? String == "q")
        }
    }

    @Test func pushReadsFilesAndStandardInputLineByLine() async throws {
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            let file = wq.directory.file("items.txt")
            try Data("one\r\ntwo\n\nthree".utf8).write(to: URL(fileURLWithPath: file))
            let (push, termination) = try await wq.run(["push", "--queue", "f", "--file", file])
            #expect(termination == .exited(0))
            #expect(push.stdoutLines == ["Pushed 3 items to f"])
            #expect(try await redis.cli("lrange", "f", "0", "-1") == "one\ntwo\nthree")
            let (missing, missingTermination) = try await wq.run(["push", "--queue", "f", "--file", wq.directory.file("nope")])
            #expect(missingTermination != .exited(0))
            #expect(missing.stderr.contains("nope") && missing.stderr.contains("no such file"))
        }
    }

    @Test func unknownHandlerFailsListingTheKnownOnes() async throws {
        try await LocalRedis.with { redis in
            try await redis.cli("rpush", "q", "a")
            let wq = try Workqueue(redis)
            let (worker, termination) = try await wq.run(["work", "--queue", "q", "--handler", "nope"])
            #expect(termination != .exited(0))
            #expect(worker.stderr.contains("unknown handler 'nope'"))
            #expect(worker.stderr.contains("factor, noop, printer, wordcount"))
            #expect(try await redis.cli("lrange", "q", "0", "-1") == "a")
            let (list, _) = try await wq.run(["handlers"])
            #expect(list.stdoutLines.map { $0.split(separator: " ").first.map(String.init) } == ["printer", "factor", "noop", "wordcount", "countdown"])
        }
    }

    @Test func unreachableRedisFailsWithinItsBudgetNamingTheAddress() async throws {
        let redis = try await LocalRedis()
        await redis.stop()
        let wq = try Workqueue(redis)
        let (worker, termination) = try await wq.run(
            ["work", "--queue", "q", "--handler", "printer", "--connect-timeout", "1"], timeout: .seconds(20))
        #expect(termination == .exited(1))
        #expect(worker.stderr.contains("127.0.0.1:\(redis.port)"), "\(worker.stderr)")
        #expect(!worker.stdout.contains("Worker with sessionID"))
    }

    @Test func aKeyOfTheWrongTypeIsNamedAndLeftAlone() async throws {
        try await LocalRedis.with { redis in
            try await redis.cli("set", "job2", "not a list")
            let wq = try Workqueue(redis)
            let (worker, termination) = try await wq.run(["work", "--queue", "job2", "--handler", "printer"])
            #expect(termination == .exited(78))
            #expect(worker.stderr.contains("'job2' holds a string"), "\(worker.stderr)")
            #expect(try await redis.cli("get", "job2") == "not a list")
        }
    }

    @Test func badFlagsAreRejectedBeforeAnyItemIsTouched() async throws {
        try await LocalRedis.with { redis in
            try await redis.cli("rpush", "q", "a")
            let wq = try Workqueue(redis)
            for (arguments, message) in [
                (["--lease-seconds", "0"], "--lease-seconds"),
                (["--option", "delay"], "KEY=VALUE"),
                (["--option", "delay=soon"], "delay"),
                (["--concurrency", "0"], "--concurrency"),
            ] {
                let (worker, termination) = try await wq.run(["work", "--queue", "q", "--handler", "printer"] + arguments)
                #expect(termination != .exited(0), "\(arguments)")
                #expect(worker.stderr.contains(message), "\(arguments): \(worker.stderr)")
            }
            #expect(try await redis.cli("lrange", "q", "0", "-1") == "a")
            #expect(try await redis.cli("exists", "q:processing") == "0")
        }
    }

    @Test func reapReturnsAnExpiredLeaseToPending() async throws {
        try await LocalRedis.with { redis in
            try await redis.cli("rpush", "q", "a", "b")
            try await redis.cli("rpoplpush", "q", "q:processing")
            let wq = try Workqueue(redis)
            let (reap, termination) = try await wq.run(["reap", "--queue", "q", "--grace-seconds", "0.1"])
            #expect(termination == .exited(0), "\(reap.stderr)")
            #expect(reap.stdoutLines == ["Recovered 1 expired lease (0 dead-lettered); promoted 0 due retries"])
            #expect(try await redis.cli("llen", "q:processing") == "0")
            #expect(try await redis.cli("llen", "q") == "2")
        }
    }

    @Test func statusWatchFollowsWorkersUntilTheQueueDrains() async throws {
        try await LocalRedis.with { redis in
            try await redis.cli(["rpush", "w"] + (1...6).map { "item-\($0)" })
            let wq = try Workqueue(redis)
            let watch = try wq.start(["status", "--queue", "w", "--watch", "--json", "--interval", "0.1"])
            let worker = try wq.start(["work", "--queue", "w", "--handler", "printer", "--option", "delay=0.1"])
            #expect(try await worker.wait() == .exited(0))
            #expect(try await watch.wait(timeout: .seconds(20)) == .exited(0), "\(watch.stderr)")
            let reports = watch.stdoutLines.compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
            #expect(reports.count == watch.stdoutLines.count)
            #expect(reports.count >= 2)
            #expect(reports.first?["drained"] as? Bool == false)
            #expect(reports.last?["drained"] as? Bool == true)
            #expect(reports.last?["completed"] as? Int == 6)
        }
    }

    @Test func sigtermStopsALongFactorizationPromptly() async throws {
        try await LocalRedis.with { redis in
            // Two 20-digit primes: hours of Pollard rho.
            let hard = "10000000000000000016800000000000000005031"
            try await redis.cli("rpush", "hard", hard)
            let wq = try Workqueue(redis)
            let worker = try wq.start(["work", "--queue", "hard", "--handler", "factor", "--grace-seconds", "0.1"])
            for _ in 0..<500 where try await redis.cli("hlen", "hard:lease-items") != "1" {
                try await Task.sleep(for: .milliseconds(10))
            }
            try await Task.sleep(for: .milliseconds(300))
            let sent = ContinuousClock.now
            worker.send(SIGTERM)
            #expect(try await worker.wait(timeout: .seconds(30)) == .exited(143), "\(worker.stderr)")
            #expect(ContinuousClock.now - sent < .seconds(5))
            #expect(try await redis.cli("lrange", "hard", "0", "-1") == hard)
            #expect(try await redis.cli("llen", "hard:processing") == "0")
        }
    }

    @Test func aWorkerRidesOutARedisRestart() async throws {
        // appendfsync always: the restarted server has every acknowledged write.
        let redis = try await LocalRedis(arguments: ["--appendonly", "yes", "--appendfsync", "always"])
        let items = (1...6).map { "item-\($0)" }
        try await redis.cli(["rpush", "r"] + items)
        let wq = try Workqueue(redis)
        let worker = try wq.start(["work", "--queue", "r", "--handler", "printer", "--option", "delay=0.3"])
        try #require(try await worker.waitForStdout(containing: "Working on item-2"), "\(worker.stderr)")
        try await redis.restart()
        #expect(try await worker.wait(timeout: .seconds(60)) == .exited(0), "\(worker.stderr)")
        let worked = Set(worker.stdoutLines.filter { $0.hasPrefix("Working on ") }.map { String($0.dropFirst(11)) })
        #expect(worked == Set(items))
        #expect(try await redis.cli("llen", "r") == "0")
        #expect(try await redis.cli("llen", "r:processing") == "0")
        await redis.stop()
    }

    @Test func redisGoneForGoodEndsTheWorkerWithinItsBudgetAndLosesNothing() async throws {
        let redis = try await LocalRedis(arguments: ["--appendonly", "yes", "--appendfsync", "always"])
        try await redis.cli("rpush", "gone", "a", "b")
        let wq = try Workqueue(redis)
        let worker = try wq.start(["work", "--queue", "gone", "--handler", "printer", "--option", "delay=1",
                                   "--backend-retry-seconds", "2", "--connect-timeout", "1"])
        try #require(try await worker.waitForStdout(containing: "Working on a"), "\(worker.stderr)")
        await redis.stop()
        let stopped = ContinuousClock.now
        #expect(try await worker.wait(timeout: .seconds(60)) == .exited(1))
        #expect(ContinuousClock.now - stopped < .seconds(15))
        #expect(worker.stderr.contains("the queue backend is unavailable"), "\(worker.stderr)")
        #expect(worker.stderr.contains("127.0.0.1:\(redis.port)"), "\(worker.stderr)")
        // Back from its append-only file: the item the worker held is still there, leased for
        // recovery; nothing was lost.
        try await redis.restart()
        #expect(try await redis.cli("hvals", "gone:lease-items") == "a")
        #expect(try await redis.cli("lrange", "gone", "0", "-1") == "b")
        await redis.stop()
    }
}

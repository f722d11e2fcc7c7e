import Foundation
import Testing
import TestSupport

/// `push --delay`, `--not-before` and `--unique` with real processes (issue 31 items 2 and 3):
/// a delayed item runs no earlier than asked and holds the Job open until it has; a unique
/// push of a re-run producer adds nothing.
@Suite struct DelayedUniquePushTests {
    /// RFC 3339 in UTC with ms, as an operator would write it.
    static func rfc3339(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }

    /// When each item's `Working on` line was seen, polling the worker's stdout.
    static func firstSeen(_ worker: ChildProcess, _ items: [String], timeout: Duration) async throws -> [String: Date] {
        var seen: [String: Date] = [:]
        let deadline = ContinuousClock.now + timeout
        while seen.count < items.count && ContinuousClock.now < deadline {
            let lines = worker.stdoutLines
            for item in items where seen[item] == nil && lines.contains("Working on \(item)") { seen[item] = Date() }
            try await Task.sleep(for: .milliseconds(20))
        }
        return seen
    }

    @Test func delayedItemsRunNoEarlierThanAskedAndHoldTheWorkerUntilTheyRan() async throws {
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            let start = Date()
            #expect(try await wq.run(["push", "--queue", "d", "now"]).termination == .exited(0))
            let delayedAt = Date()
            let (delayed, delayedEnd) = try await wq.run(["push", "--queue", "d", "--delay", "8s", "after-8s"])
            #expect(delayedEnd == .exited(0), "\(delayed.stderr)")
            #expect(delayed.stdoutLines.first == "Pushed 1 item to d")
            #expect(delayed.stdoutLines.last?.hasPrefix("Scheduled until ") == true, "\(delayed.stdoutLines)")
            let at = start.addingTimeInterval(10)
            let (absolute, absoluteEnd) = try await wq.run(["push", "--queue", "d", "--not-before", Self.rfc3339(at), "at-10s"])
            #expect(absoluteEnd == .exited(0), "\(absolute.stderr)")
            let unixSeconds = String(Int(start.timeIntervalSince1970.rounded(.up)) + 12)
            #expect(try await wq.run(["push", "--queue", "d", "--not-before", unixSeconds, "at-12s"]).termination == .exited(0))
            // Status shows them as scheduled, with the soonest due time.
            let (status, _) = try await wq.run(["status", "--queue", "d", "--json"])
            let report = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
            #expect(report["scheduled"] as? Int == 3, "\(status.stdout)")
            #expect(report["pending"] as? Int == 1)
            #expect(report["drained"] as? Bool == false)
            let nextDue = try #require(report["next_due_ms"] as? Int, "\(status.stdout)")
            // At most the shortest delay (the processes may start slowly on a busy machine: 0, due now).
            #expect(nextDue >= 0 && nextDue <= 8000)
            let (text, _) = try await wq.run(["status", "--queue", "d"])
            #expect(text.stdout.contains("scheduled  3 (next due in ") || text.stdout.contains("scheduled  3 (one is due now)"),
                    "\(text.stdout)")

            let log = wq.directory.file("hook.log")
            let hook = #"echo "completed=$WORKQUEUE_COMPLETED" >> "$HOOK_LOG""#
            let worker = try wq.start(["work", "--queue", "d", "--handler", "printer", "--on-drained", hook],
                                      environment: ["HOOK_LOG": log])
            let seen = try await Self.firstSeen(worker, ["now", "after-8s", "at-10s", "at-12s"], timeout: .seconds(60))
            #expect(try await worker.wait(timeout: .seconds(30)) == .exited(0), "\(worker.stderr)")
            #expect(worker.stdoutLines.last == "Queue empty, exiting")
            let after8 = try #require(seen["after-8s"], "\(worker.stdout)")
            let at10 = try #require(seen["at-10s"], "\(worker.stdout)")
            let at12 = try #require(seen["at-12s"], "\(worker.stdout)")
            #expect(after8.timeIntervalSince(delayedAt) >= 8, "--delay 8s ran \(after8.timeIntervalSince(delayedAt)) s after the push")
            #expect(at10 >= at, "--not-before (RFC 3339) ran \(at10.timeIntervalSince(at)) s from its time")
            #expect(at12.timeIntervalSince1970 >= Double(unixSeconds) ?? .infinity, "--not-before (Unix seconds)")
            // The --on-drained hook ran once, after every delayed item.
            #expect(try String(contentsOfFile: log, encoding: .utf8) == "completed=4\n")
            // The worker found the queue drained only after the last delayed item ran.
            #expect(worker.stdoutLines.firstIndex(of: "Working on at-12s") ?? .max < worker.stdoutLines.count - 1)
        }
    }

    @Test func aUniquePushOfAReRunProducerAddsNothing() async throws {
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            let input = wq.directory.file("items")
            try "a\nb\nc\nb\n".write(toFile: input, atomically: true, encoding: .utf8)
            let (first, firstEnd) = try await wq.run(["push", "--queue", "u", "--unique", "--file", input])
            #expect(firstEnd == .exited(0), "\(first.stderr)")
            #expect(first.stdoutLines == ["Pushed 3 items to u", "Skipped 1 item already pushed with --unique within 1h"])
            // The producer is run again (after a crash): nothing is added, and that is no error.
            let (again, againEnd) = try await wq.run(["push", "--queue", "u", "--unique", "--file", input])
            #expect(againEnd == .exited(0), "\(again.stderr)")
            #expect(again.stdoutLines == ["Pushed 0 items to u", "Skipped 4 items already pushed with --unique within 1h"])
            #expect(try await redis.cli("llen", "u") == "3")
            // Once the items ran, a re-run still adds nothing (within the window).
            let worker = try wq.start(["work", "--queue", "u", "--handler", "printer"])
            #expect(try await worker.wait(timeout: .seconds(30)) == .exited(0), "\(worker.stderr)")
            let (late, lateEnd) = try await wq.run(["push", "--queue", "u", "--unique", "--reopen", "--file", input])
            #expect(lateEnd == .exited(0), "\(late.stderr)")
            #expect(late.stdoutLines.first == "Pushed 0 items to u")
            #expect(try await redis.cli("llen", "u") == "0")
            // A plain push is not checked; a short window ends.
            #expect(try await wq.run(["push", "--queue", "u", "a"]).process.stdoutLines == ["Pushed 1 item to u"])
            let (short, _) = try await wq.run(["push", "--queue", "u", "--unique", "--unique-window", "1s", "x"])
            #expect(short.stdoutLines == ["Pushed 1 item to u", "Skipped 0 items already pushed with --unique within 1s"])
            try await Task.sleep(for: .milliseconds(1200))
            #expect(try await wq.run(["push", "--queue", "u", "--unique", "x"]).process.stdoutLines.first == "Pushed 1 item to u")
            #expect(try await redis.cli("llen", "u") == "3")
        }
    }

    @Test func aUniquePushOverShardsSendsEqualItemsToOneShard() async throws {
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            let items = (1...30).map { "item-\($0)" }
            let (first, firstEnd) = try await wq.run(["push", "--queue", "s", "--shards", "3", "--unique"] + items)
            #expect(firstEnd == .exited(0), "\(first.stderr)")
            #expect(first.stdoutLines.first?.hasPrefix("Pushed 30 items to s over 3 shards") == true, "\(first.stdoutLines)")
            // Run again many times: each run starts round-robin elsewhere, a unique one never does.
            for _ in 0..<3 {
                let (again, _) = try await wq.run(["push", "--queue", "s", "--shards", "3", "--unique"] + items)
                #expect(again.stdoutLines.first?.hasPrefix("Pushed 0 items to s over 3 shards") == true, "\(again.stdoutLines)")
                #expect(again.stdoutLines.last == "Skipped 30 items already pushed with --unique within 1h")
            }
            var total = 0
            for shard in 0..<3 { total += Int(try await redis.cli("llen", "{s:\(shard)}")) ?? -1 }
            #expect(total == 30)
        }
    }

    @Test func badDelayNotBeforeAndUniqueValuesExit64NamingTheFlag() async throws {
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            let cases: [([String], String)] = [
                (["--delay", "10x"], "--delay"),
                (["--delay", "-5"], "--delay"),
                (["--delay", "400d"], "--delay"),
                (["--delay", "10m1h"], "--delay"),
                (["--not-before", "tomorrow"], "--not-before"),
                (["--not-before", "2026-13-01T00:00:00Z"], "--not-before"),
                (["--not-before", "2026-12-07T22:00:00"], "--not-before"),
                (["--not-before", "99999999999"], "--not-before"),
                (["--delay", "1m", "--not-before", "1796680800"], "--not-before"),
                (["--unique", "--unique-window", "0s"], "--unique-window"),
                (["--unique", "--unique-window", "31d"], "--unique-window"),
                (["--unique-window", "1h"], "--unique-window"),
            ]
            for (flags, flag) in cases {
                let (process, termination) = try await wq.run(["push", "--queue", "bad"] + flags + ["item"])
                #expect(termination == .exited(64), "\(flags): \(process.stderr)")
                #expect(process.stderr.contains(flag), "\(flags): \(process.stderr)")
            }
            #expect(try await redis.cli("exists", "bad", "bad:retry", "bad:unique") == "0", "nothing was pushed")
        }
    }
}

import Foundation
import Testing
import TestSupport

/// Pause, resume, cancel and the rate limit with the built `workqueue` and real worker processes.
@Suite struct ControlFlowTests {
    struct Report: Decodable {
        var pending: Int
        var processing: Int
        var paused: Bool?
        var cancelled: Bool?
        var cancelledItems: Int?

        enum CodingKeys: String, CodingKey {
            case pending, processing, paused, cancelled
            case cancelledItems = "cancelled_items"
        }
    }

    static func status(_ wq: Workqueue, _ queue: [String]) async throws -> Report {
        let (status, done) = try await wq.run(["status", "--json"] + queue)
        #expect(done == .exited(0), "\(status.stderr)")
        return try JSONDecoder().decode(Report.self, from: Data(status.stdout.utf8))
    }

    /// Polls `condition` every 100 ms for up to `seconds`.
    static func eventually(_ seconds: Int = 30, _ condition: () async throws -> Bool) async throws -> Bool {
        for _ in 0..<(seconds * 10) {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return try await condition()
    }

    static func handled(_ workers: [ChildProcess]) -> [String] {
        workers.flatMap { $0.stdoutLines.filter { $0.hasPrefix("Working on ") }.map { String($0.dropFirst("Working on ".count)) } }
    }

    @Test func pauseStopsTakingWhileInFlightItemsFinishAndResumeDrains() async throws {
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            let items = (1...20).map { "p\($0)" }
            try await redis.cli(["rpush", "pq"] + items)
            let workers = try (0..<2).map { _ in
                try wq.start(["work", "--queue", "pq", "--handler", "printer", "--option", "delay=0.4"])
            }
            defer { for worker in workers where worker.poll() == nil { worker.send(SIGKILL) } }
            for worker in workers { #expect(try await worker.waitForStdout(containing: "Working on"), "\(worker.stderr)") }
            let (pause, paused) = try await wq.run(["pause", "--queue", "pq"])
            #expect(paused == .exited(0), "\(pause.stderr)")
            #expect(pause.stdoutLines.first?.hasPrefix("Paused pq") == true)
            // In-flight items finish and are settled; then nothing is taken.
            #expect(try await Self.eventually { try await redis.cli("llen", "pq:processing") == "0" })
            let pending = try await redis.cli("llen", "pq")
            let started = Self.handled(workers).count
            try await Task.sleep(for: .seconds(2))
            #expect(try await redis.cli("llen", "pq") == pending)
            #expect(Self.handled(workers).count == started, "a paused worker started an item")
            #expect(Int(pending) ?? 0 > 0)
            #expect(workers.allSatisfy { $0.poll() == nil }, "a paused worker exited")
            let report = try await Self.status(wq, ["--queue", "pq"])
            #expect(report.paused == true && report.cancelled == false)
            let (table, _) = try await wq.run(["status", "--queue", "pq"])
            #expect(table.stdout.contains("paused"))

            let (resume, resumed) = try await wq.run(["resume", "--queue", "pq"])
            #expect(resumed == .exited(0), "\(resume.stderr)")
            for worker in workers {
                #expect(try await worker.wait(timeout: .seconds(60)) == .exited(0), "\(worker.stderr)")
                #expect(worker.stdoutLines.last == "Queue empty, exiting")
            }
            #expect(Self.handled(workers).sorted() == items.sorted(), "each item handled once")
            #expect(try await Self.status(wq, ["--queue", "pq"]).paused == false)
        }
    }

    @Test func cancelMovesItemsAsideCancelsInFlightHandlersAndWorkersExit4() async throws {
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            let items = (1...20).map { "c\($0)" }
            try await redis.cli(["rpush", "cq"] + items)
            // Long items, renewed every second: the cancel reaches them at their next renewal.
            let workers = try (0..<2).map { _ in
                try wq.start(["work", "--queue", "cq", "--handler", "printer", "--option", "delay=60", "--lease-seconds", "3",
                              "--concurrency", "2", "--prefetch", "1"])
            }
            defer { for worker in workers where worker.poll() == nil { worker.send(SIGKILL) } }
            // Both slots of both workers busy (a buffered item may be taken too).
            #expect(try await Self.eventually { Self.handled(workers).count == 4 })
            let pending = try await redis.cli("llen", "cq")
            let (cancel, cancelled) = try await wq.run(["cancel", "--queue", "cq"])
            #expect(cancelled == .exited(0), "\(cancel.stderr)")
            #expect(cancel.stdoutLines.first == "Cancelled cq: moved \(pending) items aside to cq:cancelled; workers exit with status 4")
            for worker in workers {
                #expect(try await worker.wait(timeout: .seconds(30)) == .exited(4), "\(worker.stderr)")
                #expect(worker.stdoutLines.last == "Queue cancelled, exiting")
            }
            #expect(try await redis.cli("llen", "cq") == "0")
            #expect(try await redis.cli("llen", "cq:processing") == "0")
            let report = try await Self.status(wq, ["--queue", "cq"])
            #expect(report.cancelled == true && report.cancelledItems == 20)
            let (list, listed) = try await wq.run(["cancelled", "--queue", "cq", "list"])
            #expect(listed == .exited(0), "\(list.stderr)")
            #expect(list.stdoutLines.sorted() == items.sorted(), "every item aside, none lost")
            // A worker started on a cancelled queue exits 4 at once.
            let (late, lateStatus) = try await wq.run(["work", "--queue", "cq", "--handler", "printer"])
            #expect(lateStatus == .exited(4), "\(late.stderr)")

            let (resume, resumed) = try await wq.run(["resume", "--queue", "cq", "--restore"])
            #expect(resumed == .exited(0), "\(resume.stderr)")
            #expect(resume.stdoutLines == ["Restored 20 items of cq to pending", "Resumed cq"])
            let (drain, drained) = try await wq.run(["work", "--queue", "cq", "--handler", "printer", "--concurrency", "4"])
            #expect(drained == .exited(0), "\(drain.stderr)")
            #expect(drain.stdoutLines.filter { $0.hasPrefix("Working on ") }.count == 20)
        }
    }

    @Test func cancelAndRestoreWorkOnEveryShard() async throws {
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            let items = (1...12).map { "s\($0)" }
            let (push, pushed) = try await wq.run(["push", "--queue", "sj", "--shards", "3"] + items)
            #expect(pushed == .exited(0), "\(push.stderr)")
            let worker = try wq.start(["work", "--queue", "sj", "--shards", "3", "--handler", "printer", "--option", "delay=60",
                                       "--lease-seconds", "3"])
            defer { if worker.poll() == nil { worker.send(SIGKILL) } }
            #expect(try await worker.waitForStdout(containing: "Working on"), "\(worker.stderr)")
            let (pause, paused) = try await wq.run(["pause", "--queue", "sj", "--shards", "3"])
            #expect(paused == .exited(0), "\(pause.stderr)")
            for index in 0..<3 { #expect(try await redis.cli("hget", "{sj:\(index)}:control", "paused") == "1") }
            let (cancel, cancelled) = try await wq.run(["cancel", "--queue", "sj", "--shards", "3"])
            #expect(cancelled == .exited(0), "\(cancel.stderr)")
            #expect(try await worker.wait(timeout: .seconds(30)) == .exited(4), "\(worker.stderr)")
            let (list, _) = try await wq.run(["cancelled", "--queue", "sj", "--shards", "3", "list"])
            #expect(list.stdoutLines.sorted() == items.sorted())
            let report = try await Self.status(wq, ["--queue", "sj", "--shards", "3"])
            #expect(report.cancelled == true && report.paused == true && report.cancelledItems == 12)
            let (restore, restored) = try await wq.run(["cancelled", "--queue", "sj", "--shards", "3", "restore"])
            #expect(restored == .exited(0), "\(restore.stderr)")
            #expect(restore.stdoutLines == ["Restored 12 items of sj to pending"])
            _ = try await wq.run(["resume", "--queue", "sj", "--shards", "3"])
            let (drain, drained) = try await wq.run(["work", "--queue", "sj", "--shards", "3", "--handler", "printer"])
            #expect(drained == .exited(0), "\(drain.stderr)")
            #expect(drain.stdoutLines.filter { $0.hasPrefix("Working on ") }.count == 12)
        }
    }

    /// Issue 26, defects 3 and 4: `cancel` moves every pending item and every scheduled retry
    /// (5 pending, 5,000 small retries due in an hour and 30 of 100 KiB: more than a script's
    /// old 1,000-retry cap, and pages cut short by the byte budget), paging on what remains;
    /// `resume --restore` brings them all back, clears the mark and leaves no hold.
    @Test func cancelMovesEveryScheduledRetryAndResumeRestoreBringsAllBack() async throws {
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            let (push, pushed) = try await wq.run(["push", "--queue", "cr"] + (1...5).map { "p\($0)" })
            #expect(pushed == .exited(0), "\(push.stderr)")
            let due = Int(Date().timeIntervalSince1970 * 1000) + 3_600_000
            for start in stride(from: 0, to: 5000, by: 1000) {
                try await redis.cli(["zadd", "cr:retry"] + (start..<start + 1000).flatMap { ["\(due + $0)", String(format: "%016x:r%d", $0, $0)] })
            }
            let big = String(repeating: "b", count: 100 << 10)
            for start in stride(from: 0, to: 30, by: 10) {
                try await redis.cli(["zadd", "cr:retry"] + (start..<start + 10).flatMap { ["\(due + 5000 + $0)", String(format: "%016x:", 5000 + $0) + big] })
            }
            let (cancel, cancelled) = try await wq.run(["cancel", "--queue", "cr"])
            #expect(cancelled == .exited(0), "\(cancel.stderr)")
            #expect(cancel.stdoutLines == ["Cancelled cr: moved 5035 items aside to cr:cancelled; workers exit with status 4"])
            #expect(try await redis.cli("zcard", "cr:retry") == "0")
            #expect(try await redis.cli("llen", "cr") == "0")
            let (resume, resumed) = try await wq.run(["resume", "--queue", "cr", "--restore"])
            #expect(resumed == .exited(0), "\(resume.stderr)")
            #expect(resume.stdoutLines == ["Restored 5035 items of cr to pending", "Resumed cr"])
            #expect(try await redis.cli("llen", "cr") == "5035")
            #expect(try await redis.cli("exists", "cr:cancelled") == "0")
            #expect(try await redis.cli("hexists", "cr:control", "cancelled") == "0")
            #expect(try await redis.cli("zcard", "cr:holds") == "0")
        }
    }

    @Test func aRateLimitedFleetDrainsNoFasterThanTheLimit() async throws {
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            let items = (1...90).map { "r\($0)" }
            try await redis.cli(["rpush", "rq"] + items)
            // 30/s shared by 2 workers (a burst of 3): from the first completion to the last at
            // least 86 / 30 s. Only a lower bound, which a loaded machine cannot break; the rate
            // itself is measured by `scripts/bench rate`.
            let workers = try (0..<2).map { _ in
                try wq.start(["work", "--queue", "rq", "--handler", "printer", "--concurrency", "8"],
                             environment: ["WORKQUEUE_RATE_LIMIT": "30/s"])
            }
            defer { for worker in workers where worker.poll() == nil { worker.send(SIGKILL) } }
            #expect(try await Self.eventually { Int(try await redis.cli("get", "rq:completed")) ?? 0 >= 1 })
            let first = ContinuousClock.now
            #expect(try await Self.eventually(60) { try await redis.cli("get", "rq:completed") == "90" })
            let elapsed = ContinuousClock.now - first
            #expect(elapsed >= .milliseconds(2500), "90 items at 30/s took only \(elapsed)")
            for worker in workers {
                #expect(try await worker.wait(timeout: .seconds(60)) == .exited(0), "\(worker.stderr)")
            }
            #expect(Self.handled(workers).sorted() == items.sorted())
        }
    }
}

import Foundation
import Testing
import TestSupport

/// The finish line (issue 20): `wait` blocks until the queue is drained and says how it ended
/// by its exit status; `work --on-drained` runs a command once for the whole fleet.
@Suite struct FinishLineTests {
    struct Report: Decodable {
        var queue: String
        var pending: Int
        var dead: Int
        var completed: Int?
        var drained: Bool
        var shards: [Report]?
    }

    @Test func waitExits0OnceTheWorkersDrainTheQueue() async throws {
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            #expect(try await wq.run(["open", "--queue", "job"]).termination == .exited(0))
            let waiter = try wq.start(["wait", "--queue", "job", "--json", "--interval", "0.1"])
            #expect(try await wq.run(["push", "--queue", "job", "a", "b", "c"]).termination == .exited(0))
            try await Task.sleep(for: .milliseconds(300))
            #expect(waiter.poll() == nil, "wait returned while the queue was held open: \(waiter.stdout)")
            let worker = try wq.start(["work", "--queue", "job", "--handler", "printer"])
            try await Task.sleep(for: .milliseconds(500))
            #expect(waiter.poll() == nil, "wait returned while the queue was held open: \(waiter.stdout)")
            #expect(try await wq.run(["close", "--queue", "job"]).termination == .exited(0))
            #expect(try await worker.wait() == .exited(0), "\(worker.stderr)")
            #expect(try await waiter.wait() == .exited(0), "\(waiter.stderr)")
            let report = try JSONDecoder().decode(Report.self, from: Data(waiter.stdout.utf8))
            #expect(report.queue == "job" && report.drained && report.pending == 0 && report.dead == 0 && report.completed == 3)
        }
    }

    @Test func waitExits2WhenAnItemWasDeadLettered() async throws {
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            #expect(try await wq.run(["push", "--queue", "job", "short", String(repeating: "x", count: 64)]).termination == .exited(0))
            let worker = try wq.start(["work", "--queue", "job", "--handler", "printer", "--max-item-bytes", "16"])
            #expect(try await worker.wait() == .exited(0), "\(worker.stderr)")
            let (waiter, status) = try await wq.run(["wait", "--queue", "job"])
            #expect(status == .exited(2), "\(waiter.stdout) \(waiter.stderr)")
            #expect(waiter.stdoutLines == ["Queue job drained: 1 completed, 1 dead (see `workqueue dead list`)"])
        }
    }

    @Test func waitExits124AfterItsTimeout() async throws {
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            #expect(try await wq.run(["push", "--queue", "job", "a", "b"]).termination == .exited(0))
            let started = ContinuousClock.now
            let (waiter, status) = try await wq.run(["wait", "--queue", "job", "--timeout", "0.5", "--json"])
            #expect(status == .exited(124), "\(waiter.stdout) \(waiter.stderr)")
            #expect(ContinuousClock.now - started < .seconds(10))
            let report = try JSONDecoder().decode(Report.self, from: Data(waiter.stdout.utf8))
            #expect(report.pending == 2 && !report.drained)
        }
    }

    /// Three workers race to the drain; the hook runs in exactly one of them, with the counts.
    @Test func onDrainedRunsOnceForThreeRacingWorkers() async throws {
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            let log = wq.directory.file("hook.log")
            let items = (1...30).map { "item-\($0)" }
            #expect(try await wq.run(["push", "--queue", "job"] + items).termination == .exited(0))
            let hook = #"echo "$WORKQUEUE_QUEUE completed=$WORKQUEUE_COMPLETED dead=$WORKQUEUE_DEAD shards=$WORKQUEUE_SHARDS" >> "$HOOK_LOG""#
            let workers = try (0..<3).map { _ in
                try wq.start(["work", "--queue", "job", "--handler", "printer", "--option", "delay=0.02", "--on-drained", hook],
                             environment: ["HOOK_LOG": log])
            }
            for worker in workers { #expect(try await worker.wait() == .exited(0), "\(worker.stderr)") }
            let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
            #expect(lines == ["job completed=30 dead=0 shards=1"])
            #expect(try await redis.cli("hget", "job:on-drained", "state") == "done")
            #expect(try await redis.cli("hget", "job:on-drained", "exit_status") == "0")
            // A worker started after the drain exits 0 and does not run it again.
            let late = try wq.start(["work", "--queue", "job", "--handler", "printer", "--on-drained", hook], environment: ["HOOK_LOG": log])
            #expect(try await late.wait() == .exited(0), "\(late.stderr)")
            #expect(try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").count == 1)
        }
    }

    @Test func aFailingHookExits3AndIsNotRerun() async throws {
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            let log = wq.directory.file("hook.log")
            #expect(try await wq.run(["push", "--queue", "job", "a"]).termination == .exited(0))
            let hook = #"echo ran >> "$HOOK_LOG"; exit 7"#
            let (first, status) = try await wq.run(["work", "--queue", "job", "--handler", "printer"],
                                                   environment: ["HOOK_LOG": log, "WORKQUEUE_ON_DRAINED": hook])
            #expect(status == .exited(3), "\(first.stderr)")
            #expect(first.stderr.contains("exited 7"))
            #expect(try await redis.cli("hget", "job:on-drained", "state") == "failed")
            #expect(try await redis.cli("hget", "job:on-drained", "exit_status") == "7")
            let (table, _) = try await wq.run(["status", "--queue", "job"])
            #expect(table.stdout.contains("on-drained failed (exit 7) in "), "\(table.stdout)")
            let (json, _) = try await wq.run(["status", "--queue", "job", "--json"])
            let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
            let record = try #require(object["on_drained"] as? [String: Any], "\(json.stdout)")
            #expect(record["state"] as? String == "failed" && record["exit_status"] as? Int == 7)
            let (again, second) = try await wq.run(["work", "--queue", "job", "--handler", "printer"],
                                                   environment: ["HOOK_LOG": log, "WORKQUEUE_ON_DRAINED": hook])
            #expect(second == .exited(0), "\(again.stderr)")
            #expect(try String(contentsOfFile: log, encoding: .utf8) == "ran\n")
        }
    }

    /// The documented guarantee: a worker killed mid-hook leaves state started, and nobody
    /// runs the hook again (a replacement exits 0 at once).
    @Test func aWorkerKilledMidHookLeavesStartedAndNobodyRerunsIt() async throws {
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            let log = wq.directory.file("hook.log")
            let pidFile = wq.directory.file("hook.pid")
            #expect(try await wq.run(["push", "--queue", "job", "a"]).termination == .exited(0))
            // The hook's shell becomes `sleep` (exec keeps its pid), so that the test can end it.
            let hook = #"echo ran >> "$HOOK_LOG"; echo $$ > "$HOOK_PID"; exec sleep 60"#
            let environment = ["HOOK_LOG": log, "HOOK_PID": pidFile, "WORKQUEUE_ON_DRAINED": hook]
            let worker = try wq.start(["work", "--queue", "job", "--handler", "printer"], environment: environment)
            var hookPID: Int32?
            for _ in 0..<200 where hookPID == nil {
                try await Task.sleep(for: .milliseconds(50))
                hookPID = (try? String(contentsOfFile: pidFile, encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            }
            let pid = try #require(hookPID, "the hook did not start: \(worker.stderr)")
            defer { kill(pid, SIGKILL) }
            worker.send(SIGKILL)
            #expect(try await worker.wait() == .signaled(SIGKILL))
            #expect(try await redis.cli("hget", "job:on-drained", "state") == "started")
            let (again, status) = try await wq.run(["work", "--queue", "job", "--handler", "printer"], environment: environment)
            #expect(status == .exited(0), "\(again.stderr)")
            #expect(try String(contentsOfFile: log, encoding: .utf8) == "ran\n")
            let (table, _) = try await wq.run(["status", "--queue", "job"])
            #expect(table.stdout.contains("on-drained started by "), "\(table.stdout)")
        }
    }

    /// Issue 26, defect 5: the hook starts with every signal at its default action and none
    /// blocked, in a process group of its own, so the issue's recipe (a loop piped into
    /// `head -n1`) ends at once (with SIGPIPE ignored it ran forever; bounded here by
    /// `timeout -s KILL 20`).
    @Test func theHookStartsWithDefaultSignalsInItsOwnProcessGroup() async throws {
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            let log = wq.directory.file("hook.log")
            #expect(try await wq.run(["push", "--queue", "job", "a"]).termination == .exited(0))
            let hook = #"""
                read -r pid _ _ _ pgrp _ < /proc/$$/stat; echo "group $pid $pgrp" > "$HOOK_LOG"
                grep -E '^Sig(Ign|Blk):' /proc/self/status >> "$HOOK_LOG"
                timeout -s KILL 20 sh -c 'while :; do echo line; done 2>/dev/null | head -n1 >/dev/null'; echo "ended $?" >> "$HOOK_LOG"
                """#
            let (run, status) = try await wq.run(["work", "--queue", "job", "--handler", "printer", "--on-drained", hook],
                                                 environment: ["HOOK_LOG": log])
            #expect(status == .exited(0), "\(run.stderr)")
            let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map(String.init)
            try #require(lines.count == 4, "\(lines)")
            let group = lines[0].split(separator: " ")
            #expect(group.count == 3 && group[1] == group[2], "the hook leads a process group of its own: \(lines[0])")
            // Signals 1 to 31 (SIGPIPE, SIGTERM, SIGINT...) neither blocked nor ignored; glibc keeps
            // its own two real-time signals (32, 33) to itself.
            func standard(_ line: String) -> UInt64? { line.split(separator: "\t").last.flatMap { UInt64($0, radix: 16) }.map { $0 & 0x7fff_ffff } }
            #expect(lines[1].hasPrefix("SigBlk:") && standard(lines[1]) == 0, "no signal blocked: \(lines[1])")
            #expect(lines[2].hasPrefix("SigIgn:") && standard(lines[2]) == 0, "no signal ignored: \(lines[2])")
            #expect(lines[3] == "ended 0")
            #expect(try await redis.cli("hget", "job:on-drained", "state") == "done")
        }
    }

    /// Issue 26, defect 5: SIGTERM while the hook runs reaches the hook's process group (the
    /// shell and its `sleep`), the worker exits 143 and `NAME:on-drained` says stopped.
    @Test func sigtermWhileTheHookRunsStopsItAndIsRecorded() async throws {
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            let pidFile = wq.directory.file("hook.pid")
            let childFile = wq.directory.file("hook-child.pid")
            #expect(try await wq.run(["push", "--queue", "job", "a"]).termination == .exited(0))
            let hook = #"sleep 60 & echo $! > "$HOOK_CHILD"; echo $$ > "$HOOK_PID"; wait; echo late"#
            let worker = try wq.start(["work", "--queue", "job", "--handler", "printer", "--on-drained", hook],
                                      environment: ["HOOK_PID": pidFile, "HOOK_CHILD": childFile])
            defer { if worker.poll() == nil { worker.send(SIGKILL) } }
            var hookPID: Int32?
            for _ in 0..<200 where hookPID == nil {
                try await Task.sleep(for: .milliseconds(50))
                hookPID = (try? String(contentsOfFile: pidFile, encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            }
            let pid = try #require(hookPID, "the hook did not start: \(worker.stderr)")
            let child = try #require((try? String(contentsOfFile: childFile, encoding: .utf8))
                .flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) })
            defer {
                // Nothing left running, whatever the outcome.
                kill(-pid, SIGKILL)
                kill(pid, SIGKILL)
                kill(child, SIGKILL)
            }
            worker.send(SIGTERM)
            #expect(try await worker.wait(timeout: .seconds(20)) == .exited(143), "\(worker.stderr)")
            #expect(try await redis.cli("hget", "job:on-drained", "state") == "stopped")
            #expect(try await redis.cli("hget", "job:on-drained", "exit_status") == "143")
            // Nothing of the hook's group is left (its sleep got the SIGTERM too).
            var gone = false
            for _ in 0..<100 where !gone {
                gone = kill(-pid, 0) != 0 && kill(child, 0) != 0
                if !gone { try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(gone, "the hook's process group is still alive")
            #expect(!worker.stdout.contains("late"))
        }
    }

    @Test func shardedWaitAndHook() async throws {
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            let log = wq.directory.file("hook.log")
            let items = (1...20).map { "item-\($0)" }
            #expect(try await wq.run(["push", "--queue", "job", "--shards", "3"] + items).termination == .exited(0))
            let waiter = try wq.start(["wait", "--queue", "job", "--shards", "3", "--json", "--interval", "0.1"])
            let hook = #"echo "completed=$WORKQUEUE_COMPLETED shards=$WORKQUEUE_SHARDS" >> "$HOOK_LOG""#
            let workers = try (0..<3).map { _ in
                try wq.start(["work", "--queue", "job", "--shards", "3", "--handler", "printer", "--option", "delay=0.02",
                              "--on-drained", hook], environment: ["HOOK_LOG": log])
            }
            for worker in workers { #expect(try await worker.wait() == .exited(0), "\(worker.stderr)") }
            #expect(try await waiter.wait() == .exited(0), "\(waiter.stderr)")
            let report = try JSONDecoder().decode(Report.self, from: Data(waiter.stdout.utf8))
            #expect(report.completed == 20 && report.shards?.count == 3)
            #expect(try String(contentsOfFile: log, encoding: .utf8) == "completed=20 shards=3\n")
            #expect(try await redis.cli("hget", "{job:0}:on-drained", "state") == "done")
        }
    }
}

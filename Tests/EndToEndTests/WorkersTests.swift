import Foundation
import Testing
import TestSupport

/// `workqueue workers`: live workers from their heartbeat records, with what each one holds.
@Suite struct WorkersTests {
    struct Report: Decodable {
        struct Item: Decodable {
            var item: String
            var lease_seconds_left: Double?
        }
        struct Worker: Decodable {
            var session: String
            var host: String
            var handler: String
            var started_at: String
            var last_seen_seconds: Double
            var in_flight: Int
            var held: Int
            var completed: Int
            var leases: Int
            var items: [Item]
        }
        struct Unrecorded: Decodable {
            var session: String
            var kind: String
            var leases: Int
        }
        var queue: String
        var workers: [Worker]
        var unrecorded: [Unrecorded]
    }

    static func report(_ wq: Workqueue, _ queue: String) async throws -> Report {
        let (process, termination) = try await wq.run(["workers", "--queue", queue, "--json"])
        try #require(termination == .exited(0), "\(process.stderr)")
        return try JSONDecoder().decode(Report.self, from: Data(process.stdout.utf8))
    }

    @Test func liveWorkersAreListedWithWhatTheyHoldAndLeaveWhenTheyStop() async throws {
        try await LocalRedis.with { redis in
            try await redis.cli(["rpush", "jobw", "apple", "banana", "cherry", "held\u{1}by\"python"])
            // A rediswq.py worker's take: the item in processing and its lease key (no record).
            try await redis.cli(["lmove", "jobw", "jobw:processing", "right", "left"])
            let (hash, _) = try await ChildProcess.run(
                "/usr/bin/env", ["python3", "-c", "import hashlib,sys; print(hashlib.sha224(sys.argv[1].encode()).hexdigest())",
                                 "held\u{1}by\"python"],
                directory: redis.directory.path, label: "sha224-\(UUID().uuidString)")
            try await redis.cli(["setex", "jobw:leased_by_session:" + hash.stdout.trimmingCharacters(in: .whitespacesAndNewlines),
                                 "60", "tutorial-session"])
            let wq = try Workqueue(redis)
            let worker = try wq.start(["work", "--queue", "jobw", "--handler", "printer", "--option", "delay=30",
                                       "--heartbeat-seconds", "1", "--grace-seconds", "0"],
                                      environment: ["HOSTNAME": "pod-7"])
            #expect(try await worker.waitForStdout(containing: "Working on apple"), "\(worker.stderr)")
            var report = try await Self.report(wq, "jobw")
            // The first record may predate the first lease: wait for a refresh that shows it.
            for _ in 0..<50 where report.workers.first?.in_flight != 1 {
                try await Task.sleep(for: .milliseconds(100))
                report = try await Self.report(wq, "jobw")
            }
            #expect(report.queue == "jobw")
            let live = try #require(report.workers.first, "no live worker: \(report)")
            #expect(report.workers.count == 1)
            #expect(worker.stdout.contains("Worker with sessionID: \(live.session)"))
            #expect(live.host == "pod-7" && live.handler == "printer")
            #expect(live.in_flight == 1 && live.held >= 1 && live.completed == 0)
            #expect(live.started_at.hasSuffix("Z") && live.last_seen_seconds < 5)
            #expect(live.leases >= 1 && live.items.first?.item == "apple", "\(report)")
            #expect((live.items.first?.lease_seconds_left ?? 0) > 20)
            let tutorial = try #require(report.unrecorded.first { $0.kind == "rediswq" }, "\(report)")
            #expect(tutorial.session == "tutorial-session" && tutorial.leases == 1)

            let (text, _) = try await wq.run(["workers", "--queue", "jobw"])
            #expect(text.stdout.contains("queue jobw: 1 live worker"), "\(text.stdout)")
            #expect(text.stdout.contains("\(live.session) on pod-7, handler printer"), "\(text.stdout)")
            #expect(text.stdout.contains("    apple "), "\(text.stdout)")
            #expect(text.stdout.contains("tutorial-session (rediswq) holds 1 item"), "\(text.stdout)")
            #expect(text.stdout.contains("held\\x01by\"python"), "escaped item: \(text.stdout)")

            let (status, _) = try await wq.run(["status", "--queue", "jobw", "--json"])
            let counts = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
            #expect(counts["workers"] as? Int == 1, "\(status.stdout)")

            // A clean stop removes the record at once.
            worker.send(SIGTERM)
            #expect(try await worker.wait() == .exited(143), "\(worker.stderr)")
            report = try await Self.report(wq, "jobw")
            #expect(report.workers.isEmpty, "\(report)")
        }
    }

    @Test func aKilledWorkersRecordExpiresAndItsLeasesShowWithoutOne() async throws {
        try await LocalRedis.with { redis in
            try await redis.cli(["rpush", "jobk", "stuck"])
            let wq = try Workqueue(redis)
            let worker = try wq.start(["work", "--queue", "jobk", "--handler", "printer", "--option", "delay=60",
                                       "--heartbeat-seconds", "0.5"])
            #expect(try await worker.waitForStdout(containing: "Working on stuck"), "\(worker.stderr)")
            worker.send(SIGKILL)
            _ = try await worker.wait()
            var report = try await Self.report(wq, "jobk")
            // Three intervals (1.5 s) without a refresh, and it is no longer live.
            for _ in 0..<100 where !report.workers.isEmpty {
                try await Task.sleep(for: .milliseconds(100))
                report = try await Self.report(wq, "jobk")
            }
            #expect(report.workers.isEmpty, "\(report)")
            let orphan = try #require(report.unrecorded.first, "\(report)")
            #expect(orphan.kind == "workqueue" && orphan.leases == 1)
            #expect(worker.stdout.contains("Worker with sessionID: \(orphan.session)"))
        }
    }
}

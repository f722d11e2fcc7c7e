import Foundation
import Testing
import TestSupport

/// A long item killed mid-way resumes from its checkpoint (`WorkContext.saveCheckpoint`), with
/// real worker processes: the `countdown` handler saves the next step after each one.
@Suite struct CheckpointEndToEndTests {
    struct Report: Decodable {
        struct Progress: Decodable {
            var item: String
            var fraction: Double
            var note: String
        }
        struct Worker: Decodable {
            var session: String
            var progress: [Progress]
        }
        var workers: [Worker]
    }

    /// Issue 26, defect 9, its recipe scaled down: an equal item pushed while the first copy
    /// runs (and has stored a checkpoint) is a job of its own: it counts from 0, and neither
    /// copy's completion takes the other's checkpoint.
    @Test func aSecondCopyOfAnEqualItemStartsFromTheBeginning() async throws {
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            let queue = "copies"
            #expect(try await wq.run(["push", "--queue", queue, "20"]).termination == .exited(0))
            let worker = try wq.start(["work", "--queue", queue, "--handler", "countdown", "--option", "step=0.1",
                                       "--lease-seconds", "1.5", "--concurrency", "2", "--results-max", "10"])
            #expect(try await worker.waitForStdout(containing: "Working on 20"), "\(worker.stderr)")
            // The first copy's checkpoint is stored with its lease; then the same bytes again.
            var stored = ""
            for _ in 0..<50 where stored.isEmpty {
                stored = try await redis.cli(["hvals", "\(queue):lease-checkpoints"])
                if stored.isEmpty { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(Int(stored) ?? 0 > 0, "no checkpoint stored: '\(stored)'")
            #expect(try await wq.run(["push", "--queue", queue, "20"]).termination == .exited(0))
            #expect(try await worker.wait() == .exited(0), "\(worker.stderr)")
            #expect(!worker.stdout.contains("Resuming"), "\(worker.stdout)")
            let results = try await redis.cli(["xrange", "\(queue):results", "-", "+"])
            #expect(results.components(separatedBy: "counted 20 steps from 0").count - 1 == 2, "\(results)")
            #expect(try await redis.cli(["hlen", "\(queue):checkpoints"]) == "0")
            #expect(try await redis.cli(["hlen", "\(queue):lease-checkpoints"]) == "0")
        }
    }

    @Test(arguments: [1, 2])
    func aWorkerKilledMidItemIsResumedFromItsCheckpoint(shards: Int) async throws {
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            let queue = "cp"
            let sharding = shards > 1 ? ["--shards", "\(shards)"] : []
            #expect(try await wq.run(["push", "--queue", queue, "60"] + sharding).termination == .exited(0))
            let first = try wq.start(["work", "--queue", queue, "--handler", "countdown", "--option", "step=0.1",
                                      "--lease-seconds", "1.5", "--heartbeat-seconds", "0.3"] + sharding)
            #expect(try await first.waitForStdout(containing: "Working on 60"), "\(first.stderr)")
            // `workers` shows the handler's progress; a renewal (every 0.5 s) stores its checkpoint.
            var progress: Report.Progress?
            for _ in 0..<100 {
                let (listing, _) = try await wq.run(["workers", "--queue", queue, "--json"] + sharding)
                let report = try? JSONDecoder().decode(Report.self, from: Data(listing.stdout.utf8))
                progress = report?.workers.first?.progress.first
                if let progress, progress.fraction >= 0.2 { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            let shown = try #require(progress, "no progress shown")
            #expect(shown.item == "60" && shown.fraction >= 0.2 && shown.note.hasPrefix("step "), "\(shown)")
            let (text, _) = try await wq.run(["workers", "--queue", queue] + sharding)
            #expect(text.stdout.contains("    progress "), "\(text.stdout)")
            // Stored with the lease (by token: one copy's alone), not by item.
            let prefixes = shards > 1 ? (0..<shards).map { "{\(queue):\($0)}" } : [queue]
            let keys = prefixes.flatMap { ["\($0):checkpoints", "\($0):lease-checkpoints"] }
            var stored = ""
            for _ in 0..<50 where stored.isEmpty {
                for prefix in prefixes { stored += try await redis.cli(["hvals", "\(prefix):lease-checkpoints"]) }
                if stored.isEmpty { try await Task.sleep(for: .milliseconds(100)) }
            }
            let saved = try #require(Int(stored), "no checkpoint stored: '\(stored)'")
            #expect(saved > 0 && saved < 60)

            first.send(SIGKILL)
            _ = try await first.wait()
            // The second worker recovers the expired lease and resumes where the first got to.
            let second = try wq.start(["work", "--queue", queue, "--handler", "countdown", "--option", "step=0.1",
                                       "--lease-seconds", "1.5", "--recovery-seconds", "0.5"] + sharding)
            #expect(try await second.wait() == .exited(0), "\(second.stderr)")
            let resumed = try #require(second.stdoutLines.first { $0.hasPrefix("Resuming 60 at step ") }, "\(second.stdout)")
            let step = try #require(Int(resumed.dropFirst("Resuming 60 at step ".count)))
            #expect(step >= saved && step < 60, "resumed at \(step), saved \(saved)")
            // Done: the checkpoint is deleted with the item (the lease's and any waiting one).
            for key in keys { #expect(try await redis.cli(["hlen", key]) == "0") }
            let (dead, _) = try await wq.run(["status", "--queue", queue, "--json"] + sharding)
            #expect(dead.stdout.contains("\"dead\":0"), "\(dead.stdout)")
        }
    }
}

import Foundation
import Testing
import TestSupport

/// The scaling signal as KEDA reads it: `status --serve`'s `/scaling` (metrics-api scaler) and
/// the gauge `workqueue_queue_wanted_workers` (Prometheus scaler), `status --json`'s
/// `wanted_workers`, and `--target-drain-seconds`' checks.
@Suite(.serialized) struct ScalingServeTests {
    struct Scaling: Decodable {
        var wanted_workers: Int
        var reason: String
        var pending: Int
        var in_flight: Int
        var workers: Int
        var per_worker_rate: Double?
        var target_drain_seconds: Double
    }

    /// GET with a Host header a KEDA operator would send (the Service's name), not a loopback one.
    static func fetch(_ url: String, directory: String) async throws -> String {
        let (process, termination) = try await ChildProcess.run(
            "/usr/bin/env", ["curl", "-sS", "-f", "--max-time", "10", "-H", "Host: workqueue-scaling.jobs.svc.cluster.local:8080", url],
            directory: directory, label: "curl-\(UUID().uuidString)")
        guard termination == .exited(0) else { throw PrometheusText.Failure(description: "curl \(url) ended \(termination): \(process.stderr)") }
        return process.stdout
    }

    static func scaling(_ port: Int, directory: String) async throws -> Scaling? {
        guard let body = try? await fetch("http://127.0.0.1:\(port)/scaling", directory: directory) else { return nil }
        return try JSONDecoder().decode(Scaling.self, from: Data(body.utf8))
    }

    @Test func statusServeServesTheSignalToKEDA() async throws {
        try await LocalRedis.with { redis in
            try await redis.cli(["rpush", "jobs"] + (1...40).map(String.init))
            let wq = try Workqueue(redis)
            let port = try LocalRedis.freePort()
            let server = try wq.start(["status", "--queue", "jobs", "--serve", "\(port)", "--bind", "127.0.0.1",
                                       "--target-drain-seconds", "2"])
            defer { server.send(SIGKILL) }
            var first: Scaling?
            for _ in 0..<100 where first == nil {
                first = try await Self.scaling(port, directory: wq.directory.path)
                if first == nil { try await Task.sleep(for: .milliseconds(100)) }
            }
            // No worker yet, so no rate: one worker to start with.
            let cold = try #require(first, "\(server.stderr)")
            #expect(cold.wanted_workers == 1 && cold.reason == "starting" && cold.pending == 40 && cold.workers == 0)
            #expect(cold.per_worker_rate == nil && cold.target_drain_seconds == 2)
            let metrics = try PrometheusText.parse(try await Self.fetch("http://127.0.0.1:\(port)/metrics", directory: wq.directory.path))
            #expect(metrics.first { $0.name == "workqueue_queue_wanted_workers" && $0.labels["queue"] == "jobs" }?.value == 1)

            // One worker at about 10 items/s (--heartbeat-seconds 0.2 for quick records): once its
            // record shows a settled item the rate is measured, and 2 s for what is left needs
            // more than the one worker.
            let worker = try wq.start(["work", "--queue", "jobs", "--handler", "printer", "--option", "delay=0.1",
                                       "--heartbeat-seconds", "0.2"])
            defer { worker.send(SIGKILL) }
            var measured: Scaling?
            for _ in 0..<100 where measured == nil {
                if let now = try await Self.scaling(port, directory: wq.directory.path), now.reason == "measured" { measured = now }
                else { try await Task.sleep(for: .milliseconds(100)) }
            }
            let signal = try #require(measured, "\(worker.stderr)")
            #expect((signal.per_worker_rate ?? 0) > 0 && signal.workers == 1)
            #expect(signal.wanted_workers >= 1 && signal.wanted_workers <= signal.pending + signal.in_flight, "\(signal)")
            #expect(try await worker.wait() == .exited(0), "\(worker.stderr)")

            // Drained: nothing wanted; paused: nothing either.
            let drained = try #require(try await Self.scaling(port, directory: wq.directory.path))
            #expect(drained.wanted_workers == 0 && drained.reason == "drained")
            try await redis.cli(["rpush", "jobs", "again"])
            #expect(try await wq.run(["pause", "--queue", "jobs"]).termination == .exited(0))
            let paused = try #require(try await Self.scaling(port, directory: wq.directory.path))
            #expect(paused.wanted_workers == 0 && paused.reason == "stopped" && paused.pending == 1)
            // Only GET and HEAD.
            let (post, _) = try await ChildProcess.run("/usr/bin/env", ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST",
                                                                       "http://127.0.0.1:\(port)/scaling"],
                                                       directory: wq.directory.path, label: "curl-post")
            #expect(post.stdout == "405")
            #expect(server.poll() == nil, "the server keeps serving")
        }
    }

    @Test func statusJSONAddsWantedWorkers() async throws {
        try await LocalRedis.with { redis in
            try await redis.cli(["rpush", "jobs", "a", "b", "c"])
            let wq = try Workqueue(redis)
            let (status, termination) = try await wq.run(["status", "--queue", "jobs", "--json"])
            #expect(termination == .exited(0), "\(status.stderr)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
            #expect(object["wanted_workers"] as? Int == 1)
            // The fields that were there stay, by the same names.
            for field in ["queue", "pending", "processing", "scheduled", "dead", "drained", "workers"] {
                #expect(object[field] != nil, "\(field) in \(status.stdout)")
            }
        }
    }

    static let badTargets: [([String], [String: String])] = [
        (["--target-drain-seconds", "0"], [:]),
        (["--target-drain-seconds", "-3"], [:]),
        (["--target-drain-seconds", "soon"], [:]),
        ([], ["WORKQUEUE_TARGET_DRAIN_SECONDS": "0"]),
        ([], ["WORKQUEUE_TARGET_DRAIN_SECONDS": "a week"]),
    ]

    @Test(arguments: badTargets)
    func aBadTargetExits64NamingIt(arguments: [String], environment: [String: String]) async throws {
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            let (status, termination) = try await wq.run(["status", "--queue", "jobs", "--json"] + arguments, environment: environment)
            #expect(termination == .exited(64), "\(status.stderr)")
            let named = environment.isEmpty ? "--target-drain-seconds" : "WORKQUEUE_TARGET_DRAIN_SECONDS"
            #expect(status.stderr.contains(named), "\(status.stderr)")
        }
    }
}

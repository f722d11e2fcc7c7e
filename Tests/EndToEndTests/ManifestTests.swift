import Foundation
import Testing
import TestSupport

/// The Kubernetes manifests, checked offline against the real command: every variable they set
/// is one the worker reads, and their settings drain a queue.
@Suite struct ManifestTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// `name: X` / `value: Y` pairs of the Job's container env, in order.
    static func jobEnvironment() throws -> [(String, String)] {
        let text = try String(contentsOf: repository.appendingPathComponent("deploy/kubernetes/job.yaml"), encoding: .utf8)
        var pairs: [(String, String)] = []
        var name: String?
        for line in text.split(separator: "\n").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            if line.hasPrefix("- name: ") {
                name = String(line.dropFirst("- name: ".count))
            } else if line.hasPrefix("value: "), let current = name {
                pairs.append((current, String(line.dropFirst("value: ".count)).trimmingCharacters(in: CharacterSet(charactersIn: "\""))))
                name = nil
            }
        }
        return pairs
    }

    @Test func everyVariableTheJobSetsIsOneTheWorkerReads() async throws {
        let environment = try Self.jobEnvironment()
        #expect(environment.map(\.0).contains("WORKQUEUE_QUEUE"))
        let directory = try TemporaryDirectory()
        let (help, _) = try await ChildProcess.run(try Workqueue.executable(), ["work", "--help"], directory: directory.path, label: "help")
        let documented = help.stdout.replacingOccurrences(of: "\n", with: " ")
        for (name, _) in environment {
            #expect(documented.contains(name), "job.yaml sets \(name), which `workqueue work` does not read")
        }
        let yaml = try String(contentsOf: Self.repository.appendingPathComponent("deploy/kubernetes/job.yaml"), encoding: .utf8)
        #expect(yaml.contains(#"args: ["work"]"#))
        let redis = try String(contentsOf: Self.repository.appendingPathComponent("deploy/kubernetes/redis.yaml"), encoding: .utf8)
        #expect(redis.contains("kind: Service") && redis.contains("name: redis"),
                "the worker finds Redis through REDIS_SERVICE_HOST, set for a Service named redis")
    }

    @Test func theJobsSettingsDrainTheTutorialQueue() async throws {
        try await LocalRedis.with { redis in
            try await redis.cli(["rpush", "job2"] + TutorialFlowTests.fruits)
            var environment = Dictionary(try Self.jobEnvironment(), uniquingKeysWith: { $1 })
            environment["WORKQUEUE_OPTIONS"] = "delay=0"  // the manifest's delay=10 would take 90 s
            // What Kubernetes injects for the Service named redis, pointing at the test server.
            environment["REDIS_SERVICE_HOST"] = "127.0.0.1"
            environment["REDIS_SERVICE_PORT"] = "\(redis.port)"
            let directory = try TemporaryDirectory()
            let (worker, termination) = try await ChildProcess.run(
                try Workqueue.executable(), ["work"], environment: environment.merging(["REDIS_URL": ""]) { $1 },
                directory: directory.path, label: "job")
            #expect(termination == .exited(0), "\(worker.stderr)")
            #expect(worker.stdoutLines.filter { $0.hasPrefix("Working on ") }.count == 9)
        }
    }
}

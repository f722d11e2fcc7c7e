import Foundation
import Testing
import TestSupport

/// The Kubernetes manifests, checked offline against the real command: every variable they set
/// is one the worker reads, and their settings drain a queue.
@Suite struct ManifestTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The manifests that run the worker.
    static let workerManifests = ["job.yaml", "job-recommended.yaml", "keda-scaledjob.yaml"]

    static func manifest(_ file: String) throws -> String {
        try String(contentsOf: repository.appendingPathComponent("deploy/kubernetes/" + file), encoding: .utf8)
    }

    /// The value of the first `key: value` line (trimmed, quotes dropped), or nil.
    static func value(of key: String, in text: String) -> String? {
        for line in text.split(separator: "\n").map({ $0.trimmingCharacters(in: .whitespaces) }) where line.hasPrefix(key + ": ") {
            return String(line.dropFirst(key.count + 2)).trimmingCharacters(in: CharacterSet(charactersIn: "\"'"))
        }
        return nil
    }

    /// The README's exit status table: code -> whether it is permanent (the `permanent` column
    /// says yes). Rows are `| 64 | ... | yes |` under the heading `### Exit status`.
    static func exitStatusTable(_ readme: String) -> [Int32: Bool]? {
        guard let start = readme.range(of: "### Exit status") else { return nil }
        var table: [Int32: Bool] = [:]
        for line in readme[start.upperBound...].split(separator: "\n") {
            if line.hasPrefix("#") { break }
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard line.hasPrefix("|"), let first = cells.first, let code = Int32(first), let last = cells.last else { continue }
            table[code] = last == "yes"
        }
        return table.isEmpty ? nil : table
    }

    /// `name: X` / `value: Y` pairs of the Job's container env, in order.
    static func jobEnvironment(_ file: String = "job.yaml") throws -> [(String, String)] {
        let text = try manifest(file)
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
        let directory = try TemporaryDirectory()
        let (help, _) = try await ChildProcess.run(try Workqueue.executable(), ["work", "--help"], directory: directory.path, label: "help")
        let documented = help.stdout.replacingOccurrences(of: "\n", with: " ")
        for file in Self.workerManifests {
            let environment = try Self.jobEnvironment(file)
            #expect(environment.map(\.0).contains("WORKQUEUE_QUEUE"), "\(file)")
            for (name, _) in environment {
                #expect(documented.contains(name), "\(file) sets \(name), which `workqueue work` does not read")
            }
            #expect(try Self.manifest(file).contains(#"args: ["work"]"#), "\(file)")
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

    @Test func theRecommendedJobFailsAtOnceOnExactlyThePermanentCodes() throws {
        let readme = try String(contentsOf: Self.repository.appendingPathComponent("docs/commands.md"), encoding: .utf8)
        let table = try #require(Self.exitStatusTable(readme))
        let permanent = Set(table.filter { $0.value }.keys)
        #expect(permanent == ExitStatusTests.permanent)
        for file in ["job-recommended.yaml", "keda-scaledjob.yaml"] {
            let yaml = try Self.manifest(file)
            let values = try #require(Self.value(of: "values", in: yaml), "\(file) has no onExitCodes values")
            let codes = Set(values.trimmingCharacters(in: CharacterSet(charactersIn: "[]")).split(separator: ",")
                .compactMap { Int32($0.trimmingCharacters(in: .whitespaces)) })
            #expect(codes == permanent, "\(file): FailJob on \(codes), the README's permanent codes are \(permanent)")
            #expect(Self.value(of: "operator", in: yaml) == "In", "\(file)")
            #expect(Self.value(of: "containerName", in: yaml) == "c", "\(file)")
            #expect(Self.value(of: "- action", in: yaml) == "FailJob", "\(file)")
            #expect(yaml.contains("- action: Ignore") && yaml.contains("type: DisruptionTarget"), "\(file)")
            #expect(Self.value(of: "restartPolicy", in: yaml) == "Never", "\(file)")
            let environment = Dictionary(try Self.jobEnvironment(file), uniquingKeysWith: { $1 })
            let grace = try #require(Double(environment["WORKQUEUE_SHUTDOWN_GRACE_SECONDS"] ?? ""), "\(file)")
            let termination = try #require(Double(Self.value(of: "terminationGracePeriodSeconds", in: yaml) ?? ""), "\(file)")
            #expect(termination > grace, "\(file): Kubernetes would SIGKILL the worker within its own grace period")
        }
        let recommended = try Self.manifest("job-recommended.yaml")
        #expect(Self.value(of: "podReplacementPolicy", in: recommended) == "Failed")
        #expect(Self.value(of: "backoffLimit", in: recommended).flatMap { Int($0) } != nil)
        let tutorial = try Self.manifest("job.yaml")
        #expect(Self.value(of: "restartPolicy", in: tutorial) == "OnFailure")
        #expect(Self.value(of: "parallelism", in: tutorial) == "2")
        #expect(Self.value(of: "completions", in: tutorial) == nil)
    }

    @Test func theScaledJobScalesOnTheQueuesScalingSignal() throws {
        let yaml = try Self.manifest("keda-scaledjob.yaml")
        #expect(Self.value(of: "apiVersion", in: yaml) == "keda.sh/v1alpha1")
        #expect(Self.value(of: "kind", in: yaml) == "ScaledJob")
        // default: KEDA starts wanted_workers - running Jobs (docs/scaling.md).
        #expect(Self.value(of: "strategy", in: yaml) == "default")
        #expect(yaml.contains("- type: metrics-api"))
        #expect(Self.value(of: "valueLocation", in: yaml) == "wanted_workers")
        #expect(Self.value(of: "targetValue", in: yaml) == "1")
        // The URL is keda-scaling.yaml's Service, by its full name, on its port, at /scaling.
        let url = try #require(Self.value(of: "url", in: yaml).flatMap { URL(string: $0) })
        let scaling = try Self.manifest("keda-scaling.yaml")
        let service = try #require(scaling.components(separatedBy: "---").last)
        #expect(Self.value(of: "kind", in: service) == "Service")
        let serviceName = try #require(Self.value(of: "name", in: service))
        #expect(url.host == "\(serviceName).default.svc.cluster.local")
        #expect(url.port.map(String.init) == Self.value(of: "port", in: service))
        #expect(url.path == "/scaling")
        #expect(scaling.contains(#"args: ["status", "--serve", "\#(url.port ?? 0)"]"#))
        #expect(Self.value(of: "path", in: scaling) == "/scaling")
        // The signal is read for the Jobs' queue, from their Redis.
        let workers = Dictionary(try Self.jobEnvironment("keda-scaledjob.yaml"), uniquingKeysWith: { $1 })
        let signal = Dictionary(try Self.jobEnvironment("keda-scaling.yaml"), uniquingKeysWith: { $1 })
        #expect(signal["WORKQUEUE_QUEUE"] == workers["WORKQUEUE_QUEUE"])
        #expect(signal["REDIS_URL"] == workers["REDIS_URL"])
        #expect(workers["WORKQUEUE_QUEUE"] == Dictionary(try Self.jobEnvironment(), uniquingKeysWith: { $1 })["WORKQUEUE_QUEUE"])
        #expect(Double(signal["WORKQUEUE_TARGET_DRAIN_SECONDS"] ?? "") != nil)
        let redis = try Self.manifest("redis.yaml")
        #expect(redis.contains(#""--maxmemory-policy", "noeviction""#) && redis.contains(#""--appendonly", "yes""#))
        #expect(Self.value(of: "mountPath", in: redis) == "/data")
    }

    /// The scaling Deployment's variables are ones `workqueue status` reads, and with them it
    /// serves the signal.
    @Test func theScalingDeploymentServesTheSignal() async throws {
        let signal = Dictionary(try Self.jobEnvironment("keda-scaling.yaml"), uniquingKeysWith: { $1 })
        try await LocalRedis.with { redis in
            try await redis.cli(["rpush", "job2", "a", "b"])
            let wq = try Workqueue(redis)
            let port = try LocalRedis.freePort()
            var environment = signal
            environment["REDIS_URL"] = redis.url
            let server = try wq.start(["status", "--serve", "\(port)", "--bind", "127.0.0.1"], environment: environment)
            defer { server.send(SIGKILL) }
            var body = ""
            for _ in 0..<100 where body.isEmpty {
                body = (try? await PrometheusText.fetch("http://127.0.0.1:\(port)/scaling", directory: wq.directory.path)) ?? ""
                if body.isEmpty { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(body.contains("\"queue\":\"job2\"") && body.contains("\"wanted_workers\":1"), "\(body) \(server.stderr)")
            #expect(body.contains("\"target_drain_seconds\":\(signal["WORKQUEUE_TARGET_DRAIN_SECONDS"] ?? "?")"), "\(body)")
        }
    }
}

import Foundation
import Synchronization
import Testing
import TestSupport

/// Runs the built `workqueue` executable against a test cluster: REDIS_URL lists every node
/// (a seed list, which selects cluster mode).
final class ClusterWorkqueue: Sendable {
    let cluster: LocalRedisCluster
    let directory: TemporaryDirectory
    private let counter = Mutex(0)

    init(_ cluster: LocalRedisCluster) throws {
        self.cluster = cluster
        directory = try TemporaryDirectory("workqueue-cluster-e2e")
    }

    static func executable() throws -> String {
        let path = productsDirectory() + "/workqueue"
        try #require(FileManager.default.isExecutableFile(atPath: path),
                     "\(path) is missing: build it first (swift build --product workqueue; scripts/test does)")
        return path
    }

    func start(_ arguments: [String], environment: [String: String] = [:]) throws -> ChildProcess {
        var env = ["REDIS_URL": cluster.url, "WORKQUEUE_LOG_LEVEL": "notice"]
        for (key, value) in environment { env[key] = value }
        let label = counter.withLock { $0 += 1; return "workqueue-\($0)" }
        return try ChildProcess(try Self.executable(), arguments, environment: env, directory: directory.path,
                                label: label, keeping: directory)
    }

    func run(_ arguments: [String], environment: [String: String] = [:], timeout: Duration = .seconds(60)) async throws
        -> (process: ChildProcess, termination: ChildProcess.Termination)
    {
        let process = try start(arguments, environment: environment)
        return (process, try await process.wait(timeout: timeout))
    }

    /// `status --json` as a dictionary.
    func status(_ queue: String) async throws -> [String: Any] {
        let (process, termination) = try await run(["status", "--queue", queue, "--json"])
        try #require(termination == .exited(0), "status: \(process.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(process.stdout.utf8)) as? [String: Any])
    }
}

/// The items a worker printed `Working on <item>` for.
func handledItems(_ process: ChildProcess) -> [String] {
    process.stdoutLines.compactMap { $0.hasPrefix("Working on ") ? String($0.dropFirst("Working on ".count)) : nil }
}

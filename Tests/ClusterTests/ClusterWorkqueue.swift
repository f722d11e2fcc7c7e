import Foundation
import Synchronization
import Testing
import TestSupport

/// Runs the built `workqueue` executable against a test cluster: REDIS_URL lists every node
/// (a seed list, which selects cluster mode); a TLS cluster's CA comes from WORKQUEUE_TLS_CA_FILE.
final class ClusterWorkqueue: Sendable {
    let cluster: LocalRedisCluster
    private let launcher: WorkqueueLauncher
    var directory: TemporaryDirectory { launcher.directory }

    init(_ cluster: LocalRedisCluster) throws {
        self.cluster = cluster
        launcher = try WorkqueueLauncher(url: cluster.url, directoryPrefix: "workqueue-cluster-e2e",
                                         environment: cluster.tls.map { ["WORKQUEUE_TLS_CA_FILE": $0.caFile] } ?? [:])
    }

    func start(_ arguments: [String], environment: [String: String] = [:]) throws -> ChildProcess {
        try launcher.start(arguments, environment: environment)
    }

    func run(_ arguments: [String], environment: [String: String] = [:], timeout: Duration = .seconds(60)) async throws
        -> (process: ChildProcess, termination: ChildProcess.Termination)
    {
        try await launcher.run(arguments, environment: environment, timeout: timeout)
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

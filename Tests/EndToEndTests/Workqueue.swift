import Foundation
import Synchronization
import Testing
import TestSupport

/// Runs the built `workqueue` executable against a test Redis.
struct Workqueue {
    let redis: LocalRedis
    private let launcher: WorkqueueLauncher
    var directory: TemporaryDirectory { launcher.directory }

    init(_ redis: LocalRedis) throws {
        self.redis = redis
        launcher = try WorkqueueLauncher(url: redis.url, directoryPrefix: "workqueue-e2e")
    }

    /// `.build/<config>/workqueue`, or an error saying how to build it.
    static func executable() throws -> String { try WorkqueueLauncher.executable() }

    /// Starts `workqueue ARGS` with REDIS_URL pointing at the test server.
    func start(_ arguments: [String], environment: [String: String] = [:]) throws -> ChildProcess {
        try launcher.start(arguments, environment: environment)
    }

    /// Runs `workqueue ARGS` to completion (bounded).
    func run(_ arguments: [String], environment: [String: String] = [:], timeout: Duration = .seconds(60)) async throws
        -> (process: ChildProcess, termination: ChildProcess.Termination)
    {
        try await launcher.run(arguments, environment: environment, timeout: timeout)
    }
}

import Foundation
import Synchronization
import Testing
import TestSupport

/// Runs the built `workqueue` executable against a test Redis.
struct Workqueue {
    let redis: LocalRedis
    let directory: TemporaryDirectory
    private static let counter = Counter()

    init(_ redis: LocalRedis) throws {
        self.redis = redis
        directory = try TemporaryDirectory("workqueue-e2e")
    }

    /// `.build/<config>/workqueue`, or a recorded issue saying how to build it.
    static func executable() throws -> String {
        let path = productsDirectory() + "/workqueue"
        try #require(FileManager.default.isExecutableFile(atPath: path),
                     "\(path) is missing: build it first (swift build --product workqueue; scripts/test does)")
        return path
    }

    /// Starts `workqueue ARGS` with REDIS_URL pointing at the test server.
    func start(_ arguments: [String], environment: [String: String] = [:]) throws -> ChildProcess {
        var env = ["REDIS_URL": redis.url, "WORKQUEUE_LOG_LEVEL": "notice"]
        for (key, value) in environment { env[key] = value }
        return try ChildProcess(try Self.executable(), arguments, environment: env, directory: directory.path,
                                label: "workqueue-\(Self.counter.next())", keeping: directory)
    }

    /// Runs `workqueue ARGS` to completion (bounded).
    func run(_ arguments: [String], environment: [String: String] = [:], timeout: Duration = .seconds(60)) async throws
        -> (process: ChildProcess, termination: ChildProcess.Termination)
    {
        let process = try start(arguments, environment: environment)
        return (process, try await process.wait(timeout: timeout))
    }
}

/// Distinct labels for output files.
final class Counter: Sendable {
    private let value = Mutex(0)
    func next() -> Int { value.withLock { $0 += 1; return $0 } }
}

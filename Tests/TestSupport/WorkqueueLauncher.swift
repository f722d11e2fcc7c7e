import Foundation
import Synchronization

/// Starts the built `workqueue` executable with `REDIS_URL` set (one server's URL, or a cluster's
/// seed list), in a directory that keeps each process's output under a distinct label.
public final class WorkqueueLauncher: Sendable {
    public let url: String
    public let directory: TemporaryDirectory
    /// Variables every process gets (a call's own `environment` wins).
    public let environment: [String: String]
    private let counter = Mutex(0)

    public init(url: String, directoryPrefix: String, environment: [String: String] = [:]) throws {
        self.url = url
        self.environment = environment
        directory = try TemporaryDirectory(directoryPrefix)
    }

    /// `.build/<config>/workqueue`; throws saying how to build it when it is missing.
    public static func executable() throws -> String {
        let path = productsDirectory() + "/workqueue"
        guard FileManager.default.isExecutableFile(atPath: path) else { throw MissingExecutable(path: path) }
        return path
    }

    /// Starts `workqueue ARGS` (log level notice unless `environment` says otherwise).
    public func start(_ arguments: [String], environment: [String: String] = [:]) throws -> ChildProcess {
        var env = ["REDIS_URL": url, "WORKQUEUE_LOG_LEVEL": "notice"]
        for (key, value) in self.environment { env[key] = value }
        for (key, value) in environment { env[key] = value }
        let label = counter.withLock { $0 += 1; return "workqueue-\($0)" }
        return try ChildProcess(try Self.executable(), arguments, environment: env, directory: directory.path,
                                label: label, keeping: directory)
    }

    /// Runs `workqueue ARGS` to completion (bounded).
    public func run(_ arguments: [String], environment: [String: String] = [:], timeout: Duration = .seconds(60)) async throws
        -> (process: ChildProcess, termination: ChildProcess.Termination)
    {
        let process = try start(arguments, environment: environment)
        return (process, try await process.wait(timeout: timeout))
    }

    struct MissingExecutable: Error, CustomStringConvertible {
        let path: String
        var description: String { "\(path) is missing: build it first (swift build --product workqueue; scripts/test does)" }
    }
}

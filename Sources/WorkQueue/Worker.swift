import Foundation
import Logging
import ServiceLifecycle

/// The runner: leases items, runs the handler, renews leases, retries, recovers, and returns
/// when the queue is drained or a shutdown is requested.
///
/// As a swift-service-lifecycle `Service`, SIGTERM/SIGINT on the group trigger its graceful
/// shutdown: leasing stops at once, in-flight handlers get ``WorkerOptions/shutdownGracePeriod``
/// to finish, then are cancelled and their items released to pending without an attempt counted.
public final class Worker: Service, Sendable {
    /// The session id this worker writes into lease keys.
    public let session: String

    /// - Parameters:
    ///   - backend: where the queue lives.
    ///   - handler: the code run per item.
    ///   - options: leasing, retry and shutdown settings; validated here.
    ///   - session: the lease owner id; a fresh UUID by default.
    ///   - clock: the time source of every timed rule.
    ///   - logger: diagnostics (stderr in the command).
    ///   - events: called for every ``WorkerEvent``, from any task.
    public init(
        backend: any WorkQueueBackend,
        handler: any WorkHandler,
        options: WorkerOptions = WorkerOptions(),
        session: String = Worker.makeSessionID(),
        clock: any WorkClock = SystemClock(),
        logger: Logger = Logger(label: "workqueue"),
        events: (@Sendable (WorkerEvent) -> Void)? = nil
    ) throws {
        try options.validate()
        self.session = session
        fatalError("not implemented yet")
    }

    /// A fresh random session id (a UUID string, as `rediswq.py` uses).
    public static func makeSessionID() -> String { UUID().uuidString.lowercased() }

    /// Runs until drained or shut down (through the service group, or ``shutdown()``).
    public func run() async throws { _ = try await runUntilStopped() }

    /// Like ``run()``, and tells what happened.
    public func runUntilStopped() async throws -> WorkerSummary { fatalError("not implemented yet") }

    /// Requests a graceful shutdown, as SIGTERM does.
    public func shutdown() {}
}

import Logging
import WorkQueue

/// A `WorkContext` for calling a handler directly in a unit test, and what the handler
/// reported through it: its progress and its latest checkpoint. Cancel it to see how the
/// handler stops.
///
/// ```swift
/// @Test func resumesFromItsCheckpoint() async throws {
///     let test = TestContext(attempt: 2, checkpoint: Array("2".utf8))
///     #expect(try await Resumable().handle("a\nb\nc", context: test.context) == "3 lines")
///     #expect(test.savedCheckpoint == Array("3".utf8))
/// }
/// ```
///
/// To run a handler the way the worker does (leases, retries, dead letters), use
/// ``HandlerHarness``.
public struct TestContext: Sendable {
    /// The context to pass to `handle(_:context:)`.
    public let context: WorkContext

    /// A context of delivery `attempt` of `maxAttempts`, with the handler's `options`, the
    /// `checkpoint` an earlier attempt saved (nil: none), and a lease that runs out
    /// `leaseDuration` after now on `clock`.
    public init(
        attempt: Int = 1,
        maxAttempts: Int = 3,
        options: [String: String] = [:],
        checkpoint: [UInt8]? = nil,
        session: String = "test-session",
        leaseDuration: Duration = .seconds(30),
        clock: any WorkClock = SystemClock(),
        logger: Logger = Logger(label: "workqueue.test")
    ) {
        context = WorkContext(
            attempt: attempt, maxAttempts: maxAttempts, leaseDeadline: clock.now + leaseDuration, session: session,
            options: options, logger: logger, checkpoint: checkpoint, clock: clock
        )
    }

    /// Asks the handler to stop, as the runner does: `WorkContext.isCancelled` turns true
    /// and `WorkContext.checkCancellation()` throws `WorkCancelled` with `reason`. The
    /// first reason wins.
    public func cancel(_ reason: CancellationReason = .shutdown) {
        context.cancellation.cancel(reason)
    }

    /// The progress the handler reported last (`WorkContext.reportProgress(_:note:)`),
    /// clamped and cut as the runner keeps it; nil before the first report.
    public var progress: (fraction: Double, note: String)? { context.progress.progress }

    /// The checkpoint the handler saved last (`WorkContext.saveCheckpoint(_:)`); nil when it
    /// saved none.
    public var savedCheckpoint: [UInt8]? { context.progress.savedCheckpoint }
}

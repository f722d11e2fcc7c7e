import Logging
import Synchronization

/// Why the runner asked a handler to stop.
///
/// Later versions may add reasons: a `switch` over it should end with `default:` (or
/// `@unknown default:`), or it stops compiling when one is added.
public enum CancellationReason: Sendable, Hashable, CustomStringConvertible {
    /// The item's lease was lost (it expired or another worker took it over); the result would
    /// not be accepted.
    case leaseLost
    /// The worker is shutting down and the grace period is over; the item goes back to pending.
    case shutdown
    /// The handler ran longer than the worker's item time limit (`WorkerOptions.itemTimeout`,
    /// `--item-timeout`); unless it returns within the grace that follows, the attempt
    /// counts as failed with `timed out after S s`.
    case timedOut(after: Duration)
    /// An operator cancelled the job (`workqueue cancel`): the item is released and moved
    /// aside with the queue's other pending items, no attempt counted; stop soon.
    case jobCancelled

    /// What the reason means, in a few words (for logs and dead letters).
    public var description: String {
        switch self {
        case .leaseLost: "the lease on this item was lost"
        case .shutdown: "the worker is shutting down"
        case .timedOut(let limit): "the item ran past its time limit of \(Self.seconds(limit)) s"
        case .jobCancelled: "the job was cancelled"
        }
    }

    /// `limit` in seconds as people write them: `1`, `0.5`, `90`.
    package static func seconds(_ limit: Duration) -> String {
        let milliseconds = limit.components.seconds * 1000 + limit.components.attoseconds / 1_000_000_000_000_000
        if milliseconds % 1000 == 0 { return String(milliseconds / 1000) }
        return String(Double(milliseconds) / 1000)
    }
}

/// Thrown by ``WorkContext/checkCancellation()`` when the runner cancelled the handler.
public struct WorkCancelled: Error, Sendable, Hashable, CustomStringConvertible {
    /// Why the handler was asked to stop.
    public let reason: CancellationReason
    /// The error for a handler stopped for `reason`.
    public init(reason: CancellationReason) { self.reason = reason }
    /// `work cancelled: ` and the reason.
    public var description: String { "work cancelled: \(reason)" }
}

/// A cancellation flag that can be read from any thread, including threads that run no Swift
/// task (plugins, C code). The runner sets it; handlers read it through ``WorkContext``
/// (``WorkContext/isCancelled``, ``WorkContext/cancellationReason``).
package final class CancellationFlag: Sendable {
    private let state = Mutex<CancellationReason?>(nil)

    /// A flag not set yet.
    package init() {}

    /// Sets the flag; the first reason wins.
    package func cancel(_ reason: CancellationReason) {
        state.withLock { if $0 == nil { $0 = reason } }
    }

    /// The reason, once cancelled.
    package var reason: CancellationReason? { state.withLock { $0 } }
}

/// What a handler knows about the item it is processing.
public struct WorkContext: Sendable {
    /// 1 for the first delivery of the item, 2 for the first retry, and so on.
    public let attempt: Int
    /// The attempt after which a failing item is dead-lettered.
    public let maxAttempts: Int
    /// When the current lease runs out unless renewed, on ``clock``. The runner renews the
    /// lease while you work (every third of the lease), and each renewal moves this deadline;
    /// nil when the host gives no deadline (a plugin: the C ABI carries none).
    public var leaseDeadline: WorkInstant? { lease?.deadline }
    /// The time left until ``leaseDeadline`` (negative once it passed), read on ``clock``; nil
    /// when the host gives no deadline.
    public var leaseRemaining: Duration? { lease.map { $0.deadline - clock.now } }
    /// The clock ``leaseDeadline`` is measured on (the worker's).
    public let clock: any WorkClock
    private let lease: LeaseDeadlineBox?
    /// The worker's session id (the value of the item's lease key).
    public let session: String
    /// The handler's `KEY=VALUE` options (`--option` on the command line).
    public let options: [String: String]
    /// A logger whose metadata names the item and the attempt. Logs go to stderr.
    public var logger: Logger
    /// Set by the runner when the handler must stop (read it with ``isCancelled``,
    /// ``cancellationReason`` or ``checkCancellation()``).
    package let cancellation: CancellationFlag
    /// The checkpoint an earlier attempt saved for this item with ``saveCheckpoint(_:)``, handed
    /// over after a crash, a lost lease, a failure or a shutdown; nil when none was saved (a
    /// first attempt). Equal items (the same bytes pushed twice) share one checkpoint.
    public let checkpoint: [UInt8]?
    /// Where ``reportProgress(_:note:)`` and ``saveCheckpoint(_:)`` write; the runner reads it.
    package let progress: WorkProgress

    /// The context of one delivery. The runner makes one per item; a test that calls a handler
    /// directly gets one from `WorkQueueTesting`'s `TestContext`.
    /// - Parameters:
    ///   - attempt: 1 for the first delivery.
    ///   - maxAttempts: the attempt after which a failing item is dead-lettered.
    ///   - leaseDeadline: when the lease runs out unless renewed, on `clock`; nil for none.
    ///   - session: the worker's session id.
    ///   - options: the handler's `KEY=VALUE` options.
    ///   - logger: where the handler logs.
    ///   - cancellation: the flag the caller sets to stop the handler.
    ///   - checkpoint: the checkpoint an earlier attempt saved, if any.
    ///   - progress: where the handler's progress and checkpoints go.
    ///   - clock: the clock `leaseDeadline` is measured on.
    package init(
        attempt: Int,
        maxAttempts: Int,
        leaseDeadline: WorkInstant?,
        session: String,
        options: [String: String],
        logger: Logger,
        cancellation: CancellationFlag = CancellationFlag(),
        checkpoint: [UInt8]? = nil,
        progress: WorkProgress = WorkProgress(),
        clock: any WorkClock = SystemClock()
    ) {
        self.init(attempt: attempt, maxAttempts: maxAttempts, lease: leaseDeadline.map { LeaseDeadlineBox($0) },
                  clock: clock, session: session, options: options, logger: logger, cancellation: cancellation,
                  checkpoint: checkpoint, progress: progress)
    }

    /// The runner's context: `lease` is the deadline it moves with each renewal.
    package init(
        attempt: Int,
        maxAttempts: Int,
        lease: LeaseDeadlineBox?,
        clock: any WorkClock,
        session: String,
        options: [String: String],
        logger: Logger,
        cancellation: CancellationFlag,
        checkpoint: [UInt8]?,
        progress: WorkProgress
    ) {
        self.attempt = attempt
        self.maxAttempts = maxAttempts
        self.lease = lease
        self.clock = clock
        self.session = session
        self.options = options
        self.logger = logger
        self.cancellation = cancellation
        self.checkpoint = checkpoint
        self.progress = progress
    }

    /// Reports how far the handler got: `fraction` from 0 to 1 and a short `note` (cut to
    /// 200 characters), shown by `workqueue workers` with the worker's next heartbeat. Cheap
    /// (no I/O) and safe from any thread: call it as often as you like.
    public func reportProgress(_ fraction: Double, note: String = "") {
        progress.report(fraction, note: note)
    }

    /// Saves `bytes` (at most 64 KiB) as the item's checkpoint: the runner stores it with the
    /// lease's next renewal (every third of the lease), and a later attempt of the item (after
    /// a crash, a lost lease, a failure or a shutdown) gets it as ``checkpoint``, so it can
    /// resume instead of starting over. Deleted when the item completes or is dead-lettered.
    /// Cheap (no I/O) and safe from any thread; only the latest save is kept, and work done
    /// after the last renewal that stored it is done again.
    /// - Throws: ``CheckpointTooLarge`` above 64 KiB (the previous checkpoint stays).
    public func saveCheckpoint(_ bytes: some Collection<UInt8>) throws {
        try progress.save(bytes)
    }

    /// Why the runner asked the handler to stop; nil while it may go on (a cancelled task
    /// without a reason from the runner reads nil here, but ``isCancelled`` true).
    public var cancellationReason: CancellationReason? { cancellation.reason }

    /// True once the runner asked the handler to stop, or the current task was cancelled.
    /// Cheap enough to poll in a tight loop; works on any thread.
    public var isCancelled: Bool { cancellation.reason != nil || Task.isCancelled }

    /// Throws ``WorkCancelled`` when ``isCancelled`` is true.
    public func checkCancellation() throws {
        if let reason = cancellation.reason { throw WorkCancelled(reason: reason) }
        if Task.isCancelled { throw WorkCancelled(reason: .shutdown) }
    }

    /// The option `key` parsed as a `Double` (e.g. `delay=0.5`), `defaultValue` when absent.
    /// Throws ``WorkQueueError/invalidOption(key:value:expected:)`` when it does not parse.
    public func doubleOption(_ key: String, default defaultValue: Double) throws -> Double {
        guard let raw = options[key] else { return defaultValue }
        guard let value = Double(raw), value.isFinite else {
            throw WorkQueueError.invalidOption(key: key, value: raw, expected: "a number")
        }
        return value
    }
}

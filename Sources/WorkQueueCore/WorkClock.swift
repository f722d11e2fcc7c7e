/// A point in time on a ``WorkClock``: a duration since the clock's own origin.
public struct WorkInstant: Sendable, Hashable, Comparable {
    /// Time since the clock's origin.
    public var sinceOrigin: Duration

    /// The instant `sinceOrigin` after the clock's origin.
    public init(sinceOrigin: Duration) { self.sinceOrigin = sinceOrigin }

    /// True when `lhs` comes before `rhs`.
    public static func < (lhs: WorkInstant, rhs: WorkInstant) -> Bool { lhs.sinceOrigin < rhs.sinceOrigin }
    /// The instant `rhs` after `lhs` (the runner's deadlines; a handler reads
    /// ``WorkContext/leaseRemaining`` or subtracts instants).
    package static func + (lhs: WorkInstant, rhs: Duration) -> WorkInstant { WorkInstant(sinceOrigin: lhs.sinceOrigin + rhs) }
    /// The time from `rhs` to `lhs` (negative when `lhs` is earlier).
    public static func - (lhs: WorkInstant, rhs: WorkInstant) -> Duration { lhs.sinceOrigin - rhs.sinceOrigin }
}

/// The time source of the runner and the in-memory queue.
///
/// Every timed rule (lease renewal, backoff, grace period, polling) reads this clock, so tests
/// can drive them with a manual clock (`WorkQueueTesting.TestClock`) instead of sleeping.
public protocol WorkClock: Sendable {
    /// The current instant.
    var now: WorkInstant { get }
    /// Suspends until `deadline`; throws `CancellationError` when the task is cancelled.
    func sleep(until deadline: WorkInstant) async throws
}

extension WorkClock {
    /// Suspends for `duration`; throws `CancellationError` when the task is cancelled.
    public func sleep(for duration: Duration) async throws {
        try await sleep(until: now + duration)
    }
}

/// The real clock: monotonic time from `ContinuousClock`, the default of every `clock:`
/// parameter (a handler reads the worker's as ``WorkContext/clock``). `@usableFromInline` so
/// that public initializers can name it as their default.
@usableFromInline
package struct SystemClock: WorkClock {
    private let origin: ContinuousClock.Instant

    /// A clock whose origin is now.
    @usableFromInline
    package init() { self.origin = ContinuousClock.now }

    /// The time since this clock was made.
    @usableFromInline
    package var now: WorkInstant { WorkInstant(sinceOrigin: ContinuousClock.now - origin) }

    /// Sleeps on `ContinuousClock` until `deadline`; throws `CancellationError` when the task is
    /// cancelled.
    @usableFromInline
    package func sleep(until deadline: WorkInstant) async throws {
        try await ContinuousClock().sleep(until: origin + deadline.sinceOrigin, tolerance: nil)
    }
}

/// A point in time on a ``WorkClock``: a duration since the clock's own origin.
public struct WorkInstant: Sendable, Hashable, Comparable {
    /// Time since the clock's origin.
    public var sinceOrigin: Duration

    public init(sinceOrigin: Duration) { self.sinceOrigin = sinceOrigin }

    public static func < (lhs: WorkInstant, rhs: WorkInstant) -> Bool { lhs.sinceOrigin < rhs.sinceOrigin }
    public static func + (lhs: WorkInstant, rhs: Duration) -> WorkInstant { WorkInstant(sinceOrigin: lhs.sinceOrigin + rhs) }
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

/// The real clock: monotonic time from `ContinuousClock`.
public struct SystemClock: WorkClock {
    private let origin: ContinuousClock.Instant

    public init() { self.origin = ContinuousClock.now }

    public var now: WorkInstant { WorkInstant(sinceOrigin: ContinuousClock.now - origin) }

    public func sleep(until deadline: WorkInstant) async throws {
        try await ContinuousClock().sleep(until: origin + deadline.sinceOrigin, tolerance: nil)
    }
}

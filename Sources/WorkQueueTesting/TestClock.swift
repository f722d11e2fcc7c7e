import Synchronization
import WorkQueue

/// A manual ``WorkClock`` for tests: time starts at zero and moves only when the test calls
/// ``advance(by:)`` or ``advance(to:)``.
///
/// Sleepers are parked until the clock passes their deadline, so timed rules (lease renewal,
/// backoff, polling) run without real waiting. Use ``waitForSleepers(atLeast:maxYields:)`` to
/// let the system under test reach its parked state before advancing.
public final class TestClock: WorkClock {
    private struct Sleeper: Sendable {
        var deadline: WorkInstant
        var order: UInt64
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State: Sendable {
        var now = WorkInstant(sinceOrigin: .zero)
        var nextID: UInt64 = 0
        var sleepers: [UInt64: Sleeper] = [:]
    }

    private let state = Mutex(State())

    /// Creates a clock at instant zero.
    public init() {}

    /// The current instant of the manual clock.
    public var now: WorkInstant { state.withLock { $0.now } }

    /// How many tasks are currently suspended in ``sleep(until:)``.
    public var sleeperCount: Int { state.withLock { $0.sleepers.count } }

    /// Suspends until the clock is advanced to `deadline` or beyond. Returns at once when the
    /// deadline is not in the future; throws `CancellationError` promptly when the task is
    /// cancelled.
    public func sleep(until deadline: WorkInstant) async throws {
        let id = state.withLock { state -> UInt64 in
            state.nextID += 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let action = state.withLock { state -> ParkAction in
                    if Task.isCancelled { return .cancel }
                    if deadline <= state.now { return .resume }
                    state.sleepers[id] = Sleeper(deadline: deadline, order: id, continuation: continuation)
                    return .park
                }
                switch action {
                case .resume: continuation.resume()
                case .cancel: continuation.resume(throwing: CancellationError())
                case .park: break
                }
            }
        } onCancel: {
            // The cancelled flag is set before this runs, so a sleeper registering afterwards
            // sees `Task.isCancelled` and never parks.
            let sleeper = state.withLock { $0.sleepers.removeValue(forKey: id) }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Moves time forward by `duration` and resumes every sleeper whose deadline has passed,
    /// in deadline order, then yields so the resumed tasks can run.
    public func advance(by duration: Duration) async {
        let target = state.withLock { $0.now + duration }
        await advance(to: target)
    }

    /// Moves time to `instant` (never backwards) and resumes every sleeper whose deadline has
    /// passed, in deadline order, then yields so the resumed tasks can run.
    public func advance(to instant: WorkInstant) async {
        let due = state.withLock { state -> [Sleeper] in
            if instant > state.now { state.now = instant }
            let now = state.now
            let due = state.sleepers.values
                .filter { $0.deadline <= now }
                .sorted { ($0.deadline, $0.order) < ($1.deadline, $1.order) }
            for sleeper in due { state.sleepers[sleeper.order] = nil }
            return due
        }
        for sleeper in due { sleeper.continuation.resume() }
        for _ in 0..<20 { await Task.yield() }
    }

    /// Yields until at least `n` tasks sleep on this clock, at most `maxYields` times.
    /// Returns whether the count was reached.
    public func waitForSleepers(atLeast n: Int, maxYields: Int = 10_000) async -> Bool {
        for _ in 0..<maxYields {
            if sleeperCount >= n { return true }
            await Task.yield()
        }
        return sleeperCount >= n
    }
}

/// What a new sleeper does once it holds the lock.
private enum ParkAction { case resume, cancel, park }

import Synchronization
import WorkQueue

/// A manual clock for tests: time moves only when the test calls ``advance(by:)``.
///
/// Give it to a `Worker` and an ``InMemoryQueue`` and every timed rule (lease expiry, renewal,
/// backoff, grace period, polling) happens when the test says, not after real sleeps.
public final class TestClock: WorkClock, Sendable {
    private struct Sleeper {
        let deadline: WorkInstant
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now = WorkInstant(sinceOrigin: .zero)
        var sleepers: [Int: Sleeper] = [:]
        var nextID = 0
    }

    private let state = Mutex(State())

    /// A clock at time zero.
    public init() {}

    /// The clock's time: zero until the test advances it.
    public var now: WorkInstant { state.withLock { $0.now } }

    /// How many tasks are sleeping on this clock right now.
    public var sleeperCount: Int { state.withLock { $0.sleepers.count } }

    /// Suspends until a test advances the clock to `deadline` (returns at once when it is past);
    /// throws `CancellationError` when the task is cancelled.
    public func sleep(until deadline: WorkInstant) async throws {
        try Task.checkCancellation()
        let id = state.withLock { state -> Int in
            state.nextID += 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let outcome = state.withLock { state -> Result<Void, any Error>? in
                    if Task.isCancelled { return .failure(CancellationError()) }
                    if deadline <= state.now { return .success(()) }
                    state.sleepers[id] = Sleeper(deadline: deadline, continuation: continuation)
                    return nil
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            let sleeper = state.withLock { $0.sleepers.removeValue(forKey: id) }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Moves time forward by `duration`, wakes every sleeper whose deadline has come (earliest
    /// first), and yields so that the woken tasks can run.
    public func advance(by duration: Duration) async {
        await advance(to: now + duration)
    }

    /// Moves time forward to `instant` (never backward) and wakes the due sleepers.
    public func advance(to instant: WorkInstant) async {
        let due = state.withLock { state -> [Sleeper] in
            state.now = max(state.now, instant)
            let now = state.now
            let due = state.sleepers.filter { $0.value.deadline <= now }
            for id in due.keys { state.sleepers.removeValue(forKey: id) }
            return due.values.sorted { $0.deadline < $1.deadline }
        }
        for sleeper in due { sleeper.continuation.resume() }
        for _ in 0..<10 { await Task.yield() }
    }

    /// Yields until at least `count` tasks sleep on the clock. Returns false if that did not
    /// happen within `maxYields` yields (bounded: never hangs). Every hundredth yield also
    /// sleeps a real millisecond, so that on a loaded machine the tasks it waits for get a
    /// thread: the default bound is then at least half a second of real time.
    public func waitForSleepers(atLeast count: Int, maxYields: Int = 50_000) async -> Bool {
        for index in 0..<maxYields {
            if sleeperCount >= count { return true }
            await Task.yield()
            if index % 100 == 99 { try? await Task.sleep(for: .milliseconds(1)) }
        }
        return sleeperCount >= count
    }
}

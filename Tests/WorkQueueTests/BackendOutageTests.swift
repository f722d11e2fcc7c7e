import Synchronization
import Testing
import WorkQueue
import WorkQueueTesting

/// The runner rides out a backend that fails for a while (Redis restarting), within its retry
/// budget, and gives up with a clear error after it.
@Suite struct BackendOutageTests {
    struct ConnectionDropped: Error, CustomStringConvertible {
        var description: String { "connection dropped" }
    }

    /// An in-memory queue whose `lease` and `complete` throw `error` for their first
    /// `failures` calls each; with `slowFailure`, each failing call first takes that long on
    /// `clock` (a reconnect attempt that times out).
    final class FlakyBackend: ForwardingBackend, Sendable {
        let inner: InMemoryQueue
        let error: any Error & Sendable
        let slowFailure: (clock: TestClock, duration: Duration)?
        private let remaining: Mutex<[String: Int]>
        private let calls = Mutex<[String: Int]>([:])

        init(_ inner: InMemoryQueue, failures: Int, error: any Error & Sendable = ConnectionDropped(),
             slowFailure: (clock: TestClock, duration: Duration)? = nil) {
            self.inner = inner
            self.error = error
            self.slowFailure = slowFailure
            remaining = Mutex(["lease": failures, "complete": failures])
        }

        func callCount(_ operation: String) -> Int { calls.withLock { $0[operation] ?? 0 } }

        private func maybeFail(_ operation: String) async throws {
            calls.withLock { $0[operation, default: 0] += 1 }
            let fail = remaining.withLock { left -> Bool in
                guard let count = left[operation], count > 0 else { return false }
                left[operation] = count - 1
                return true
            }
            guard fail else { return }
            if let slowFailure { try await slowFailure.clock.sleep(for: slowFailure.duration) }
            throw error
        }

        /// Counts (and fails) each completion it carries as a "complete" call and its take as a
        /// "lease" call, before anything happens.
        func exchange(_ settlements: [Settlement], lease max: Int, session: String, duration: Duration) async throws -> ExchangeResult {
            for case .complete in settlements { try await maybeFail("complete") }
            if max > 0 { try await maybeFail("lease") }
            return try await inner.exchange(settlements, lease: max, session: session, duration: duration)
        }
    }

    @Test func aShortOutageIsRiddenOutAndTheItemCompletes() async throws {
        let clock = TestClock()
        let queue = InMemoryQueue(items: ["a"], clock: clock)
        let backend = FlakyBackend(queue, failures: 3)
        let worker = try Worker(backend: backend, handler: ClosureHandler { _, _ in "ok" },
                                options: WorkerTests.options(), clock: clock)
        let running = WorkerTests.Running(worker)
        try await WorkerTests.drive(clock) { running.isFinished }
        let summary = try await running.task.value
        #expect(summary.completed == 1)
        #expect(queue.result(for: "a") == "ok")
        #expect(backend.callCount("lease") >= 4)
        #expect(backend.callCount("complete") == 4)
    }

    @Test func anOutageLongerThanTheBudgetStopsTheWorkerWithAClearError() async throws {
        let clock = TestClock()
        let queue = InMemoryQueue(items: ["a"], clock: clock)
        let backend = FlakyBackend(queue, failures: 1_000)
        let worker = try Worker(backend: backend, handler: ClosureHandler { _, _ in "ok" },
                                options: WorkerTests.options { $0.backendRetryBudget = .seconds(5) }, clock: clock)
        let running = WorkerTests.Running(worker)
        try await WorkerTests.drive(clock) { running.isFinished }
        await #expect {
            _ = try await running.task.value
        } throws: { error in
            guard case .backendUnavailable(let message)? = error as? WorkQueueError else { return false }
            return message.contains("lease") && message.contains("connection dropped")
        }
        #expect(queue.pendingItems == ["a"])
    }

    /// The budget counts from the start of the first failed attempt, not from when it
    /// returned, and an attempt still running when it ends is cut: with attempts that each
    /// fail after 4 s (a reconnect timing out) and a 5 s budget, the worker gives up 5 s in,
    /// during the second attempt (not at its end, 8 s in, nor after a third, 12 s in).
    @Test func theBudgetIncludesTheTimeTheFirstFailedAttemptTook() async throws {
        let clock = TestClock()
        let queue = InMemoryQueue(items: ["a"], clock: clock)
        let backend = FlakyBackend(queue, failures: 1_000, slowFailure: (clock, .seconds(4)))
        let worker = try Worker(backend: backend, handler: ClosureHandler { _, _ in "ok" },
                                options: WorkerTests.options { $0.backendRetryBudget = .seconds(5) }, clock: clock)
        let start = clock.now
        let running = WorkerTests.Running(worker)
        try await WorkerTests.drive(clock) { running.isFinished }
        let stoppedAfter = clock.now - start
        let error = await #expect(throws: WorkQueueError.self) { _ = try await running.task.value }
        #expect(backend.callCount("lease") == 2)
        // The second attempt, still failing slowly, is cut when the 5 s budget ends (not at 8 s).
        #expect(stoppedAfter >= .seconds(5) && stoppedAfter <= .milliseconds(5_300), "stopped after \(stoppedAfter)")
        #expect("\(error.map { "\($0)" } ?? "")".contains("still running when the retry budget ran out"))
        #expect(queue.pendingItems == ["a"])
    }

    @Test func aWrongKeyTypeIsNotRetried() async throws {
        let clock = TestClock()
        let queue = InMemoryQueue(items: ["a"], clock: clock)
        let wrongType = WorkQueueError.wrongKeyType(key: "job2", actual: "string", expected: "list")
        let backend = FlakyBackend(queue, failures: 1_000, error: wrongType)
        let worker = try Worker(backend: backend, handler: ClosureHandler { _, _ in "ok" },
                                options: WorkerTests.options(), clock: clock)
        await #expect(throws: wrongType) { _ = try await worker.runUntilStopped() }
        #expect(backend.callCount("lease") == 1)
    }
}

import Synchronization
import Testing
import WorkQueue
import WorkQueueTesting

/// SIGTERM ends the runner within the grace period plus the settle timeout in every state:
/// Redis down, Redis stalled (calls that never return), a handler that ignores cancellation.
/// Whatever was not settled stays leased.
@Suite struct ShutdownDeadlineTests {
    struct Unreachable: Error, CustomStringConvertible {
        var description: String { "connection refused" }
    }

    enum Mode { case up, failing, hanging }

    /// An in-memory queue that can be switched to failing every call, or to calls that never
    /// return and ignore cancellation (a stalled server).
    final class SwitchableBackend: ForwardingBackend, Sendable {
        let inner: InMemoryQueue
        private let mode = Mutex(Mode.up)
        private let stuck = Mutex<[CheckedContinuation<Void, Never>]>([])

        init(_ inner: InMemoryQueue) { self.inner = inner }

        func set(_ mode: Mode) { self.mode.withLock { $0 = mode } }

        /// Lets every stuck call return (with an error), for the test's cleanup.
        func unstick() {
            set(.failing)
            for waiter in stuck.withLock({ list in defer { list = [] }; return list }) { waiter.resume() }
        }

        private func gate() async throws {
            switch mode.withLock({ $0 }) {
            case .up: return
            case .failing: throw Unreachable()
            case .hanging:
                await withCheckedContinuation { continuation in stuck.withLock { $0.append(continuation) } }
                throw Unreachable()
            }
        }

        func exchange(_ settlements: [Settlement], lease max: Int, session: String, duration: Duration) async throws -> ExchangeResult {
            try await gate()
            return try await inner.exchange(settlements, lease: max, session: session, duration: duration)
        }
        func renew(_ request: RenewRequest) async throws -> [Bool] {
            try await gate()
            return try await inner.renew(request)
        }
        func counts() async throws -> QueueCounts {
            try await gate()
            return try await inner.counts()
        }
        func maintain(maxAttempts: Int, interval: Duration, session: String) async throws -> RecoveryReport? {
            try await gate()
            return try await inner.maintain(maxAttempts: maxAttempts, interval: interval, session: session)
        }
        func finishIfDrained(session: String) async throws -> Bool {
            try await gate()
            return try await inner.finishIfDrained(session: session)
        }
        func recoverExpiredLeases(maxAttempts: Int) async throws -> RecoveryReport {
            try await gate()
            return try await inner.recoverExpiredLeases(maxAttempts: maxAttempts)
        }
        func promoteDueRetries() async throws -> Int {
            try await gate()
            return try await inner.promoteDueRetries()
        }
    }

    /// A handler that never looks at cancellation: it returns only when the test lets it.
    struct StubbornHandler: WorkHandler {
        let release: Gate
        let started: Gate
        func handle(_ item: WorkItem, context: WorkContext) async throws -> String? {
            started.open()
            while !release.isOpen { try? await Task.sleep(for: .milliseconds(1)) }
            return "late"
        }
    }

    static let grace = Duration.seconds(2)

    static func options() -> WorkerOptions {
        WorkerTests.options {
            $0.shutdownGracePeriod = grace
            $0.shutdownSettleTimeout = .milliseconds(500)
            $0.backendRetryBudget = .seconds(30)
        }
    }

    /// Drives the clock until the worker returns; the clock time it took after the shutdown.
    static func stop(_ worker: Worker, _ running: WorkerTests.Running, clock: TestClock) async throws -> Duration {
        let requested = clock.now
        worker.shutdown()
        try await WorkerTests.drive(clock, maxSteps: 400) { running.isFinished }
        return clock.now - requested
    }

    /// A worker over a switchable backend whose gated handler has started on the first item.
    static func holdingOneItem(_ items: [WorkItem], options: WorkerOptions) async throws
        -> (TestClock, InMemoryQueue, SwitchableBackend, Gate, Worker, WorkerTests.Running)
    {
        let clock = TestClock()
        let queue = InMemoryQueue(items: items, clock: clock)
        let backend = SwitchableBackend(queue)
        let gate = Gate()
        let log = WorkerTests.EventLog()
        let worker = try Worker(backend: backend, handler: GatedHandler(gate: gate), options: options, clock: clock, events: log.append)
        let running = WorkerTests.Running(worker)
        try await WorkerTests.settle { log.count { if case .leased = $0 { true } else { false } } == 1 }
        return (clock, queue, backend, gate, worker, running)
    }

    @Test func aShutdownDuringAnOutageEndsAtTheDeadlineWithTheItemStillLeased() async throws {
        let (clock, queue, backend, gate, worker, running) = try await Self.holdingOneItem(["a"], options: Self.options())
        backend.set(.failing)
        gate.open()
        let took = try await Self.stop(worker, running, clock: clock)
        let summary = try await running.task.value
        #expect(summary.stopReason == .shutdown)
        #expect(took <= Self.grace + .seconds(1))
        #expect(queue.processingItems == ["a"])
        #expect(queue.result(for: "a") == nil)
    }

    @Test func aStalledBackendDoesNotHoldTheShutdown() async throws {
        var options = Self.options()
        options.prefetch = 1
        let (clock, queue, backend, gate, worker, running) = try await Self.holdingOneItem(["a", "b"], options: options)
        backend.set(.hanging)
        gate.open()
        // The settle of "a" is now stuck inside the backend.
        let took = try await Self.stop(worker, running, clock: clock)
        let summary = try await running.task.value
        #expect(summary.stopReason == .shutdown)
        #expect(took <= Self.grace + .seconds(1))
        #expect(queue.processingItems == ["a"])
        backend.unstick()
    }

    @Test func aHandlerIgnoringCancellationIsLeftBehindAndItsItemStaysLeased() async throws {
        let clock = TestClock()
        let queue = InMemoryQueue(items: ["a"], clock: clock)
        let release = Gate()
        let started = Gate()
        let worker = try Worker(backend: SwitchableBackend(queue), handler: StubbornHandler(release: release, started: started),
                                options: Self.options(), clock: clock)
        let running = WorkerTests.Running(worker)
        try await WorkerTests.settle { started.isOpen }
        let took = try await Self.stop(worker, running, clock: clock)
        let summary = try await running.task.value
        #expect(summary.stopReason == .shutdown)
        #expect(took >= Self.grace)
        #expect(took <= Self.grace + .seconds(1))
        #expect(queue.processingItems == ["a"])
        #expect(queue.pendingItems.isEmpty)
        release.open()
    }

    @Test func cooperatingHandlersAreStillReleasedAtTheGracePeriod() async throws {
        let clock = TestClock()
        let queue = InMemoryQueue(items: ["a"], clock: clock)
        let gate = Gate()
        let log = WorkerTests.EventLog()
        let worker = try Worker(backend: queue, handler: GatedHandler(gate: gate), options: Self.options(),
                                clock: clock, events: log.append)
        let running = WorkerTests.Running(worker)
        try await WorkerTests.settle { log.count { if case .leased = $0 { true } else { false } } == 1 }
        let took = try await Self.stop(worker, running, clock: clock)
        let summary = try await running.task.value
        #expect(summary.stopReason == .shutdown)
        #expect(summary.released == 1)
        #expect(took <= Self.grace + .seconds(1))
        #expect(queue.pendingItems == ["a"])
    }

    @Test func aRefusedOperationStopsAtOnce() async throws {
        let clock = TestClock()
        let queue = InMemoryQueue(items: ["a"], clock: clock)
        let refused = WorkQueueError.backendRefused("NOPERM this user has no permissions to run the 'evalsha' command")
        let backend = BackendOutageTests.FlakyBackend(queue, failures: 1_000, error: refused)
        let worker = try Worker(backend: backend, handler: ClosureHandler { _, _ in "ok" },
                                options: WorkerTests.options(), clock: clock)
        await #expect(throws: refused) { _ = try await worker.runUntilStopped() }
        #expect(backend.callCount("lease") == 1)
    }
}

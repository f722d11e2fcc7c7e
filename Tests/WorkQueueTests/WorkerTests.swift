import Foundation
import Synchronization
import Testing
import WorkQueue
import WorkQueueTesting

/// The runner's rules, driven by the test clock.
@Suite struct WorkerTests {
    struct Boom: Error, CustomStringConvertible {
        var description: String { "boom" }
    }

    /// Records events and lets a test wait for one.
    final class EventLog: Sendable {
        private let events = Mutex<[WorkerEvent]>([])
        var all: [WorkerEvent] { events.withLock { $0 } }
        func append(_ event: WorkerEvent) { events.withLock { $0.append(event) } }
        func count(where predicate: (WorkerEvent) -> Bool) -> Int { all.filter(predicate).count }
    }

    /// A running worker whose outcome the test can poll.
    final class Running: Sendable {
        let task: Task<WorkerSummary, any Error>
        private let finished: Gate
        var isFinished: Bool { finished.isOpen }

        init(_ worker: Worker) {
            let finished = Gate()
            self.finished = finished
            task = Task {
                defer { finished.open() }
                return try await worker.runUntilStopped()
            }
        }
    }

    static func options(_ change: (inout WorkerOptions) -> Void = { _ in }) -> WorkerOptions {
        var options = WorkerOptions()
        options.leaseDuration = .seconds(30)
        options.recoveryInterval = .seconds(5)
        options.idlePollInterval = .milliseconds(100)
        options.retry = .immediate
        change(&options)
        return options
    }

    /// Advances the clock in small steps until `done` holds; records an issue after `maxSteps`.
    static func drive(
        _ clock: TestClock,
        step: Duration = .milliseconds(100),
        maxSteps: Int = 5_000,
        until done: () async throws -> Bool
    ) async throws {
        for _ in 0..<maxSteps {
            if try await done() { return }
            await clock.advance(by: step)
            for _ in 0..<20 { await Task.yield() }
            // And a millisecond of real time: on a loaded machine the worker's tasks may not
            // get a thread within the yields, and the clock would race ahead of them.
            try await Task.sleep(for: .milliseconds(1))
        }
        Issue.record("condition not reached after \(maxSteps) clock steps")
    }

    /// Yields (no clock movement) until `done` holds, for a bounded number of real milliseconds.
    static func settle(maxMilliseconds: Int = 5_000, until done: () async throws -> Bool) async throws {
        for _ in 0..<maxMilliseconds {
            if try await done() { return }
            try await Task.sleep(for: .milliseconds(1))
        }
        Issue.record("condition not reached within \(maxMilliseconds) ms")
    }

    @Test func renewalKeepsALongItemsLease() async throws {
        let clock = TestClock()
        let queue = InMemoryQueue(items: ["long"], clock: clock)
        let gate = Gate()
        let log = EventLog()
        let worker = try Worker(
            backend: queue, handler: GatedHandler(gate: gate), options: Self.options(), clock: clock,
            events: log.append)
        let running = Running(worker)
        try await Self.settle { log.count { if case .leased = $0 { true } else { false } } == 1 }
        // Four lease lengths pass while the handler works; the heartbeat keeps the lease.
        for _ in 0..<12 {
            await clock.advance(by: .seconds(10))
            // Wait for this period's renewal itself: before it the lease lapses 20 s from now,
            // after it 30 s. (Waiting only for sleepers let a loaded machine skip renewals.)
            let renewed = clock.now + .seconds(25)
            try await Self.settle { (queue.leaseExpiry(of: "long") ?? clock.now) > renewed }
            let report = try await queue.recoverExpiredLeases(maxAttempts: 5)
            #expect(report == RecoveryReport(), "the lease expired although the handler was still working")
        }
        gate.open()
        try await Self.drive(clock) { running.isFinished }
        let summary = try await running.task.value
        #expect(summary.completed == 1)
        #expect(summary.leaseLost == 0)
        #expect(queue.result(for: "long") == "done")
        #expect(try await queue.counts().isDrained)
    }

    @Test func aLostLeaseCancelsTheHandlerAndTheRecoveredItemCountsAnAttempt() async throws {
        let clock = TestClock()
        let queue = InMemoryQueue(items: ["stuck"], clock: clock)
        let log = EventLog()
        // Attempt 1 hangs until cancelled; attempt 2 succeeds.
        let handler = ClosureHandler { _, context in
            if context.attempt == 1 {
                for _ in 0..<5_000 where !context.isCancelled { try await Task.sleep(for: .milliseconds(1)) }
                try context.checkCancellation()
            }
            return "attempt \(context.attempt)"
        }
        let worker = try Worker(backend: queue, handler: handler, options: Self.options(), clock: clock, events: log.append)
        let running = Running(worker)
        try await Self.settle { log.count { if case .leased = $0 { true } else { false } } == 1 }
        // The whole lease passes before the heartbeat runs (a stalled process): the lease is lost.
        await clock.advance(by: .seconds(31))
        try await Self.drive(clock) { running.isFinished }
        let summary = try await running.task.value
        #expect(summary.leaseLost == 1)
        #expect(summary.completed == 1)
        #expect(queue.result(for: "stuck") == "attempt 2")
        let attempts = log.all.compactMap { event -> Int? in
            if case let .leased(lease) = event { lease.attempt } else { nil }
        }
        #expect(attempts == [1, 2])
    }

    @Test func abandonedLeaseOfADeadWorkerIsRecoveredWithItsAttemptCounted() async throws {
        let clock = TestClock()
        let queue = InMemoryQueue(items: ["orphan"], clock: clock)
        // A worker that leased the item and died.
        let dead = try await queue.lease(max: 1, session: "dead-worker", duration: .seconds(30))
        #expect(dead.count == 1)
        let log = EventLog()
        let worker = try Worker(
            backend: queue, handler: ClosureHandler { item, context in "\(item.string) #\(context.attempt)" },
            options: Self.options(), clock: clock, events: log.append)
        let running = Running(worker)
        try await Self.drive(clock) { running.isFinished }
        let summary = try await running.task.value
        #expect(summary.completed == 1)
        #expect(queue.result(for: "orphan") == "orphan #2")
        #expect(log.all.contains { if case .recovered(let report) = $0 { report.requeued == 1 } else { false } })
    }

    @Test func backoffGrowsAndIsBounded() {
        let strategy = RetryStrategy.exponentialJitter(base: .seconds(1), maxDelay: .seconds(10), jitter: 0)
        let delays = (1...8).map { strategy.delay(afterAttempt: $0) }
        #expect(delays == [1, 2, 4, 8, 10, 10, 10, 10].map { Duration.seconds($0) })
        #expect(strategy.delay(afterAttempt: 1_000) == .seconds(10))
        let jittered = RetryStrategy.exponentialJitter(base: .seconds(2), maxDelay: .seconds(60), jitter: 0.5)
        for attempt in 1...6 {
            let full = min(2.0 * Double(1 << (attempt - 1)), 60)
            for _ in 0..<50 {
                let delay = jittered.delay(afterAttempt: attempt).seconds
                #expect(delay >= full * 0.5 - 1e-9 && delay <= full + 1e-9)
            }
        }
    }

    @Test func retriesWaitForTheirBackoffOnTheClock() async throws {
        let clock = TestClock()
        let queue = InMemoryQueue(items: ["flaky"], clock: clock)
        let leasedAt = Mutex<[Duration]>([])
        let handler = ClosureHandler { _, context in
            leasedAt.withLock { $0.append(clock.now.sinceOrigin) }
            if context.attempt < 4 { throw Boom() }
            return "ok"
        }
        let options = Self.options {
            $0.retry = .exponentialJitter(base: .seconds(1), maxDelay: .seconds(2), jitter: 0)
            $0.maxAttempts = 4
        }
        let running = Running(try Worker(backend: queue, handler: handler, options: options, clock: clock))
        try await Self.drive(clock) { running.isFinished }
        #expect(try await running.task.value.completed == 1)
        let times = leasedAt.withLock { $0 }
        try #require(times.count == 4)
        let gaps = zip(times.dropFirst(), times).map { ($0 - $1).seconds }
        // Delays 1 s, 2 s, then capped at 2 s; the idle poll adds at most a few 100 ms steps.
        for (gap, expected) in zip(gaps, [1.0, 2.0, 2.0]) {
            #expect(gap >= expected && gap <= expected + 0.35, "gap \(gap) s, expected about \(expected) s")
        }
    }

    @Test func maxAttemptsLeadsToADeadLetterWithTheError() async throws {
        var harness = HandlerHarness(ClosureHandler { item, _ in
            if item == "bad" { throw Boom() }
            return "fine"
        })
        harness.options.maxAttempts = 3
        let report = try await harness.run(["bad", "good"])
        #expect(report.results == ["good": "fine"])
        #expect(report.deadLettered == ["bad"])
        #expect(report.deadLetters.first?.lastError == "boom")
        #expect(report.deadLetters.first?.attempts == 3)
        #expect(report.failures.map(\.attempt) == [1, 2, 3])
        #expect(report.summary.retried == 2)
        #expect(report.summary.deadLettered == 1)
    }

    @Test func exitOnEmptyWaitsForAnotherWorkersInFlightItem() async throws {
        let clock = TestClock()
        let queue = InMemoryQueue(items: ["theirs"], clock: clock)
        let theirs = try #require(try await queue.lease(max: 1, session: "other", duration: .seconds(30)).first)
        let worker = try Worker(
            backend: queue, handler: ClosureHandler { _, _ in nil }, options: Self.options(), clock: clock)
        let running = Running(worker)
        // Nothing pending, but the other worker's item is in flight: keep waiting.
        for _ in 0..<50 {
            await clock.advance(by: .milliseconds(100))
            for _ in 0..<20 { await Task.yield() }
        }
        #expect(!running.isFinished, "the worker exited while another worker still held an item")
        #expect(try await queue.complete(theirs, result: nil) == .settled)
        try await Self.drive(clock) { running.isFinished }
        let summary = try await running.task.value
        #expect(summary.stopReason == .drained)
        #expect(summary.completed == 0)
    }

    @Test func shutdownReleasesInFlightItemsAfterTheGracePeriod() async throws {
        let clock = TestClock()
        let queue = InMemoryQueue(items: ["busy", "waiting"], clock: clock)
        let log = EventLog()
        let handler = ClosureHandler { _, context in
            for _ in 0..<5_000 where !context.isCancelled { try await Task.sleep(for: .milliseconds(1)) }
            try context.checkCancellation()
            return nil
        }
        let options = Self.options { $0.shutdownGracePeriod = .seconds(20) }
        let worker = try Worker(backend: queue, handler: handler, options: options, clock: clock, events: log.append)
        let running = Running(worker)
        try await Self.settle { log.count { if case .leased = $0 { true } else { false } } == 1 }
        worker.shutdown()
        // Within the grace period the handler keeps running.
        await clock.advance(by: .seconds(19))
        for _ in 0..<200 { await Task.yield() }
        #expect(!running.isFinished)
        try await Self.drive(clock) { running.isFinished }
        let summary = try await running.task.value
        #expect(summary.stopReason == .shutdown)
        #expect(summary.released == 1)
        #expect(summary.completed == 0)
        #expect(queue.pendingItems == ["busy", "waiting"], "the released item goes back to the head")
        #expect(queue.attempts(for: "busy") == 0, "a release must not count an attempt")
        #expect(try await queue.counts().processing == 0)
    }

    @Test func shutdownLetsAHandlerThatFinishesInTheGracePeriodComplete() async throws {
        let clock = TestClock()
        let queue = InMemoryQueue(items: ["a", "b"], clock: clock)
        let gate = Gate()
        let log = EventLog()
        let worker = try Worker(
            backend: queue, handler: GatedHandler(gate: gate), options: Self.options(), clock: clock, events: log.append)
        let running = Running(worker)
        try await Self.settle { log.count { if case .leased = $0 { true } else { false } } == 1 }
        worker.shutdown()
        gate.open()
        try await Self.drive(clock) { running.isFinished }
        let summary = try await running.task.value
        #expect(summary.completed == 1)
        #expect(summary.stopReason == .shutdown)
        #expect(queue.pendingItems == ["b"], "no new lease after shutdown")
    }

    @Test func concurrencyNRunsNItemsAtOnce() async throws {
        let active = Mutex(0)
        let peak = Mutex(0)
        let handler = ClosureHandler { _, _ in
            let now = active.withLock { $0 += 1; return $0 }
            peak.withLock { $0 = max($0, now) }
            defer { active.withLock { $0 -= 1 } }
            // A barrier: every item waits until three run at once (bounded).
            for _ in 0..<5_000 where peak.withLock({ $0 }) < 3 {
                try await Task.sleep(for: .milliseconds(1))
            }
            return nil
        }
        var harness = HandlerHarness(handler)
        harness.options.concurrency = 3
        let report = try await harness.run(["1", "2", "3"])
        #expect(peak.withLock { $0 } == 3)
        #expect(report.completed.count == 3)
    }

    @Test func dedicatedThreadHandlersDoNotBlockTheCooperativePool() async throws {
        // Each handler blocks its thread until the test (on the cooperative pool) releases it.
        let semaphore = DispatchSemaphore(value: 0)
        let started = Mutex(0)
        let handler = BlockingHandler { 
            started.withLock { $0 += 1 }
            return semaphore.wait(timeout: .now() + 10) == .success ? "released" : "timed out"
        }
        var harness = HandlerHarness(handler)
        harness.options.concurrency = ProcessInfo.processInfo.activeProcessorCount + 1
        let items = (0..<harness.options.concurrency).map { WorkItem("\($0)") }
        async let report = harness.run(items)
        try await Self.settle(maxMilliseconds: 10_000) { started.withLock { $0 } == items.count }
        for _ in items { semaphore.signal() }
        #expect(Set(try await report.results.values) == ["released"])
    }
}

/// A handler built from a closure.
struct ClosureHandler: WorkHandler {
    let body: @Sendable (WorkItem, WorkContext) async throws -> String?
    init(_ body: @escaping @Sendable (WorkItem, WorkContext) async throws -> String?) { self.body = body }
    func handle(_ item: WorkItem, context: WorkContext) async throws -> String? { try await body(item, context) }
}

/// A handler that blocks its thread; runs on the runner's dedicated threads.
struct BlockingHandler: WorkHandler {
    let body: @Sendable () -> String
    var execution: HandlerExecution { .dedicatedThread }
    func handle(_ item: WorkItem, context: WorkContext) async throws -> String? { body() }
}

/// A gate a handler waits on until the test opens it.
final class Gate: Sendable {
    private let opened = Mutex(false)
    func open() { opened.withLock { $0 = true } }
    var isOpen: Bool { opened.withLock { $0 } }
}

/// Waits (polling real time, bounded) for its gate, then returns "done".
struct GatedHandler: WorkHandler {
    let gate: Gate
    func handle(_ item: WorkItem, context: WorkContext) async throws -> String? {
        for _ in 0..<20_000 where !gate.isOpen {
            try context.checkCancellation()
            try await Task.sleep(for: .milliseconds(1))
        }
        return "done"
    }
}

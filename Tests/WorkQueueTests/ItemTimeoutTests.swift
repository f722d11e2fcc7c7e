import Foundation
import Synchronization
import Testing
import WorkQueue
import WorkQueueTesting

/// `WorkerOptions.itemTimeout`: the time limit per item, driven by the test clock.
@Suite struct ItemTimeoutTests {
    typealias T = WorkerTests

    /// A dedicated-thread handler that ignores cancellation: it blocks its thread until its gate
    /// opens (bounded in real time), counting its calls.
    final class Counter: Sendable {
        private let value = Mutex(0)
        func increment() { value.withLock { $0 += 1 } }
        var count: Int { value.withLock { $0 } }
    }

    struct StubbornHandler: WorkHandler {
        let gate: Gate
        let calls: Counter
        var execution: HandlerExecution { .dedicatedThread }
        func handle(_ item: WorkItem, context: WorkContext) async throws -> String? {
            calls.increment()
            if item.string.hasPrefix("stuck") {
                var waited = 0
                while !gate.isOpen && waited < 20_000 {
                    usleep(1_000)
                    waited += 1
                }
            }
            return "late \(item)"
        }
    }

    @Test func aHandlerPastItsLimitIsCancelledAndTheAttemptFailsThenDeadLetters() async throws {
        let clock = TestClock()
        let queue = InMemoryQueue(items: ["slow"], clock: clock)
        let reasons = Mutex<[CancellationReason?]>([])
        let handler = ClosureHandler { _, context in
            // `try?`: Task.sleep throws at once when the runner cancels the task.
            for _ in 0..<20_000 where !context.isCancelled { try? await Task.sleep(for: .milliseconds(1)) }
            reasons.withLock { $0.append(context.cancellation.reason) }
            try context.checkCancellation()
            return "finished"
        }
        let options = T.options {
            $0.itemTimeout = .seconds(10)
            $0.maxAttempts = 2
        }
        let log = T.EventLog()
        let worker = try Worker(backend: queue, handler: handler, options: options, clock: clock, events: log.append)
        let running = T.Running(worker)
        try await T.drive(clock) { running.isFinished }
        let summary = try await running.task.value
        #expect(reasons.withLock { $0 } == [.timedOut(after: .seconds(10)), .timedOut(after: .seconds(10))])
        #expect(summary.retried == 1)
        #expect(summary.deadLettered == 1)
        #expect(summary.completed == 0)
        #expect(queue.deadItems == ["slow"])
        #expect(queue.attempts(for: "slow") == 2)
        #expect(queue.lastError(for: "slow") == "timed out after 10 s")
        let messages = log.all.compactMap { event -> String? in
            if case let .failed(_, error, _) = event { error } else { nil }
        }
        #expect(messages == ["timed out after 10 s", "timed out after 10 s"])
    }

    @Test func aHandlerWithinItsLimitCompletes() async throws {
        let clock = TestClock()
        let queue = InMemoryQueue(items: ["quick"], clock: clock)
        let gate = Gate()
        let options = T.options { $0.itemTimeout = .seconds(10) }
        let log = T.EventLog()
        let worker = try Worker(backend: queue, handler: GatedHandler(gate: gate), options: options, clock: clock,
                                events: log.append)
        let running = T.Running(worker)
        try await T.settle { log.count { if case .leased = $0 { true } else { false } } == 1 }
        await clock.advance(by: .seconds(9))
        gate.open()
        try await T.settle { log.count { if case .completed = $0 { true } else { false } } == 1 }
        try await T.drive(clock) { running.isFinished }
        let summary = try await running.task.value
        #expect(summary.completed == 1)
        #expect(queue.result(for: "quick") == "done")
    }

    @Test func withoutALimitALongHandlerRunsToTheEnd() async throws {
        let clock = TestClock()
        let queue = InMemoryQueue(items: ["long"], clock: clock)
        let gate = Gate()
        let log = T.EventLog()
        let flags = Mutex<[CancellationFlag]>([])
        let handler = ClosureHandler { item, context in
            flags.withLock { $0.append(context.cancellation) }
            return try await GatedHandler(gate: gate).handle(item, context: context)
        }
        let worker = try Worker(backend: queue, handler: handler, options: T.options(), clock: clock, events: log.append)
        let running = T.Running(worker)
        try await T.settle { log.count { if case .leased = $0 { true } else { false } } == 1 }
        try await T.settle { flags.withLock { $0.count == 1 } }
        // Ten minutes of the worker's clock, a renewal at a time (waiting for each, as
        // WorkerTests.renewalKeepsALongItemsLease does).
        for _ in 0..<60 {
            await clock.advance(by: .seconds(10))
            let renewed = clock.now + .seconds(25)
            try await T.settle {
                (queue.leaseExpiry(of: "long") ?? clock.now) > renewed || flags.withLock { $0.count != 1 || $0[0].reason != nil }
            }
            if flags.withLock({ $0.count != 1 || $0[0].reason != nil }) { break }
        }
        #expect(flags.withLock { $0.map(\.reason) } == [nil])
        gate.open()
        try await T.drive(clock) { running.isFinished }
        let summary = try await running.task.value
        #expect(summary.completed == 1)
        #expect(summary.retried + summary.deadLettered == 0)
        #expect(queue.result(for: "long") == "done")
    }

    /// Issue 27: a handler left running past its limit and grace keeps its thread, but not its
    /// slot: the next item runs on a spare thread (before, the slot waited for it, and with one
    /// slot the items behind it stayed leased, renewed forever).
    @Test func aDedicatedThreadHandlerIgnoringCancellationFailsAfterTheGraceAndASpareThreadTakesTheNextItem() async throws {
        let clock = TestClock()
        let queue = InMemoryQueue(items: ["stuck", "next", "last"], clock: clock)
        let gate = Gate()
        let handler = StubbornHandler(gate: gate, calls: Counter())
        let options = T.options {
            $0.itemTimeout = .seconds(10)
            $0.itemTimeoutGrace = .seconds(5)
            $0.maxAttempts = 1
            $0.concurrency = 1
            $0.prefetch = 1
        }
        let log = T.EventLog()
        let worker = try Worker(backend: queue, handler: handler, options: options, clock: clock, events: log.append)
        let running = T.Running(worker)
        defer { gate.open() }
        try await T.settle { log.count { if case .leased = $0 { true } else { false } } == 1 }
        await clock.advance(by: .seconds(10))
        for _ in 0..<200 { await Task.yield() }
        #expect(queue.deadItems.isEmpty, "within the grace the attempt is not settled yet")
        try await T.drive(clock) { queue.deadItems == ["stuck"] }
        #expect(queue.lastError(for: "stuck") == "timed out after 10 s")
        // The handler still blocks its thread; the items behind it run on the spare one and the
        // queue drains while it blocks.
        try await T.drive(clock) { running.isFinished }
        let summary = try await running.task.value
        #expect(summary.stopReason == .drained)
        #expect(handler.calls.count == 3)
        #expect(summary.deadLettered == 1)
        #expect(summary.completed == 2)
        #expect(queue.result(for: "stuck") == nil, "the late result is not recorded")
        #expect(queue.result(for: "next") == "late next")
        #expect(queue.result(for: "last") == "late last")
        #expect(queue.deadItems == ["stuck"])
    }

    /// When abandoned handlers hold every spare thread (one per slot) and one more is
    /// abandoned, the worker stops (``WorkerStopReason/handlersStuck``) and releases what it
    /// holds instead of freezing.
    @Test func whenAbandonedHandlersHoldEverySpareThreadTheWorkerStopsAndReleasesItsItems() async throws {
        let clock = TestClock()
        let queue = InMemoryQueue(items: ["stuck 1", "stuck 2", "after"], clock: clock)
        let gate = Gate()
        let handler = StubbornHandler(gate: gate, calls: Counter())
        let options = T.options {
            $0.itemTimeout = .seconds(10)
            $0.itemTimeoutGrace = .seconds(5)
            $0.maxAttempts = 1
            $0.concurrency = 1
            $0.prefetch = 1
        }
        let worker = try Worker(backend: queue, handler: handler, options: options, clock: clock)
        let running = T.Running(worker)
        defer { gate.open() }
        try await T.drive(clock) { running.isFinished }
        let summary = try await running.task.value
        #expect(summary.stopReason == .handlersStuck)
        #expect(queue.deadItems == ["stuck 1", "stuck 2"])
        #expect(handler.calls.count == 2, "nothing started after the second was abandoned")
        #expect(queue.pendingItems == ["after"], "the item leased behind them was released, not lost")
    }

    @Test func anItemTimeoutMustBePositive() {
        var options = WorkerOptions()
        options.itemTimeout = .zero
        #expect(throws: WorkQueueError.self) { try options.validate() }
        options.itemTimeout = .milliseconds(1)
        options.itemTimeoutGrace = .seconds(-1)
        #expect(throws: WorkQueueError.self) { try options.validate() }
    }

    @Test func secondsAreWrittenAsPeopleWriteThem() {
        #expect(CancellationReason.seconds(.seconds(1)) == "1")
        #expect(CancellationReason.seconds(.milliseconds(1500)) == "1.5")
        #expect(CancellationReason.seconds(.seconds(90)) == "90")
    }
}

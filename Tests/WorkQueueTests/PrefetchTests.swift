import Testing
import WorkQueue
import WorkQueueTesting

/// Batched leasing: a slot leases several items at once and holds them all.
@Suite struct PrefetchTests {
    typealias T = WorkerTests

    @Test func prefetchedItemsAreHeldAndRenewedWhileTheyWait() async throws {
        let clock = TestClock()
        let queue = InMemoryQueue(items: ["a", "b", "c", "d"], clock: clock)
        let gate = Gate()
        let log = T.EventLog()
        let options = T.options { $0.prefetch = 3 }
        let worker = try Worker(backend: queue, handler: GatedHandler(gate: gate), options: options, clock: clock, events: log.append)
        let running = T.Running(worker)
        try await T.settle { log.count { if case .leased = $0 { true } else { false } } == 1 }
        #expect(queue.processingItems == ["a", "b", "c"], "one lease call took three items")
        #expect(queue.pendingItems == ["d"])
        // Three lease lengths pass while "a" runs: the waiting "b" and "c" must stay leased.
        for _ in 1...90 {
            // Before each step, every held lease must outlast it. When one is about to lapse its
            // renewal is overdue (renewals come every 10 s, leases last 30 s), so waiting gives
            // the heartbeat a thread on a loaded machine; a heartbeat woken late and then
            // sleeping its 10 s from there (not from when it was due) is fine too.
            let next = clock.now + .seconds(1)
            try await T.settle {
                ["a", "b", "c"].allSatisfy { (queue.leaseExpiry(of: $0) ?? clock.now) > next }
            }
            await clock.advance(by: .seconds(1))
            for _ in 0..<20 { await Task.yield() }
        }
        #expect(try await queue.counts().leased == 3)
        #expect(try await queue.recoverExpiredLeases(maxAttempts: 5) == RecoveryReport())
        gate.open()
        try await T.drive(clock) { running.isFinished }
        let summary = try await running.task.value
        #expect(summary.completed == 4)
        #expect(summary.leaseLost == 0)
        #expect(queue.attempts(for: "b") == 0)
    }

    @Test func shutdownReleasesPrefetchedItemsInTheirOrder() async throws {
        let clock = TestClock()
        let queue = InMemoryQueue(items: ["a", "b", "c"], clock: clock)
        let gate = Gate()
        let log = T.EventLog()
        let worker = try Worker(backend: queue, handler: GatedHandler(gate: gate), options: T.options { $0.prefetch = 3 },
                                clock: clock, events: log.append)
        let running = T.Running(worker)
        try await T.settle { log.count { if case .leased = $0 { true } else { false } } == 1 }
        worker.shutdown()
        gate.open()
        try await T.drive(clock) { running.isFinished }
        let summary = try await running.task.value
        #expect(summary.completed == 1)
        #expect(summary.released == 2)
        #expect(queue.pendingItems == ["b", "c"])
        #expect(queue.attempts(for: "b") == 0 && queue.attempts(for: "c") == 0)
    }

    @Test func prefetchIsValidated() {
        var options = WorkerOptions()
        options.prefetch = 0
        #expect(throws: WorkQueueError.self) { try options.validate() }
    }
}

import Testing
import WorkQueue
import WorkQueueTesting

/// The runner's heartbeat record: written at start and every interval with what the worker is
/// doing, removed when it returns.
@Suite struct HeartbeatRecordTests {
    @Test func aRunningWorkerHasALiveRecordThatGoesWhenItReturns() async throws {
        let clock = TestClock()
        let queue = InMemoryQueue(items: ["a", "b"], clock: clock)
        let gate = Gate()
        let worker = try Worker(backend: queue, handler: GatedHandler(gate: gate), options: WorkerTests.options {
            $0.heartbeatInterval = .seconds(1)
            $0.heartbeatHost = "pod-9"
            $0.handlerName = "gated"
        }, session: "s-1", clock: clock)
        let running = WorkerTests.Running(worker)
        // A refresh after the handler started reports it in flight.
        try await WorkerTests.drive(clock) {
            try await queue.liveWorkers().first?.heartbeat.inFlight == 1
        }
        let record = try #require(try await queue.liveWorkers().first)
        #expect(record.heartbeat.session == "s-1")
        #expect(record.heartbeat.host == "pod-9")
        #expect(record.heartbeat.handler == "gated")
        #expect(record.heartbeat.held >= 1 && record.heartbeat.completed == 0)
        #expect(record.heartbeat.startedAtMilliseconds > 1_700_000_000_000, "wall-clock ms since the epoch")
        #expect(record.expiresIn <= .seconds(3), "the record lives three intervals")
        #expect(try await queue.counts().workers == 1)
        gate.open()
        try await WorkerTests.drive(clock) { running.isFinished }
        #expect(try await running.task.value.completed == 2)
        #expect(try await queue.liveWorkers().isEmpty, "the record outlived a clean exit")
    }

    @Test func noRecordWithoutAnInterval() async throws {
        let clock = TestClock()
        let queue = InMemoryQueue(items: ["a"], clock: clock)
        let gate = Gate()
        let worker = try Worker(backend: queue, handler: GatedHandler(gate: gate),
                                options: WorkerTests.options { $0.heartbeatInterval = nil }, clock: clock)
        let running = WorkerTests.Running(worker)
        try await WorkerTests.settle { queue.processingItems.count == 1 }
        #expect(try await queue.liveWorkers().isEmpty)
        gate.open()
        try await WorkerTests.drive(clock) { running.isFinished }
    }
}

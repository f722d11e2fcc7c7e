import CoreMetrics
import MetricsTestKit
import Testing
import WorkQueue
import WorkQueueTesting

/// Every metric of ``WorkerMetrics``, counted through a test factory handed to the worker.
@Suite struct WorkerMetricsTests {
    static let labels = [("queue", "jobs"), ("handler", "test")]

    static func options(_ metrics: TestMetrics, _ change: (inout WorkerOptions) -> Void = { _ in }) -> WorkerOptions {
        WorkerTests.options {
            $0.metricsLabels = labels
            $0.metricsFactory = metrics
            change(&$0)
        }
    }

    static func total(_ metrics: TestMetrics, _ name: String) -> Int64 {
        metrics.counterTotal(label: name, dimensions: labels)
    }

    @Test func completionsFailuresRetriesAndDeadLettersAreCounted() async throws {
        let metrics = TestMetrics()
        var harness = HandlerHarness(ClosureHandler { item, _ in
            if item == "bad" { throw WorkerTests.Boom() }
            return "fine"
        })
        harness.options = Self.options(metrics) { $0.maxAttempts = 3 }
        let report = try await harness.run(["bad", "good"])
        #expect(report.summary.completed == 1)
        #expect(Self.total(metrics, WorkerMetrics.Name.leased) == 4)
        #expect(Self.total(metrics, WorkerMetrics.Name.completed) == 1)
        #expect(Self.total(metrics, WorkerMetrics.Name.failed) == 3)
        #expect(Self.total(metrics, WorkerMetrics.Name.retried) == 2)
        #expect(Self.total(metrics, WorkerMetrics.Name.deadLettered) == 1)
        #expect(Self.total(metrics, WorkerMetrics.Name.released) == 0)
        #expect(Self.total(metrics, WorkerMetrics.Name.leasesLost) == 0)
        let handler = try metrics.expectTimer(WorkerMetrics.Name.handlerDuration, Self.labels)
        #expect(handler.values.count == 4)
        let settle = try metrics.expectTimer(WorkerMetrics.Name.leaseToSettle, Self.labels)
        #expect(settle.values.count == 4)
        #expect(settle.values.allSatisfy { $0 >= 0 })
        let inFlight = try metrics.expectGauge(WorkerMetrics.Name.inFlight, Self.labels)
        #expect(inFlight.lastValue == 0)
        let buffered = try metrics.expectGauge(WorkerMetrics.Name.buffered, Self.labels)
        #expect(buffered.lastValue == 0)
    }

    @Test func aLostLeaseAndItsRecoveryAreCounted() async throws {
        let metrics = TestMetrics()
        let clock = TestClock()
        let queue = InMemoryQueue(items: ["stuck"], clock: clock)
        let log = WorkerTests.EventLog()
        let handler = ClosureHandler { _, context in
            if context.attempt == 1 {
                for _ in 0..<5_000 where !context.isCancelled { try await Task.sleep(for: .milliseconds(1)) }
                try context.checkCancellation()
            }
            return "attempt \(context.attempt)"
        }
        let worker = try Worker(backend: queue, handler: handler, options: Self.options(metrics), clock: clock, events: log.append)
        let running = WorkerTests.Running(worker)
        try await WorkerTests.settle { log.count { if case .leased = $0 { true } else { false } } == 1 }
        await clock.advance(by: .seconds(31))
        try await WorkerTests.drive(clock) { running.isFinished }
        let summary = try await running.task.value
        #expect(summary.leaseLost == 1)
        #expect(Self.total(metrics, WorkerMetrics.Name.leasesLost) == 1)
        #expect(Self.total(metrics, WorkerMetrics.Name.recovered) == 1)
        #expect(Self.total(metrics, WorkerMetrics.Name.completed) == 1)
        #expect(Self.total(metrics, WorkerMetrics.Name.leased) == 2)
    }

    @Test func aShutdownsReleasesAreCounted() async throws {
        let metrics = TestMetrics()
        let clock = TestClock()
        let queue = InMemoryQueue(items: ["busy", "waiting"], clock: clock)
        let log = WorkerTests.EventLog()
        let handler = ClosureHandler { _, context in
            for _ in 0..<5_000 where !context.isCancelled { try await Task.sleep(for: .milliseconds(1)) }
            try context.checkCancellation()
            return nil
        }
        let options = Self.options(metrics) { $0.shutdownGracePeriod = .seconds(1) }
        let worker = try Worker(backend: queue, handler: handler, options: options, clock: clock, events: log.append)
        let running = WorkerTests.Running(worker)
        try await WorkerTests.settle { log.count { if case .leased = $0 { true } else { false } } == 1 }
        worker.shutdown()
        try await WorkerTests.drive(clock) { running.isFinished }
        let summary = try await running.task.value
        #expect(summary.released >= 1)
        #expect(Self.total(metrics, WorkerMetrics.Name.released) == Int64(summary.released))
        #expect(Self.total(metrics, WorkerMetrics.Name.completed) == 0)
    }

    @Test func backendErrorsAreCounted() async throws {
        let metrics = TestMetrics()
        let clock = TestClock()
        let queue = InMemoryQueue(items: ["a"], clock: clock)
        let backend = BackendOutageTests.FlakyBackend(queue, failures: 3)
        let worker = try Worker(backend: backend, handler: ClosureHandler { _, _ in "ok" },
                                options: Self.options(metrics), clock: clock)
        let running = WorkerTests.Running(worker)
        try await WorkerTests.drive(clock) { running.isFinished }
        _ = try await running.task.value
        #expect(Self.total(metrics, WorkerMetrics.Name.backendErrors) >= 6)
        #expect(Self.total(metrics, WorkerMetrics.Name.completed) == 1)
    }

    @Test func withoutAFactoryTheRunnerUsesTheBootstrappedOneAndStillWorks() async throws {
        let report = try await HandlerHarness(ClosureHandler { _, _ in "ok" }).run(["x"])
        #expect(report.summary.completed == 1)
    }
}

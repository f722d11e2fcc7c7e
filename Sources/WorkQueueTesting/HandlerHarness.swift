import Logging
import Synchronization
import WorkQueue

/// Runs a handler over a list of items on an ``InMemoryQueue`` with the real runner, and tells
/// what happened: the five-line unit test for a handler.
///
/// ```swift
/// @Test func shouts() async throws {
///     let report = try await HandlerHarness(Shout()).run(["a", "b"])
///     #expect(report.results == ["a": "A", "b": "B"])
///     #expect(report.deadLetters.isEmpty)
/// }
/// ```
///
/// By default failed items are retried at once (no backoff waits) up to 3 attempts.
public struct HandlerHarness: Sendable {
    /// The runner settings used; change them before ``run(_:)``.
    public var options: WorkerOptions
    private let handler: any WorkHandler

    /// A harness for `handler`, with `maxAttempts` 3, immediate retries and concurrency 1.
    public init(_ handler: any WorkHandler, options: [String: String] = [:]) {
        self.handler = handler
        var workerOptions = WorkerOptions()
        workerOptions.maxAttempts = 3
        workerOptions.retry = .immediate
        workerOptions.idlePollInterval = .milliseconds(5)
        workerOptions.handlerOptions = options
        self.options = workerOptions
    }

    /// Pushes `items`, runs the worker until the queue is drained, and reports.
    public func run(_ items: [WorkItem]) async throws -> HarnessReport {
        let queue = InMemoryQueue(items: items)
        let collected = Mutex<[WorkerEvent]>([])
        let worker = try Worker(
            backend: queue,
            handler: handler,
            options: options,
            logger: Logger(label: "workqueue.harness"),
            events: { event in collected.withLock { $0.append(event) } }
        )
        let summary = try await worker.runUntilStopped()
        return HarnessReport(
            events: collected.withLock { $0 },
            deadLetters: try await queue.deadLetters(),
            summary: summary
        )
    }
}

/// What a ``HandlerHarness`` run did.
public struct HarnessReport: Sendable {
    /// Every runner event, in order.
    public let events: [WorkerEvent]
    /// The dead-lettered items with their last errors.
    public let deadLetters: [DeadLetter]
    /// The runner's counts.
    public let summary: WorkerSummary

    /// The result of each completed item (an item that returned nil maps to "").
    public var results: [WorkItem: String] {
        var results: [WorkItem: String] = [:]
        for case let .completed(lease, result) in events { results[lease.item] = result ?? "" }
        return results
    }

    /// The completed items, in completion order.
    public var completed: [WorkItem] {
        events.compactMap { if case let .completed(lease, _) = $0 { lease.item } else { nil } }
    }

    /// Every failed attempt: item, attempt number and error message, in order.
    public var failures: [(item: WorkItem, attempt: Int, error: String)] {
        events.compactMap {
            if case let .failed(lease, error, _) = $0 { (lease.item, lease.attempt, error) } else { nil }
        }
    }

    /// The items dead-lettered.
    public var deadLettered: [WorkItem] { deadLetters.map(\.item) }
}

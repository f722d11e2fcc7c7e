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
/// A `TypedWorkHandler` takes typed values: ``run(typed:)`` encodes them as JSON items, and
/// ``HarnessReport/results(as:)`` decodes what each one returned.
///
/// ```swift
/// @Test func countsWords() async throws {
///     let report = try await HandlerHarness(WordCount()).run(typed: [
///         WordCount.Input(text: "to be or not to be"),
///         WordCount.Input(text: ""),
///     ])
///     #expect(try report.results(as: WordCount.Output.self) == [
///         WordCount.Output(words: 6),
///         WordCount.Output(words: 0),
///     ])
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
            items: items,
            events: collected.withLock { $0 },
            deadLetters: try await queue.deadLetters(),
            summary: summary,
            completionRecords: queue.completionRecords
        )
    }

    /// Pushes each of `inputs` as a JSON item (`TypedItem.encode`, what a typed producer
    /// pushes), runs the worker until the queue is drained, and reports. An input of another
    /// type than the handler's `Input` (a dictionary, say) makes a malformed item.
    public func run<Input: Encodable>(typed inputs: [Input]) async throws -> HarnessReport {
        try await run(inputs.map { try TypedItem.encode($0) })
    }
}

/// What a ``HandlerHarness`` run did.
public struct HarnessReport: Sendable {
    /// The items pushed, in order.
    public let items: [WorkItem]
    /// Every runner event, in order.
    public let events: [WorkerEvent]
    /// The dead-lettered items with their last errors.
    public let deadLetters: [DeadLetter]
    /// The runner's counts.
    public let summary: WorkerSummary
    /// The completion records the queue kept, oldest first: one per completion whose handler
    /// returned a result (none for nil), what `workqueue results` would export.
    public let completionRecords: [CompletionRecord]

    /// The result of each completed item (an item that returned nil maps to "").
    public var results: [WorkItem: String] {
        var results: [WorkItem: String] = [:]
        for case let .completed(lease, result) in events { results[lease.item] = result ?? "" }
        return results
    }

    /// The result of each pushed item decoded from JSON as `type` (`TypedItem.decodeResult`),
    /// in the order pushed: nil for an item that did not complete or stored no result.
    public func results<Output: Decodable>(as type: Output.Type) throws -> [Output?] {
        var stored: [WorkItem: String] = [:]
        for case let .completed(lease, result?) in events { stored[lease.item] = result }
        return try items.map { item in try stored[item].map { try TypedItem.decodeResult(type, from: $0) } }
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

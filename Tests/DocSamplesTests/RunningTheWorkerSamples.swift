// The samples of WorkQueue.docc: the landing page (WorkQueue.md). scripts/docs checks that
// every line of each ```swift block there (imports aside) appears here as it is.
import Logging
import ServiceLifecycle
import Testing
import WorkQueue
import WorkQueueTesting

func work(on backend: any WorkQueueBackend) async throws -> WorkerSummary {
    var options = WorkerOptions()
    options.concurrency = 4
    options.leaseDuration = .seconds(60)
    options.retry = .exponentialJitter(base: .seconds(2))
    let worker = try Worker(backend: backend, handler: Shout(), options: options) { event in
        if case let .failed(lease, error, _) = event { print("\(lease.item) failed: \(error)") }
    }
    return try await worker.runUntilStopped()
}

func workUntilSIGTERM(on backend: any WorkQueueBackend, logger: Logger) async throws {
    let worker = try Worker(backend: backend, handler: Shout(), logger: logger)
    // A drained queue ends the worker, and with it the group; SIGTERM shuts it down gracefully.
    let group = ServiceGroup(configuration: ServiceGroupConfiguration(
        services: [.init(service: worker, successTerminationBehavior: .gracefullyShutdownGroup)],
        gracefulShutdownSignals: [.sigterm],
        logger: logger
    ))
    try await group.run()
}

@Suite struct RunningTheWorkerSamples {
    @Test func drainsAQueue() async throws {
        let summary = try await work(on: InMemoryQueue(items: ["a", "b"]))
        #expect(summary.completed == 2 && summary.stopReason == .drained)
    }

    @Test func drainsAQueueInAServiceGroup() async throws {
        let queue = InMemoryQueue(items: ["a"])
        try await workUntilSIGTERM(on: queue, logger: Logger(label: "docs"))
        #expect(queue.result(for: "a") == "A")
    }
}

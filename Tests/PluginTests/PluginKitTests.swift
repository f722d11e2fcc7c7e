import Logging
import Synchronization
import Testing
import WorkQueue
import WorkQueuePluginKit
import WorkQueuePlugins
import WorkQueueTesting

/// A stand-in Swift handler exported through the C ABI inside the test process (one type per
/// image, as in a plugin .so): the same table a `.dynamic` plugin's entry returns.
struct Shout: NamedWorkHandler {
    static let name = "shout"
    static let summary = "upper-cases items (test stand-in)"
    let suffix: String
    /// How many "wait" items have started.
    static let waiting = Mutex(0)

    init(options: [String: String]) throws {
        for key in options.keys where key != "suffix" {
            throw WorkQueueError.invalidOption(key: key, value: options[key] ?? "", expected: "no such option (only suffix)")
        }
        suffix = options["suffix"] ?? ""
    }

    var execution: HandlerExecution { .dedicatedThread }

    func handle(_ item: WorkItem, context: WorkContext) async throws -> String? {
        switch item.string {
        case "boom":
            throw WorkQueueError.invalidConfiguration("boom on attempt \(context.attempt)")
        case "reject":
            throw UnprocessableItem("shout rejects 'reject' on attempt \(context.attempt)")
        case "wait":
            Shout.waiting.withLock { $0 += 1 }
            // Bounded: 10 000 polls of 1 ms.
            for _ in 0..<10_000 {
                try context.checkCancellation()
                try await Task.sleep(for: .milliseconds(1))
            }
            return "not cancelled"
        case "checkpoint":
            let before = context.checkpoint.map { String(decoding: $0, as: UTF8.self) } ?? "none"
            try context.saveCheckpoint("step 2".utf8)
            context.reportProgress(0.5, note: "halfway")
            return "saved after \(before)"
        case "actor":
            // Hops to another actor and back: the caller-thread executor must resume it.
            return await Counter.shared.next()
        default:
            await Task.yield()
            return item.string.uppercased() + suffix + " (session \(context.session))"
        }
    }
}

actor Counter {
    static let shared = Counter()
    private var value = 0
    func next() -> String {
        value += 1
        return "count \(value)"
    }
}

@Suite struct PluginKitTests {
    private func loadShout(_ options: [String: String] = [:]) throws -> PluginHandler {
        try PluginLoader.wrap(table: PluginExport.table(for: Shout.self), origin: "in-process shout", options: options)
    }

    @Test func exportsNameSummaryAndResults() async throws {
        let handler = try loadShout(["suffix": "!"])
        #expect(handler.name == "shout")
        #expect(handler.summary == "upper-cases items (test stand-in)")
        #expect(try await handler.handle("hi", context: makeContext()) == "HI! (session test-session)")
        #expect(try await handler.handle("actor", context: makeContext())?.hasPrefix("count ") == true)
    }

    @Test func swiftHandlerServesConcurrentSlots() async throws {
        var harness = HandlerHarness(try loadShout())
        harness.options.concurrency = 4
        let items = (0..<40).map { WorkItem("item \($0)") }
        let report = try await harness.run(items)
        #expect(Set(report.completed) == Set(items))
        #expect(report.deadLetters.isEmpty)
    }

    @Test func progressAndCheckpointsCrossTheABIToTheHost() async throws {
        let handler = try loadShout()
        let context = WorkContext(attempt: 2, maxAttempts: 3, leaseDeadline: WorkInstant(sinceOrigin: .seconds(60)),
                                  session: "s", options: [:], logger: Logger(label: "plugin-tests"), checkpoint: Array("step 1".utf8))
        #expect(try await handler.handle("checkpoint", context: context) == "saved after step 1")
        #expect(context.progress.savedCheckpoint == Array("step 2".utf8))
        #expect(context.progress.progress?.fraction == 0.5)
        #expect(context.progress.progress?.note == "halfway")
        let first = makeContext()
        #expect(try await handler.handle("checkpoint", context: first) == "saved after none")
        #expect(first.progress.unstoredCheckpoint()?.bytes == Array("step 2".utf8))
    }

    @Test func tableIsBuiltOnce() {
        #expect(PluginExport.table(for: Shout.self) == PluginExport.table(for: Shout.self))
    }

    @Test func optionErrorsBecomeCreateFailures() throws {
        #expect {
            try loadShout(["loud": "yes"])
        } throws: { error in
            guard case let .createFailed(origin, message) = error as? PluginError else { return false }
            return origin == "in-process shout" && message.contains("loud=yes")
        }
    }

    @Test func thrownErrorsAreRetriedThenDeadLettered() async throws {
        let report = try await HandlerHarness(try loadShout()).run(["a", "boom"])
        #expect(report.completed.map(\.string) == ["a"])
        #expect(report.failures.map(\.error) == [
            "invalid configuration: boom on attempt 1",
            "invalid configuration: boom on attempt 2",
            "invalid configuration: boom on attempt 3",
        ])
        #expect(report.deadLettered == ["boom"])
    }

    @Test func unprocessableItemsCrossTheABIAndAreDeadLetteredAtOnce() async throws {
        await #expect(throws: UnprocessableItem("shout rejects 'reject' on attempt 1")) {
            _ = try await loadShout().handle("reject", context: makeContext())
        }
        let report = try await HandlerHarness(try loadShout()).run(["a", "reject"])
        #expect(report.completed.map(\.string) == ["a"])
        #expect(report.failures.map(\.attempt) == [1])
        // The same dead letter as the handler compiled in: no second "unprocessable item:".
        #expect(report.deadLetters == [
            DeadLetter(item: "reject", lastError: "unprocessable item: shout rejects 'reject' on attempt 1", attempts: 1),
        ])
    }

    @Test func hostCancellationReachesTheSwiftHandler() async throws {
        let handler = try loadShout()
        let flag = CancellationFlag()
        let before = Shout.waiting.withLock { $0 }
        let thread = TestThreadExecutor()
        defer { thread.finish() }
        let call = Task(executorPreference: thread) { try await handler.handle("wait", context: makeContext(cancellation: flag)) }
        // Cancel only once the handler runs, so the host's watcher (not its first check) must
        // carry the flag across the C boundary. Bounded wait.
        for _ in 0..<10_000 where Shout.waiting.withLock({ $0 }) == before {
            try await Task.sleep(for: .milliseconds(1))
        }
        flag.cancel(.shutdown)
        await #expect(throws: WorkCancelled.self) { _ = try await call.value }
    }
}

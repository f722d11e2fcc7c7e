// The samples of WorkQueueTesting.docc: the article "Testing handlers" (TestingHandlers.md).
// scripts/docs checks that every line of each ```swift block there (imports aside) appears
// here as it is. `Shout` and `WordCount` are the handlers of WritingHandlersSamples.swift.
import Synchronization
import Testing
import WorkQueue
import WorkQueueTesting

@Suite struct TestingHandlersSamples {
    // "The harness".
    @Test func shouts() async throws {
        let report = try await HandlerHarness(Shout()).run(["a", "b"])
        #expect(report.results == ["a": "A", "b": "B"])
        #expect(report.deadLetters.isEmpty)
    }

    // "Typed items".
    @Test func countsWords() async throws {
        let report = try await HandlerHarness(WordCount()).run(typed: [
            WordCount.Input(text: "to be or not to be"),
            WordCount.Input(text: ""),
        ])
        #expect(try report.results(as: WordCount.Output.self) == [
            WordCount.Output(words: 6),
            WordCount.Output(words: 0),
        ])
    }

    @Test func deadLettersAnItemThatDoesNotDecode() async throws {
        let report = try await HandlerHarness(WordCount()).run(typed: [["txt": "oops"]])
        let deadLetter = try #require(report.deadLetters.first)
        #expect(deadLetter.lastError?.contains("missing key 'text'") == true)
        #expect(report.failures.count == 1, "dead-lettered on its first attempt")
    }

    // "Failures and dead letters".
    @Test func retriesAndDeadLetters() async throws {
        var harness = HandlerHarness(Doubler())
        harness.options.maxAttempts = 2
        let report = try await harness.run(["21", "x", "-1"])
        #expect(report.results == ["21": "42"])
        // "x" is dead-lettered at once, "-1" after its second attempt.
        #expect(report.deadLettered == ["x", "-1"])
        #expect(report.failures.map(\.attempt) == [1, 1, 2])
        #expect(report.deadLetters[0].lastError?.contains("not an integer") == true)
        #expect(report.summary.retried == 1)
    }

    // "Time: leases and retries on a test clock".
    @Test func anExpiredLeaseComesBack() async throws {
        let clock = TestClock()
        let queue = InMemoryQueue(items: ["a"], clock: clock)
        // A worker takes the item and dies without settling it.
        _ = try await queue.lease(max: 1, session: "crashed", duration: .seconds(30))
        await clock.advance(by: .seconds(29))
        #expect(try await queue.recoverExpiredLeases(maxAttempts: 3).requeued == 0)
        await clock.advance(by: .seconds(1))
        #expect(try await queue.recoverExpiredLeases(maxAttempts: 3).requeued == 1)
        #expect(queue.pendingItems == ["a"])
        #expect(queue.attempts(for: "a") == 1)
    }

    @Test func aFailedItemWaitsForItsRetry() async throws {
        let clock = TestClock()
        let queue = InMemoryQueue(items: ["a"], clock: clock)
        let lease = try #require(try await queue.lease(max: 1, session: "s", duration: .seconds(30)).first)
        #expect(try await queue.fail(lease, error: "timed out", disposition: .retry(after: .seconds(10))) == .settled)
        #expect(try await queue.promoteDueRetries() == 0)
        await clock.advance(by: .seconds(10))
        #expect(try await queue.promoteDueRetries() == 1)
        #expect(queue.lastError(for: "a") == "timed out")
    }

    // "The real worker".
    @Test func theWorkerDrainsTheQueue() async throws {
        let queue = InMemoryQueue(items: ["a", "b", "c"])
        let events = Mutex<[WorkerEvent]>([])
        var options = WorkerOptions()
        options.concurrency = 2
        let worker = try Worker(backend: queue, handler: Shout(), options: options,
                                events: { event in events.withLock { $0.append(event) } })
        let summary = try await worker.runUntilStopped()
        #expect(summary.completed == 3 && summary.stopReason == .drained)
        #expect(queue.result(for: "b") == "B")
        #expect(events.withLock { $0.count } == 6, "leased and completed, for each item")
    }

    @Test func theWorkerWaitsForTheBackoff() async throws {
        let clock = TestClock()
        let queue = InMemoryQueue(items: ["flaky"], clock: clock)
        var options = WorkerOptions()
        options.retry = .constant(.seconds(60))
        let worker = try Worker(backend: queue, handler: FailsTheFirstTime(), options: options, clock: clock)
        let run = Task { try await worker.runUntilStopped() }
        // Move time on, a second at a time, until the retry has run.
        for _ in 0..<600 where queue.result(for: "flaky") == nil {
            await clock.advance(by: .seconds(1))
            try await Task.sleep(for: .milliseconds(1))
        }
        let summary = try await run.value
        #expect(summary.retried == 1 && summary.completed == 1)
        #expect(clock.now >= WorkInstant(sinceOrigin: .seconds(60)))
    }
}

// "Failures and dead letters".
struct Doubler: WorkHandler {
    func handle(_ item: WorkItem, context: WorkContext) async throws -> String? {
        guard let number = Int(item.string) else {
            throw UnprocessableItem("'\(item.escaped)' is not an integer")
        }
        guard number >= 0 else { throw NegativeNumber() }
        return String(number * 2)
    }
}

struct NegativeNumber: Error {}

// "The real worker".
struct FailsTheFirstTime: WorkHandler {
    func handle(_ item: WorkItem, context: WorkContext) async throws -> String? {
        if context.attempt == 1 { throw TryAgain() }
        return "done"
    }
}

struct TryAgain: Error {}

import Testing
import WorkQueue
import WorkQueueContract
import WorkQueueTesting

/// The in-memory fake on a manual clock: time passes only when the contract says so.
struct InMemoryFixture: ContractFixture {
    let clock = TestClock()
    let queue: InMemoryQueue
    let bounded: InMemoryQueue

    init() {
        queue = InMemoryQueue(clock: clock)
        bounded = InMemoryQueue(clock: clock, resultsMax: 3)
    }

    var boundedResults: (any WorkQueueBackend & CompletionLog)? { bounded }

    var backend: any WorkQueueBackend & DeadLetterQueue { queue }
    var shortLease: Duration { .seconds(10) }

    func advance(by duration: Duration) async throws { await clock.advance(by: duration) }

    func loseNextExchangeReply() -> Bool {
        queue.loseNextExchangeReply()
        return true
    }
}

@Test(arguments: BackendContract.cases(for: InMemoryFixture.self))
func inMemoryContract(_ contractCase: ContractCase) async throws {
    try await contractCase.run(InMemoryFixture())
}

/// The in-memory fake behind `PlainForwardingBackend`, the base of the runner tests' wrapping
/// backends: every requirement and ability is forwarded, the exchange included.
struct ForwardingFixture: ContractFixture {
    let inner = InMemoryFixture()
    let forwarding: PlainForwardingBackend
    let bounded: PlainForwardingBackend

    init() {
        forwarding = PlainForwardingBackend(inner.queue)
        bounded = PlainForwardingBackend(inner.bounded)
    }

    var boundedResults: (any WorkQueueBackend & CompletionLog)? { bounded }
    var backend: any WorkQueueBackend & DeadLetterQueue { forwarding }
    var shortLease: Duration { inner.shortLease }
    func advance(by duration: Duration) async throws { try await inner.advance(by: duration) }
    func loseNextExchangeReply() -> Bool { inner.loseNextExchangeReply() }
}

@Test(arguments: BackendContract.cases(for: ForwardingFixture.self))
func forwardingContract(_ contractCase: ContractCase) async throws {
    try await contractCase.run(ForwardingFixture())
}

/// A backend with only the seven requirements (and dead letters): the cases that need an
/// ability run nowhere here and are reported as skipped; the others pass.
@Test(arguments: BackendContract.cases(for: BareFixture.self))
func bareBackendContract(_ contractCase: ContractCase) async throws {
    try await contractCase.run(BareFixture())
}

@Test(.disabled(BackendContract.skipReason(for: BareFixture.self)),
      arguments: BackendContract.skippedCases(for: BareFixture.self))
func bareBackendContractSkipped(_ contractCase: ContractCase) async throws {
    try await contractCase.run(BareFixture())
}

/// Forwards the seven requirements of the seam and dead letters (the fixture's minimum), nothing else.
final class BareBackend: SeamForwarding, Sendable {
    let inner: InMemoryQueue
    init(_ inner: InMemoryQueue) { self.inner = inner }
}

struct BareFixture: ContractFixture {
    static var offers: Set<ContractNeed> { [.sizeLimit] }
    let clock = TestClock()
    let bare: BareBackend
    init() { bare = BareBackend(InMemoryQueue(clock: clock)) }
    var backend: any WorkQueueBackend & DeadLetterQueue { bare }
    var shortLease: Duration { .seconds(10) }
    func advance(by duration: Duration) async throws { await clock.advance(by: duration) }
}

@Suite struct InMemoryQueueInspectionTests {
    @Test func inspectionReflectsState() async throws {
        let clock = TestClock()
        let queue = InMemoryQueue(items: ["a", "b", "c"], clock: clock)
        #expect(queue.pendingItems == ["a", "b", "c"])
        let leases = try await queue.lease(max: 2, session: "s", duration: .seconds(5))
        #expect(queue.processingItems == ["a", "b"])
        #expect(try await queue.complete(leases[0], result: "done a") == .settled)
        #expect(queue.result(for: "a") == "done a")
        #expect(try await queue.fail(leases[1], error: "bad b", disposition: .retry(after: .seconds(1))) == .settled)
        #expect(queue.attempts(for: "b") == 1)
        #expect(queue.lastError(for: "b") == "bad b")
        #expect(try await queue.counts().scheduled == 1)
        #expect(queue.processingItems.isEmpty)
    }

    @Test func crashedWorkerLeaseExpiresWithTheClock() async throws {
        let clock = TestClock()
        let queue = InMemoryQueue(items: ["a"], clock: clock)
        _ = try await queue.lease(max: 1, session: "crashed", duration: .seconds(5))
        #expect(try await queue.recoverExpiredLeases(maxAttempts: 3) == RecoveryReport())
        await clock.advance(by: .seconds(4))
        #expect(try await queue.counts().leased == 1)
        await clock.advance(by: .seconds(1))
        #expect(try await queue.counts().leased == 0)
        #expect(try await queue.recoverExpiredLeases(maxAttempts: 3) == RecoveryReport(requeued: 1))
        #expect(queue.pendingItems == ["a"])
        #expect(queue.attempts(for: "a") == 1)
    }

    @Test func expiredButUnrecoveredLeaseStillSettles() async throws {
        let clock = TestClock()
        let queue = InMemoryQueue(items: ["slow"], clock: clock)
        let lease = try #require(try await queue.lease(max: 1, session: "s", duration: .seconds(5)).first)
        await clock.advance(by: .seconds(6))
        #expect(try await queue.renew([lease], duration: .seconds(5)) == [false])
        #expect(try await queue.complete(lease, result: "late but fine") == .settled)
        #expect(queue.result(for: "slow") == "late but fine")
        #expect(try await queue.counts().completed == 1)
        #expect(try await queue.recoverExpiredLeases(maxAttempts: 3) == RecoveryReport())
    }

    @Test func waitForWorkWaitsForTheTestClock() async throws {
        let clock = TestClock()
        let queue = InMemoryQueue(clock: clock)
        let waiter = Task { try await queue.waitForWork(timeout: .seconds(30)) }
        #expect(await clock.waitForSleepers(atLeast: 1))
        await clock.advance(by: .seconds(29))
        #expect(clock.sleeperCount == 1)
        await clock.advance(by: .seconds(1))
        try await waiter.value
        #expect(clock.sleeperCount == 0)
    }

    @Test func waitForWorkWakesOnReleaseAndIsCancellable() async throws {
        let clock = TestClock()
        let queue = InMemoryQueue(items: ["a"], clock: clock)
        let lease = try #require(try await queue.lease(max: 1, session: "s", duration: .seconds(5)).first)
        let waiter = Task { try await queue.waitForWork(timeout: .seconds(30)) }
        #expect(await clock.waitForSleepers(atLeast: 1))
        #expect(try await queue.release(lease) == .settled)
        try await waiter.value

        // Cancellation, on an empty queue (with work pending, waitForWork may return at once).
        let empty = InMemoryQueue(clock: clock)
        let cancelled = Task { try await empty.waitForWork(timeout: .seconds(30)) }
        #expect(await clock.waitForSleepers(atLeast: 1))
        cancelled.cancel()
        await #expect(throws: CancellationError.self) { try await cancelled.value }
    }
}

/// The harness reports the completion records its queue kept, as `workqueue results` would.
@Suite struct HarnessCompletionRecordTests {
    struct Echo: WorkHandler {
        func handle(_ item: WorkItem, context: WorkContext) async throws -> String? {
            item.string == "quiet" ? nil : "got " + item.string
        }
    }

    @Test func oneRecordPerCompletionWithAResult() async throws {
        let report = try await HandlerHarness(Echo()).run(["a", "quiet", "a", "b"])
        #expect(report.completionRecords.map(\.item) == ["a", "a", "b"], "equal items twice, none for nil")
        #expect(report.completionRecords.map(\.result) == ["got a", "got a", "got b"])
        #expect(report.completionRecords.allSatisfy { $0.attempt == 1 && !$0.worker.isEmpty })
    }
}

/// The runner needs the seven requirements alone: over a backend with no ability protocol (no
/// pause or cancel, no worker records) it works the queue and exits drained, its heartbeat
/// and cancel checks skipped rather than failing.
@Suite struct BareBackendWorkerTests {
    @Test func aWorkerDrainsABackendWithoutAbilities() async throws {
        let clock = TestClock()
        let queue = InMemoryQueue(items: ["a", "b", "c"], clock: clock)
        let backend = BareBackend(queue)
        #expect(!(backend is any QueueControlling) && !(backend is any WorkerRecords))
        let worker = try Worker(backend: backend, handler: ClosureHandler { item, _ in "done " + item.string },
                                options: WorkerTests.options(), clock: clock)
        let running = WorkerTests.Running(worker)
        try await WorkerTests.drive(clock) { running.isFinished }
        let summary = try await running.task.value
        #expect(summary.completed == 3)
        #expect(summary.stopReason == .drained)
        #expect(queue.result(for: "b") == "done b")
        #expect(try await queue.counts().isDrained)
    }
}

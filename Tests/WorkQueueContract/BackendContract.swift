import Synchronization
import Testing
import WorkQueue

/// What a case of the contract needs beyond the seven requirements: an ability protocol of the
/// backend, or something of the fixture.
public enum ContractNeed: String, Sendable, Hashable, CaseIterable {
    /// `QueueControlling` and `CancelledItemsReading`.
    case control
    /// `WorkerRecords`.
    case workerRecords
    /// `QueueRecovery`.
    case recovery
    /// `CompletionLog`.
    case completionLog
    /// ``ContractFixture/loseNextExchangeReply()`` works.
    case lostReply
    /// ``ContractFixture/boundedResults`` is set.
    case boundedResults
    /// ``ContractFixture/maxItemBytes`` is set.
    case sizeLimit
    /// `EnqueueingWithOptions` (delayed and unique pushes).
    case enqueueOptions
    /// `PushTraceStore`.
    case pushTraces
}

/// What a backend's test file provides to run the shared contract: a fresh, empty queue and a
/// way to make time pass for it.
public protocol ContractFixture: Sendable {
    /// What this fixture offers of what cases may need (default: everything). A case that needs
    /// more is not run: ``BackendContract/cases(for:)`` leaves it out and
    /// ``BackendContract/skippedCases(for:)`` lists it, for a test marked `.disabled`, so that
    /// the report shows it as skipped. A case run anyway fails; none passes without checking.
    static var offers: Set<ContractNeed> { get }
    /// A fresh, empty queue (one fixture per case).
    var backend: any WorkQueueBackend & DeadLetterQueue { get }
    /// Makes `duration` pass for the backend (a TestClock advance, or a real sleep for Redis).
    func advance(by duration: Duration) async throws
    /// The shortest lease the backend honours reliably (Redis: ~200 ms; fake: any).
    var shortLease: Duration { get }
    /// Makes the backend's next ``WorkQueueBackend/exchange(_:lease:session:duration:)`` take
    /// effect and then throw, as if its reply had been lost; false where the fixture cannot
    /// (it then does not offer ``ContractNeed/lostReply``).
    func loseNextExchangeReply() -> Bool
    /// Another fresh, empty queue of the same backend whose completion records are bounded to
    /// 3 (`resultsMax`), or nil where the fixture has none (it then does not offer
    /// ``ContractNeed/boundedResults``).
    var boundedResults: (any WorkQueueBackend & CompletionLog)? { get }
    /// The backend's item size limit (a take dead-letters longer items), or nil where it has
    /// none. Default: 4 MiB, Redis's and the fake's.
    var maxItemBytes: Int? { get }
}

extension ContractFixture {
    public static var offers: Set<ContractNeed> { Set(ContractNeed.allCases) }
    public var maxItemBytes: Int? { 4 << 20 }
    public func loseNextExchangeReply() -> Bool { false }
    public var boundedResults: (any WorkQueueBackend & CompletionLog)? { nil }
}

/// One rule of the backend contract, runnable against any ``ContractFixture``.
public struct ContractCase: Sendable, CustomTestStringConvertible {
    /// A short name of the rule, shown as the test argument.
    public let name: String
    /// What the case needs beyond the seven requirements.
    public let needs: Set<ContractNeed>
    private let body: @Sendable (any ContractFixture) async throws -> Void

    init(_ name: String, needs: Set<ContractNeed> = [], _ body: @escaping @Sendable (any ContractFixture) async throws -> Void) {
        self.name = name
        self.needs = needs
        self.body = body
    }

    public var testDescription: String { name }

    /// Runs the rule against `fixture`, recording expectations in the current test. Fails at
    /// once when the fixture does not offer what the case needs (select the cases with
    /// ``BackendContract/cases(for:)``).
    public func run(_ fixture: any ContractFixture) async throws {
        let missing = needs.subtracting(type(of: fixture).offers)
        try #require(missing.isEmpty, "the fixture does not offer \(missing.map(\.rawValue).sorted()): select cases with BackendContract.cases(for:)")
        try await body(fixture)
    }
}

/// The contract every `WorkQueueBackend` passes. Use it as
/// `@Test(arguments: BackendContract.cases(for: MyFixture.self)) func contract(_ c: ContractCase) async throws { try await c.run(MyFixture()) }`,
/// and, when the fixture does not offer everything, list the rest as skipped:
/// `@Test(.disabled("..."), arguments: BackendContract.skippedCases(for: MyFixture.self)) func skipped(_ c: ContractCase) {}`.
public enum BackendContract {
    /// The cases `fixture` offers everything for.
    public static func cases(for fixture: any ContractFixture.Type) -> [ContractCase] {
        cases.filter { $0.needs.isSubset(of: fixture.offers) }
    }

    /// The cases that need what `fixture` does not offer: to be reported as skipped.
    public static func skippedCases(for fixture: any ContractFixture.Type) -> [ContractCase] {
        cases.filter { !$0.needs.isSubset(of: fixture.offers) }
    }

    /// Why ``skippedCases(for:)`` are skipped, naming each with what it needs, for the
    /// `.disabled` trait of the test that lists them.
    public static func skipReason(for fixture: any ContractFixture.Type) -> Comment {
        let lines = skippedCases(for: fixture).map { "\($0.name) (needs \($0.needs.subtracting(fixture.offers).map(\.rawValue).sorted().joined(separator: ", ")))" }
        return Comment(rawValue: "\(fixture) does not offer what \(lines.count) cases need: " + lines.joined(separator: "; "))
    }

    /// Every case of the contract.
    public static let cases: [ContractCase] = [
        ContractCase("FIFO lease order", fifoOrder),
        ContractCase("lease(max:) batches", leaseBatches),
        ContractCase("lease on empty returns nothing", leaseEmpty),
        ContractCase("enqueue returns the pending count", enqueueCount),
        ContractCase("counts after each step", countsAfterEachStep),
        ContractCase("not drained while an item is in processing", notDrainedWhileProcessing),
        ContractCase("renew keeps a lease alive; an unrenewed one expires and is recovered", renewKeepsAlive),
        ContractCase("renew of a lease not owned fails and changes nothing", renewNotOwned),
        ContractCase("complete settles and drains", completeSettles),
        ContractCase("complete after losing the lease to another session", completeAfterLeaseLost),
        ContractCase("fail with retry schedules, promotes when due, counts the attempt", needs: [.recovery], failWithRetry),
        ContractCase("fail with dead letter records item, error and attempts", failDeadLetter),
        ContractCase("retryDeadLetters makes dead items pending with attempts reset", retryDeadLetters),
        ContractCase("purgeDeadLetters deletes dead letters", purgeDeadLetters),
        ContractCase("release puts the item at the head without counting an attempt", release),
        ContractCase("recovery dead-letters an item whose attempts ran out", recoverPoison),
        ContractCase("recovery with nothing expired does nothing", recoverNothingExpired),
        ContractCase("concurrent recoveries never duplicate an item", concurrentRecovery),
        ContractCase("waitForWork returns after an enqueue from another task", waitForWorkWakesOnEnqueue),
        ContractCase("waitForWork returns after its timeout", waitForWorkTimesOut),
        ContractCase("item bytes are preserved exactly", bytesPreserved),
        ContractCase("equal items are both processed", equalItemsBothProcessed),
        ContractCase("exchange takes, then settles, in one call", exchangeTakesAndSettles),
        ContractCase("a take stops once its items reach the byte budget, after at least one", takeByteBudget),
        ContractCase("ten thousand settlements in one exchange all settle", manySettlements),
        ContractCase("an exchange retried after its reply was lost answers what it did", needs: [.lostReply], lostReplyRetried),
        ContractCase("completion records: one per result, in order, equal items twice, none for nil", needs: [.completionLog, .recovery], completionRecords),
        ContractCase("completion records read in pages and deleted by ID", needs: [.completionLog], completionPagesAndDelete),
        ContractCase("a completion whose reply was lost is recorded once", needs: [.completionLog, .lostReply], completionRecordedOnce),
        ContractCase("the results bound keeps the most recent and counts the dropped", needs: [.boundedResults], completionBound),
        ContractCase("heartbeat records a live worker; a refresh replaces it", needs: [.workerRecords], heartbeatRecords),
        ContractCase("a heartbeat record is gone once removed or expired", needs: [.workerRecords], heartbeatEnds),
        ContractCase("pause stops takes, not settlements or renewals; resume takes again", needs: [.control], pauseAndResume),
        ContractCase("a renewal reads the pause and cancel marks in the same step", needs: [.control], renewReadsControl),
        ContractCase("cancel moves pending and scheduled items aside in pages; restore brings them back in order", needs: [.control], cancelAndRestore),
        ContractCase("an item released after a cancel is moved aside by the next cancel", needs: [.control], cancelAfterRelease),
        ContractCase("a cancel page without the mark moves nothing once resumed; a restore page can clear the mark", needs: [.control], cancelPagesAndMark),
        ContractCase("a purged item pushed again starts from attempt 1", needs: [.recovery], purgeResetsAttempts),
        ContractCase("a checkpoint stored with a renewal comes with the next take after a lost lease; completion deletes it",
                     checkpointAfterLostLease),
        ContractCase("a checkpoint survives release and retry; a dead letter deletes it", needs: [.recovery], checkpointSettlements),
        ContractCase("a checkpoint belongs to one copy: an equal item's other copy starts from nothing and keeps it",
                     checkpointPerCopy),
        ContractCase("a release or a failure stores the checkpoint it carries, newer than the last renewal", needs: [.recovery],
                     checkpointWithSettlement),
        ContractCase("a heartbeat record carries handlers' progress", needs: [.workerRecords], heartbeatProgress),
        ContractCase("an exchange settles its completions first, then its failures and releases", settleOrder),
        ContractCase("a take dead-letters an item over the size limit without handing it out", needs: [.sizeLimit], oversizeDeadLettered),
        ContractCase("a take promotes due retries within its own count", takePromotesWithinItsCount),
        ContractCase("maintain promotes due retries and recovers expired leases", maintainPromotesAndRecovers),
        ContractCase("finishIfDrained is false while anything is pending, in processing or scheduled", finishIfDrained),
        ContractCase("a delayed push is scheduled, never taken early, keeps the queue undrained, then pending in order",
                     needs: [.enqueueOptions], delayedPush),
        ContractCase("a unique push skips items pushed within the window: pending, scheduled, in flight or completed",
                     needs: [.enqueueOptions], uniquePush),
        ContractCase("push trace contexts: stored per item value, read in order, forgotten", needs: [.pushTraces], pushTraceContexts),
    ]

    // MARK: Helpers

    /// The backend as one with an ability the case needs (`Controlled.self`, ...): the case
    /// declares the need, so a fixture that offers it and a backend without it fail here.
    private static func able<T>(_ f: any ContractFixture, _: T.Type, _ ability: String,
                                sourceLocation: SourceLocation = #_sourceLocation) throws -> T {
        try #require(f.backend as? T, "the backend has \(ability)", sourceLocation: sourceLocation)
    }

    typealias Controlled = any WorkQueueBackend & QueueControlling & CancelledItemsReading
    typealias Recorded = any WorkQueueBackend & WorkerRecords

    /// One recovery pass: ``QueueRecovery/recoverExpiredLeases(maxAttempts:)`` where the
    /// backend has it, else the requirement ``WorkQueueBackend/maintain(maxAttempts:interval:session:)``
    /// with no interval (which promotes due retries too).
    private static func recoverOnce(_ backend: any WorkQueueBackend, maxAttempts: Int) async throws -> RecoveryReport {
        if let recovery = backend as? any QueueRecovery { return try await recovery.recoverExpiredLeases(maxAttempts: maxAttempts) }
        return try await backend.maintain(maxAttempts: maxAttempts, interval: .zero, session: "contract") ?? RecoveryReport()
    }

    /// Recovers twice (a backend may need to see a lease missing in two passes) and sums.
    private static func recover(_ backend: any WorkQueueBackend, maxAttempts: Int) async throws -> RecoveryReport {
        let first = try await recoverOnce(backend, maxAttempts: maxAttempts)
        let second = try await recoverOnce(backend, maxAttempts: maxAttempts)
        return RecoveryReport(
            requeued: first.requeued + second.requeued,
            deadLettered: first.deadLettered + second.deadLettered
        )
    }

    /// ``QueueRecovery/promoteDueRetries()`` (a case that calls it needs ``ContractNeed/recovery``).
    private static func promote(_ f: any ContractFixture, sourceLocation: SourceLocation = #_sourceLocation) async throws -> Int {
        try await able(f, (any QueueRecovery).self, "promotion on demand (QueueRecovery)", sourceLocation: sourceLocation)
            .promoteDueRetries()
    }

    private static func expectCounts(
        _ backend: any WorkQueueBackend, pending: Int, processing: Int, scheduled: Int = 0, dead: Int = 0,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let counts = try await backend.counts()
        #expect(counts.pending == pending, "pending", sourceLocation: sourceLocation)
        #expect(counts.processing == processing, "processing", sourceLocation: sourceLocation)
        #expect(counts.scheduled == scheduled, "scheduled", sourceLocation: sourceLocation)
        #expect(counts.dead == dead, "dead", sourceLocation: sourceLocation)
    }

    // MARK: Cases

    private static func fifoOrder(_ f: any ContractFixture) async throws {
        let q = f.backend
        try await q.enqueue(["a", "b", "c"])
        var seen: [WorkItem] = []
        for _ in 0..<3 {
            let leases = try await q.lease(max: 1, session: "s1", duration: f.shortLease * 10)
            try #require(leases.count == 1)
            #expect(leases[0].attempt == 1)
            #expect(leases[0].session == "s1")
            seen.append(leases[0].item)
        }
        #expect(seen == ["a", "b", "c"])
    }

    private static func leaseBatches(_ f: any ContractFixture) async throws {
        let q = f.backend
        try await q.enqueue(["1", "2", "3", "4", "5"])
        let first = try await q.lease(max: 3, session: "s1", duration: f.shortLease * 10)
        #expect(first.map(\.item) == ["1", "2", "3"])
        let second = try await q.lease(max: 3, session: "s1", duration: f.shortLease * 10)
        #expect(second.map(\.item) == ["4", "5"])
        try await expectCounts(q, pending: 0, processing: 5)
    }

    private static func leaseEmpty(_ f: any ContractFixture) async throws {
        let leases = try await f.backend.lease(max: 3, session: "s1", duration: f.shortLease)
        #expect(leases.isEmpty)
        try await expectCounts(f.backend, pending: 0, processing: 0)
    }

    private static func enqueueCount(_ f: any ContractFixture) async throws {
        #expect(try await f.backend.enqueue(["a", "b"]) == 2)
        #expect(try await f.backend.enqueue(["c", "d", "e"]) == 5)
    }

    private static func countsAfterEachStep(_ f: any ContractFixture) async throws {
        let q = f.backend
        try await expectCounts(q, pending: 0, processing: 0)
        try await q.enqueue(["a", "b", "c"])
        try await expectCounts(q, pending: 3, processing: 0)
        let leases = try await q.lease(max: 2, session: "s1", duration: f.shortLease * 10)
        try #require(leases.count == 2)
        try await expectCounts(q, pending: 1, processing: 2)
        let leased = try await q.counts().leased
        if let leased { #expect(leased == 2) }
        #expect(try await q.complete(leases[0], result: nil) == .settled)
        try await expectCounts(q, pending: 1, processing: 1)
        #expect(try await q.fail(leases[1], error: "boom", disposition: .deadLetter) == .settled)
        try await expectCounts(q, pending: 1, processing: 0, dead: 1)
        if let completed = try await q.counts().completed { #expect(completed == 1) }
    }

    private static func notDrainedWhileProcessing(_ f: any ContractFixture) async throws {
        let q = f.backend
        try await q.enqueue(["a"])
        let lease = try #require(try await q.lease(max: 1, session: "s1", duration: f.shortLease * 10).first)
        let during = try await q.counts()
        #expect(during.pending == 0)
        #expect(!during.isDrained)
        #expect(try await q.complete(lease, result: "ok") == .settled)
        #expect(try await q.counts().isDrained)
    }

    private static func renewKeepsAlive(_ f: any ContractFixture) async throws {
        let q = f.backend
        try await q.enqueue(["kept", "dropped"])
        let leases = try await q.lease(max: 2, session: "s1", duration: f.shortLease)
        try #require(leases.count == 2)
        let kept = leases[0]
        let dropped = leases[1]
        for _ in 0..<4 {
            try await f.advance(by: f.shortLease / 2)
            #expect(try await q.renew([kept], duration: f.shortLease) == [true])
        }
        // 2 x shortLease have passed: `dropped` expired long ago, `kept` was renewed throughout.
        let report = try await recover(q, maxAttempts: 5)
        #expect(report == RecoveryReport(requeued: 1, deadLettered: 0))
        try await expectCounts(q, pending: 1, processing: 1)
        #expect(try await q.renew([dropped], duration: f.shortLease) == [false])
        #expect(try await q.complete(kept, result: nil) == .settled)
        let again = try await q.lease(max: 1, session: "s2", duration: f.shortLease * 10)
        #expect(again.map(\.item) == ["dropped"])
        #expect(again.first?.attempt == 2)
    }

    private static func renewNotOwned(_ f: any ContractFixture) async throws {
        let q = f.backend
        try await q.enqueue(["a"])
        let lease = try #require(try await q.lease(max: 1, session: "s1", duration: f.shortLease * 10).first)
        let impostor = Lease(item: lease.item, session: "s2", attempt: lease.attempt)
        let never = Lease(item: "never-leased", session: "s1", attempt: 1)
        #expect(try await q.renew([impostor, never], duration: f.shortLease * 100) == [false, false])
        try await expectCounts(q, pending: 0, processing: 1)
        // The owner's lease is untouched: the impostor cannot settle it, the owner can.
        #expect(try await q.complete(impostor, result: nil) == .leaseLost)
        #expect(try await q.renew([lease], duration: f.shortLease * 10) == [true])
        #expect(try await q.complete(lease, result: nil) == .settled)
    }

    private static func pushTraceContexts(_ f: any ContractFixture) async throws {
        let store = try able(f, (any PushTraceStore).self, "PushTraceStore")
        let context = try #require(PushTraceContext.encode(["traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"]))
        #expect(PushTraceContext.decode(context) == ["traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"])
        #expect(try await store.pushTraces(for: ["a"]) == [nil])
        try await store.storePushTrace(context, for: ["a", "b"])
        // Equal items share one entry: the latest push's.
        try await store.storePushTrace("other=1", for: ["b"])
        #expect(try await store.pushTraces(for: ["b", "c", "a"]) == ["other=1", nil, context])
        try await store.forgetPushTraces(for: ["a", "c"])
        #expect(try await store.pushTraces(for: ["a", "b"]) == [nil, "other=1"])
        // The queue itself is untouched: nothing pending.
        try await expectCounts(f.backend, pending: 0, processing: 0)
    }

    private static func completeSettles(_ f: any ContractFixture) async throws {
        let q = f.backend
        try await q.enqueue(["a"])
        let before = try await q.counts().completed
        let lease = try #require(try await q.lease(max: 1, session: "s1", duration: f.shortLease * 10).first)
        #expect(try await q.complete(lease, result: "42") == .settled)
        let after = try await q.counts()
        #expect(after.isDrained)
        try await expectCounts(q, pending: 0, processing: 0)
        if let before, let completed = after.completed { #expect(completed == before + 1) }
        // A second completion of the same lease is not an owner any more.
        #expect(try await q.complete(lease, result: "42") == .leaseLost)
    }

    private static func completeAfterLeaseLost(_ f: any ContractFixture) async throws {
        let q = f.backend
        try await q.enqueue(["a"])
        let old = try #require(try await q.lease(max: 1, session: "s1", duration: f.shortLease).first)
        try await f.advance(by: f.shortLease * 2)
        #expect(try await recover(q, maxAttempts: 5).requeued == 1)
        let new = try #require(try await q.lease(max: 1, session: "s2", duration: f.shortLease * 10).first)
        #expect(new.item == old.item)
        #expect(try await q.complete(old, result: nil) == .leaseLost)
        #expect(try await q.fail(old, error: "late", disposition: .deadLetter) == .leaseLost)
        #expect(try await q.release(old) == .leaseLost)
        try await expectCounts(q, pending: 0, processing: 1)
        #expect(try await q.renew([new], duration: f.shortLease * 10) == [true])
        #expect(try await q.complete(new, result: nil) == .settled)
        #expect(try await q.counts().isDrained)
    }

    private static func failWithRetry(_ f: any ContractFixture) async throws {
        let q = f.backend
        try await q.enqueue(["a"])
        let lease = try #require(try await q.lease(max: 1, session: "s1", duration: f.shortLease * 10).first)
        #expect(lease.attempt == 1)
        #expect(try await q.fail(lease, error: "boom", disposition: .retry(after: f.shortLease * 3)) == .settled)
        try await expectCounts(q, pending: 0, processing: 0, scheduled: 1)
        #expect(!(try await q.counts().isDrained))
        #expect(try await promote(f) == 0)
        #expect(try await q.lease(max: 1, session: "s1", duration: f.shortLease).isEmpty)
        try await f.advance(by: f.shortLease * 4)
        #expect(try await promote(f) == 1)
        try await expectCounts(q, pending: 1, processing: 0, scheduled: 0)
        let again = try #require(try await q.lease(max: 1, session: "s1", duration: f.shortLease * 10).first)
        #expect(again.item == "a")
        #expect(again.attempt == 2)
    }

    private static func failDeadLetter(_ f: any ContractFixture) async throws {
        let q = f.backend
        try await q.enqueue(["bad"])
        let lease = try #require(try await q.lease(max: 1, session: "s1", duration: f.shortLease * 10).first)
        #expect(try await q.fail(lease, error: "cannot parse", disposition: .deadLetter) == .settled)
        try await expectCounts(q, pending: 0, processing: 0, dead: 1)
        let dead = try await q.deadLetters()
        try #require(dead.count == 1)
        #expect(dead[0].item == "bad")
        #expect(dead[0].lastError == "cannot parse")
        if let attempts = dead[0].attempts { #expect(attempts == 1) }
    }

    private static func retryDeadLetters(_ f: any ContractFixture) async throws {
        let q = f.backend
        try await q.enqueue(["bad"])
        let lease = try #require(try await q.lease(max: 1, session: "s1", duration: f.shortLease * 10).first)
        _ = try await q.fail(lease, error: "boom", disposition: .deadLetter)
        #expect(try await q.retryDeadLetters() == 1)
        try await expectCounts(q, pending: 1, processing: 0, dead: 0)
        #expect(try await q.deadLetters().isEmpty)
        let again = try #require(try await q.lease(max: 1, session: "s1", duration: f.shortLease * 10).first)
        #expect(again.item == "bad")
        #expect(again.attempt == 1)
    }

    private static func purgeDeadLetters(_ f: any ContractFixture) async throws {
        let q = f.backend
        try await q.enqueue(["x", "y"])
        for lease in try await q.lease(max: 2, session: "s1", duration: f.shortLease * 10) {
            _ = try await q.fail(lease, error: "boom", disposition: .deadLetter)
        }
        #expect(try await q.purgeDeadLetters() == 2)
        #expect(try await q.deadLetters().isEmpty)
        try await expectCounts(q, pending: 0, processing: 0, dead: 0)
        #expect(try await q.purgeDeadLetters() == 0)
    }

    private static func release(_ f: any ContractFixture) async throws {
        let q = f.backend
        try await q.enqueue(["a", "b"])
        let lease = try #require(try await q.lease(max: 1, session: "s1", duration: f.shortLease * 10).first)
        #expect(try await q.release(lease) == .settled)
        try await expectCounts(q, pending: 2, processing: 0)
        let again = try await q.lease(max: 2, session: "s2", duration: f.shortLease * 10)
        #expect(again.map(\.item) == ["a", "b"])
        #expect(again.first?.attempt == 1)
    }

    private static func recoverPoison(_ f: any ContractFixture) async throws {
        let q = f.backend
        try await q.enqueue(["poison"])
        var first = try #require(try await q.lease(max: 1, session: "s1", duration: f.shortLease).first)
        #expect(first.attempt == 1)
        try await f.advance(by: f.shortLease * 2)
        #expect(try await recover(q, maxAttempts: 2) == RecoveryReport(requeued: 1, deadLettered: 0))
        first = try #require(try await q.lease(max: 1, session: "s2", duration: f.shortLease).first)
        #expect(first.attempt == 2)
        try await f.advance(by: f.shortLease * 2)
        #expect(try await recover(q, maxAttempts: 2) == RecoveryReport(requeued: 0, deadLettered: 1))
        try await expectCounts(q, pending: 0, processing: 0, dead: 1)
        let dead = try await q.deadLetters()
        try #require(dead.count == 1)
        #expect(dead[0].item == "poison")
        #expect(dead[0].lastError?.contains("lease expired") == true)
        if let attempts = dead[0].attempts { #expect(attempts == 2) }
    }

    private static func recoverNothingExpired(_ f: any ContractFixture) async throws {
        let q = f.backend
        try await q.enqueue(["a", "b"])
        _ = try await q.lease(max: 1, session: "s1", duration: f.shortLease * 50)
        #expect(try await recover(q, maxAttempts: 1) == RecoveryReport())
        try await expectCounts(q, pending: 1, processing: 1)
    }

    private static func concurrentRecovery(_ f: any ContractFixture) async throws {
        let q = f.backend
        let items = (0..<20).map { WorkItem("item-\($0)") }
        try await q.enqueue(items)
        #expect(try await q.lease(max: 20, session: "s1", duration: f.shortLease).count == 20)
        try await f.advance(by: f.shortLease * 2)
        let requeued = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<2 { group.addTask { try await recover(q, maxAttempts: 5).requeued } }
            var total = 0
            for try await count in group { total += count }
            return total
        }
        #expect(requeued == 20)
        try await expectCounts(q, pending: 20, processing: 0)
        let again = try await q.lease(max: 40, session: "s2", duration: f.shortLease * 10)
        #expect(Set(again.map(\.item)) == Set(items))
        #expect(again.count == 20)
    }

    private static func waitForWorkWakesOnEnqueue(_ f: any ContractFixture) async throws {
        let q = f.backend
        let done = Mutex(false)
        let waiter = Task {
            try await q.waitForWork(timeout: .seconds(3600))
            done.withLock { $0 = true }
        }
        defer { waiter.cancel() }
        // Give the waiter a moment to park (spurious early returns are allowed by the contract).
        try await Task.sleep(for: .milliseconds(50))
        try await q.enqueue(["wake"])
        // A generous bound (10 s of real time), polled; nothing is asserted below it.
        for _ in 0..<1000 where !done.withLock({ $0 }) {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(done.withLock { $0 }, "waitForWork did not return within 10 s of an enqueue")
    }

    private static func waitForWorkTimesOut(_ f: any ContractFixture) async throws {
        let q = f.backend
        let done = Mutex(false)
        let waiter = Task {
            try await q.waitForWork(timeout: f.shortLease)
            done.withLock { $0 = true }
        }
        defer { waiter.cancel() }
        for _ in 0..<50 where !done.withLock({ $0 }) {
            try await Task.sleep(for: .milliseconds(10))
            try await f.advance(by: f.shortLease)
        }
        #expect(done.withLock { $0 }, "waitForWork did not return after 50 x its timeout")
    }

    private static func bytesPreserved(_ f: any ContractFixture) async throws {
        let q = f.backend
        let big = WorkItem((0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
        let items: [WorkItem] = [
            WorkItem([0xFF, 0xFE, 0x80, 0xC3]),
            WorkItem([0x00, 0x41, 0x00, 0x0A, 0x0D]),
            WorkItem([]),
            big,
        ]
        try await q.enqueue(items)
        let leases = try await q.lease(max: 10, session: "s1", duration: f.shortLease * 50)
        #expect(leases.map(\.item.bytes) == items.map(\.bytes))
        for lease in leases {
            #expect(try await q.complete(lease, result: nil) == .settled)
        }
        #expect(try await q.counts().isDrained)
    }

    private static func equalItemsBothProcessed(_ f: any ContractFixture) async throws {
        let q = f.backend
        try await q.enqueue(["same", "same"])
        let before = try await q.counts().completed
        let first = try #require(try await q.lease(max: 1, session: "s1", duration: f.shortLease * 10).first)
        let second = try #require(try await q.lease(max: 1, session: "s1", duration: f.shortLease * 10).first)
        #expect(first.item == second.item)
        #expect(try await q.complete(first, result: nil) == .settled)
        #expect(try await q.complete(second, result: nil) == .settled)
        let after = try await q.counts()
        #expect(after.isDrained)
        if let before, let completed = after.completed { #expect(completed == before + 2) }
    }

    // MARK: Exchange, the one settle path

    private static func exchangeTakesAndSettles(_ f: any ContractFixture) async throws {
        let q = f.backend
        try await q.enqueue(["a", "b", "c", "d", "e"])
        let held = try await q.lease(max: 3, session: "s1", duration: f.shortLease * 10)
        #expect(held.map(\.item) == ["a", "b", "c"])
        let stranger = Lease(item: "a", session: "s2", attempt: 1, token: "s2:999")
        let result = try await q.exchange(
            [.complete(held[0], result: "A"), .fail(held[1], error: "boom", disposition: .deadLetter), .release(held[2]),
             .complete(stranger, result: nil)],
            lease: 2, session: "s1", duration: f.shortLease * 10)
        #expect(result.outcomes == [.settled, .settled, .settled, .leaseLost])
        // The take comes first: the item released by the same call waits at the head.
        #expect(result.leases.map(\.item) == ["d", "e"])
        #expect(result.counts.pending == 1)
        #expect(result.counts.processing == 2)
        try await expectCounts(q, pending: 1, processing: 2, dead: 1)
        #expect(try await q.lease(max: 1, session: "s1", duration: f.shortLease * 10).map(\.item) == ["c"])
        let dead = try await q.deadLetters()
        #expect(dead.map(\.item) == ["b"])
        #expect(dead.first?.lastError == "boom")
    }

    private static func takeByteBudget(_ f: any ContractFixture) async throws {
        let q = f.backend
        let mebibyte = 1 << 20
        let items = (0..<4).map { WorkItem(Array(repeating: UInt8(65 + $0), count: 3 * mebibyte)) }
        try await q.enqueue(items + ["tail"])
        var taken: [Lease] = []
        for _ in 0..<10 where taken.count < 5 {
            let batch = try await q.exchange([], lease: 5, session: "s1", duration: f.shortLease * 50).leases
            #expect(!batch.isEmpty, "a take always takes one item when one is pending")
            let bytes = batch.reduce(0) { $0 + $1.item.bytes.count }
            // At most the 8 MiB budget plus the item that crossed it.
            #expect(bytes <= 8 * mebibyte + 3 * mebibyte, "a take of \(bytes) bytes")
            #expect(batch.count <= 3)
            taken += batch
        }
        #expect(taken.map(\.item) == items + ["tail"], "every item, in order")
    }

    private static func manySettlements(_ f: any ContractFixture) async throws {
        let q = f.backend
        let count = 10_000
        try await q.enqueue((0..<count).map { WorkItem("item-\($0)") })
        var leases: [Lease] = []
        for _ in 0..<20 where leases.count < count {
            leases += try await q.lease(max: 1000, session: "s1", duration: f.shortLease * 50)
        }
        #expect(leases.count == count)
        let result = try await q.exchange(leases.map { .complete($0, result: "r") }, lease: 0, session: "s1",
                                          duration: f.shortLease * 50)
        #expect(result.outcomes.count == count)
        #expect(result.outcomes.allSatisfy { $0 == .settled })
        #expect(try await q.counts().isDrained)
    }

    private static func lostReplyRetried(_ f: any ContractFixture) async throws {
        let q = f.backend
        try await q.enqueue(["a", "b", "c"])
        let held = try await q.lease(max: 2, session: "s1", duration: f.shortLease * 10)
        let settlements: [Settlement] = held.map { .complete($0, result: nil) }
        try #require(f.loseNextExchangeReply(), "the fixture offers .lostReply")
        await #expect(throws: (any Error).self) {
            _ = try await q.exchange(settlements, lease: 1, session: "s1", duration: f.shortLease * 10)
        }
        let retried = try await q.exchange(settlements, lease: 1, session: "s1", duration: f.shortLease * 10)
        #expect(retried.outcomes == [.settled, .settled], "applied by the call whose reply was lost, reported as such")
        #expect(retried.leases.map(\.item) == ["c"], "the take it made, handed back; nothing more taken")
        try await expectCounts(q, pending: 0, processing: 1)
        let lease = try #require(retried.leases.first)
        #expect(try await q.renew([lease], duration: f.shortLease * 10) == [true])
        #expect(try await q.complete(lease, result: nil) == .settled)
        #expect(try await q.counts().isDrained)
    }

    // MARK: Completion records

    private static func log(_ f: any ContractFixture) throws -> any WorkQueueBackend & CompletionLog {
        try able(f, (any WorkQueueBackend & CompletionLog).self, "completion records (CompletionLog)")
    }

    private static func completionRecords(_ f: any ContractFixture) async throws {
        let q = try log(f)
        try await q.enqueue(["a", "b", "a", "c", WorkItem([0xFF, 0x00, 0x0A])])
        let held = try await q.lease(max: 5, session: "s1", duration: f.shortLease * 10)
        let result = try await q.exchange(
            [.complete(held[0], result: "first a"), .complete(held[1], result: nil), .complete(held[2], result: "second a"),
             .complete(held[3], result: ""), .complete(held[4], result: "é\n\"")],
            lease: 0, session: "s1", duration: f.shortLease * 10)
        #expect(result.outcomes == Array(repeating: .settled, count: 5))
        let records = try await q.completions(after: nil, limit: 1000)
        #expect(records.map(\.item) == ["a", "a", "c", WorkItem([0xFF, 0x00, 0x0A])], "no record for the nil result")
        #expect(records.map(\.result) == ["first a", "second a", "", "é\n\""])
        #expect(records.allSatisfy { $0.attempt == 1 && $0.worker == "s1" })
        let positions = records.compactMap(\.position)
        #expect(positions.count == records.count, "every ID is <ms>-<n>")
        #expect(positions == positions.sorted() && Set(positions).count == positions.count, "IDs increase")
        #expect(try await q.completionCounts() == (kept: 4, dropped: 0))
        // A second attempt is recorded as such.
        try await q.enqueue(["retried"])
        let first = try #require(try await q.lease(max: 1, session: "s2", duration: f.shortLease * 10).first)
        #expect(try await q.fail(first, error: "boom", disposition: .retry(after: .zero)) == .settled)
        _ = try await promote(f)
        let second = try #require(try await q.lease(max: 1, session: "s2", duration: f.shortLease * 10).first)
        #expect(second.attempt == 2)
        #expect(try await q.complete(second, result: "ok") == .settled)
        let all = try await q.completions(after: nil, limit: 1000)
        #expect(all.count == 5)
        let last = try #require(all.first { $0.item == "retried" })
        #expect(last.attempt == 2 && last.worker == "s2" && last.result == "ok")
    }

    private static func completionPagesAndDelete(_ f: any ContractFixture) async throws {
        let q = try log(f)
        let items = (0..<7).map { WorkItem("item-\($0)") }
        try await q.enqueue(items)
        let held = try await q.lease(max: 7, session: "s1", duration: f.shortLease * 10)
        _ = try await q.exchange(held.map { .complete($0, result: "r-" + $0.item.string) }, lease: 0, session: "s1",
                                 duration: f.shortLease * 10)
        var read: [CompletionRecord] = []
        var after: String?
        for _ in 0..<10 {
            let page = try await q.completions(after: after, limit: 3)
            #expect(page.count <= 3)
            guard let last = page.last else { break }
            read += page
            after = last.id
        }
        #expect(read.map(\.item) == items)
        #expect(read.map(\.result) == items.map { "r-" + $0.string })
        #expect(try await q.deleteCompletions(read.prefix(5).map(\.id) + ["1-999999"]) == 5)
        #expect(try await q.completions(after: nil, limit: 1000).map(\.item) == Array(items.suffix(2)))
        #expect(try await q.completionCounts() == (kept: 2, dropped: 0), "deleted records are not dropped ones")
        #expect(try await q.completions(after: read[1].id, limit: 1000).map(\.item) == Array(items.suffix(2)),
                "reading after a deleted record")
    }

    private static func completionRecordedOnce(_ f: any ContractFixture) async throws {
        let q = try log(f)
        try await q.enqueue(["a", "b"])
        let held = try await q.lease(max: 2, session: "s1", duration: f.shortLease * 10)
        let settlements: [Settlement] = held.map { .complete($0, result: "done " + $0.item.string) }
        try #require(f.loseNextExchangeReply(), "the fixture offers .lostReply")
        await #expect(throws: (any Error).self) {
            _ = try await q.exchange(settlements, lease: 0, session: "s1", duration: f.shortLease * 10)
        }
        let retried = try await q.exchange(settlements, lease: 0, session: "s1", duration: f.shortLease * 10)
        #expect(retried.outcomes == [.settled, .settled])
        #expect(try await q.completions(after: nil, limit: 1000).map(\.result) == ["done a", "done b"])
    }

    private static func completionBound(_ f: any ContractFixture) async throws {
        let q = try #require(f.boundedResults, "the fixture offers .boundedResults")
        let items = (0..<5).map { WorkItem("item-\($0)") }
        try await q.enqueue(items)
        let held = try await q.lease(max: 5, session: "s1", duration: f.shortLease * 10)
        #expect(try await q.complete(held[0], result: "0") == .settled)
        #expect(try await q.complete(held[1], result: nil) == .settled)
        _ = try await q.exchange(held[2...].map { .complete($0, result: $0.item.string) }, lease: 0, session: "s1",
                                 duration: f.shortLease * 10)
        #expect(try await q.completions(after: nil, limit: 1000).map(\.item) == Array(items[2...]), "the 3 most recent")
        #expect(try await q.completionCounts() == (kept: 3, dropped: 1))
        try await q.enqueue(["late"])
        let late = try #require(try await q.lease(max: 1, session: "s1", duration: f.shortLease * 10).first)
        #expect(try await q.complete(late, result: "late") == .settled)
        #expect(try await q.completions(after: nil, limit: 1000).map(\.item) == ["item-3", "item-4", "late"])
        #expect(try await q.completionCounts() == (kept: 3, dropped: 2))
    }

    // MARK: Heartbeat records

    private static func heartbeatRecords(_ f: any ContractFixture) async throws {
        let backend = try able(f, Recorded.self, "worker records (WorkerRecords)")
        #expect(try await backend.liveWorkers().isEmpty)
        let ttl = Duration.seconds(60)
        let first = WorkerHeartbeat(session: "s1", host: "pod-1", handler: "printer", startedAtMilliseconds: 1_764_000_000_000,
                                    inFlight: 1, held: 3, completed: 5, failed: 1)
        try await backend.heartbeat(first, ttl: ttl)
        // Any text survives the record: quotes, backslashes, control characters, non-ASCII.
        let second = WorkerHeartbeat(session: "s2", host: "h\"o\\s\nt\u{1}é😀", handler: "lib x.so:sym", startedAtMilliseconds: 7)
        try await backend.heartbeat(second, ttl: ttl)
        var live = try await backend.liveWorkers()
        #expect(live.map(\.heartbeat) == [first, second])
        for worker in live {
            #expect(worker.lastSeen >= .zero && worker.lastSeen < .seconds(30), "\(worker)")
            #expect(worker.expiresIn > .seconds(30) && worker.expiresIn <= ttl, "\(worker)")
        }
        #expect(try await backend.counts().workers == 2)
        var refreshed = first
        refreshed.completed = 9
        refreshed.inFlight = 0
        try await backend.heartbeat(refreshed, ttl: ttl)
        live = try await backend.liveWorkers()
        #expect(live.map(\.heartbeat) == [refreshed, second])
    }

    private static func heartbeatEnds(_ f: any ContractFixture) async throws {
        let backend = try able(f, Recorded.self, "worker records (WorkerRecords)")
        let short = f.shortLease
        try await backend.heartbeat(WorkerHeartbeat(session: "a", host: "h", handler: "x", startedAtMilliseconds: 1), ttl: .seconds(60))
        try await backend.heartbeat(WorkerHeartbeat(session: "b", host: "h", handler: "x", startedAtMilliseconds: 1), ttl: short)
        try await backend.heartbeat(WorkerHeartbeat(session: "c", host: "h", handler: "x", startedAtMilliseconds: 1), ttl: .seconds(60))
        try await backend.removeHeartbeat(session: "c")
        #expect(try await backend.liveWorkers().map(\.heartbeat.session) == ["a", "b"])
        try await f.advance(by: short + .milliseconds(100))
        // "b" was not refreshed within its TTL: no longer live, and its record is dropped by
        // the next heartbeat of anyone.
        #expect(try await backend.liveWorkers().map(\.heartbeat.session) == ["a"])
        #expect(try await backend.counts().workers == 1)
        try await backend.removeHeartbeat(session: "a")
        #expect(try await backend.liveWorkers().isEmpty)
        #expect(try await backend.counts().workers == 0)
    }

    // MARK: Pause, resume, cancel

    private static func pauseAndResume(_ f: any ContractFixture) async throws {
        let q = try able(f, Controlled.self, "pause and cancel (QueueControlling, CancelledItemsReading)")
        #expect(try await q.control() == QueueControl(cancelledItems: 0))
        try await q.enqueue(["a", "b", "c"])
        let held = try await q.lease(max: 1, session: "s1", duration: f.shortLease * 10)
        try await q.setPaused(true)
        #expect(try await q.control().paused)
        #expect(try await q.lease(max: 2, session: "s1", duration: f.shortLease * 10).isEmpty)
        #expect(try await q.renew(held, duration: f.shortLease * 10) == [true])
        let result = try await q.exchange([.complete(held[0], result: nil)], lease: 2, session: "s1", duration: f.shortLease * 10)
        #expect(result.outcomes == [.settled])
        #expect(result.leases.isEmpty)
        #expect(result.control.paused && !result.control.cancelled)
        // A paused queue with pending items is not drained.
        #expect(!result.counts.isDrained)
        try await expectCounts(q, pending: 2, processing: 0)
        try await q.setPaused(false)
        let resumed = try await q.exchange([], lease: 2, session: "s1", duration: f.shortLease * 10)
        #expect(resumed.leases.map(\.item) == ["b", "c"])
        #expect(!resumed.control.paused)
        #expect(try await q.control() == QueueControl(cancelledItems: 0))
    }

    private static func renewReadsControl(_ f: any ContractFixture) async throws {
        let q = try able(f, Controlled.self, "pause and cancel (QueueControlling, CancelledItemsReading)")
        try await q.enqueue(["a", "b"])
        let held = try await q.lease(max: 1, session: "s1", duration: f.shortLease * 10)
        let request = RenewRequest(leases: held, duration: f.shortLease * 10)
        let quiet = try await q.renewReadingControl(request)
        #expect(quiet.owned == [true])
        #expect(quiet.control == QueueControl())
        try await q.setPaused(true)
        let paused = try await q.renewReadingControl(request)
        #expect(paused.owned == [true], "a pause stops takes, not renewals")
        #expect(paused.control == QueueControl(paused: true))
        try await q.setPaused(false)
        _ = try await q.cancelPage(max: 10, mark: true)
        let cancelled = try await q.renewReadingControl(request)
        #expect(cancelled.owned == [true])
        #expect(cancelled.control == QueueControl(cancelled: true))
        #expect(try await q.renewReadingControl(RenewRequest(leases: [], duration: f.shortLease)).owned.isEmpty)
    }

    private static func cancelAndRestore(_ f: any ContractFixture) async throws {
        let q = try able(f, Controlled.self, "pause and cancel (QueueControlling, CancelledItemsReading)")
        try await q.enqueue(["a", "b", "c", "d"])
        let held = try await q.lease(max: 1, session: "s1", duration: f.shortLease * 10)
        #expect(try await q.fail(held[0], error: "later", disposition: .retry(after: .seconds(3600))) == .settled)
        // Pages: at most `max` per call, pending first, then the scheduled retry.
        #expect(try await q.cancel(max: 2) == 2)
        #expect(try await q.cancel(max: 100) == 2)
        #expect(try await q.cancel(max: 100) == 0)
        try await expectCounts(q, pending: 0, processing: 0, scheduled: 0)
        let control = try await q.control()
        #expect(control.cancelled && !control.paused && control.cancelledItems == 4)
        #expect(try await q.cancelledItems(offset: 0, limit: 10) == ["b", "c", "d", "a"])
        #expect(try await q.cancelledItems(offset: 1, limit: 2) == ["c", "d"])
        // Restored items wait: the queue stays cancelled until the mark is cleared.
        #expect(try await q.restoreCancelled(max: 100) == 4)
        let result = try await q.exchange([], lease: 4, session: "s1", duration: f.shortLease * 10)
        #expect(result.leases.isEmpty && result.control.cancelled)
        try await expectCounts(q, pending: 4, processing: 0)
        try await q.clearCancelled()
        let taken = try await q.lease(max: 4, session: "s1", duration: f.shortLease * 10)
        #expect(taken.map(\.item) == ["b", "c", "d", "a"])
        // The failed attempt still counts.
        #expect(taken.last?.attempt == 2)
        #expect(try await q.control() == QueueControl(cancelledItems: 0))
    }

    private static func cancelAfterRelease(_ f: any ContractFixture) async throws {
        let q = try able(f, Controlled.self, "pause and cancel (QueueControlling, CancelledItemsReading)")
        try await q.enqueue(["a", "b"])
        let held = try await q.lease(max: 1, session: "s1", duration: f.shortLease * 10)
        #expect(try await q.cancel(max: 100) == 1)
        // In flight during the cancel: still owned, renewed and released as usual.
        #expect(try await q.renew(held, duration: f.shortLease * 10) == [true])
        #expect(try await q.release(held[0]) == .settled)
        try await expectCounts(q, pending: 1, processing: 0)
        #expect(try await q.cancel(max: 100) == 1)
        #expect(try await q.cancelledItems(offset: 0, limit: 10) == ["b", "a"])
        try await expectCounts(q, pending: 0, processing: 0)
    }

    private static func cancelPagesAndMark(_ f: any ContractFixture) async throws {
        let q = try able(f, Controlled.self, "pause and cancel (QueueControlling, CancelledItemsReading)")
        try await q.enqueue(["a", "b", "c"])
        let held = try await q.lease(max: 1, session: "s1", duration: f.shortLease * 10)
        #expect(try await q.fail(held[0], error: "later", disposition: .retry(after: .seconds(3600))) == .settled)
        // Not cancelled: a page without the mark moves nothing and leaves the queue unmarked.
        #expect(try await q.cancelPage(max: 10, mark: false) == ControlPage(moved: 0, remaining: 3, cancelled: false))
        #expect(try await q.control().cancelled == false)
        #expect(try await q.cancelPage(max: 1, mark: true) == ControlPage(moved: 1, remaining: 2, cancelled: true))
        // Pending, then the scheduled retry.
        #expect(try await q.cancelPage(max: 10, mark: false) == ControlPage(moved: 2, remaining: 0, cancelled: true))
        #expect(try await q.cancelledItems(offset: 0, limit: 10) == ["b", "c", "a"])
        #expect(try await q.restorePage(max: 1, clearCancel: true, hold: nil) == ControlPage(moved: 1, remaining: 2, cancelled: false))
        #expect(try await q.cancelPage(max: 10, mark: false) == ControlPage(moved: 0, remaining: 1, cancelled: false))
        #expect(try await q.restorePage(max: 10, clearCancel: false, hold: nil) == ControlPage(moved: 2, remaining: 0, cancelled: false))
        try await expectCounts(q, pending: 3, processing: 0)
        #expect(try await q.lease(max: 3, session: "s1", duration: f.shortLease * 10).map(\.item) == ["b", "c", "a"])
    }

    private static func purgeResetsAttempts(_ f: any ContractFixture) async throws {
        let q = f.backend
        try await q.enqueue(["z"])
        let first = try #require(try await q.lease(max: 1, session: "s1", duration: f.shortLease * 10).first)
        #expect(try await q.fail(first, error: "boom", disposition: .retry(after: .zero)) == .settled)
        #expect(try await promote(f) == 1)
        let second = try #require(try await q.lease(max: 1, session: "s1", duration: f.shortLease * 10).first)
        #expect(second.attempt == 2)
        #expect(try await q.fail(second, error: "boom again", disposition: .deadLetter) == .settled)
        if let attempts = try await q.deadLetters().first?.attempts { #expect(attempts == 2) }
        #expect(try await q.purgeDeadLetters() == 1)
        try await q.enqueue(["z"])
        let fresh = try #require(try await q.lease(max: 1, session: "s1", duration: f.shortLease * 10).first)
        #expect(fresh.attempt == 1)
        #expect(try await q.fail(fresh, error: "once", disposition: .deadLetter) == .settled)
        let dead = try await q.deadLetters()
        #expect(dead.map(\.lastError) == ["once"])
        if let attempts = dead.first?.attempts { #expect(attempts == 1) }
    }

    private static func checkpointAfterLostLease(_ f: any ContractFixture) async throws {
        let q = f.backend
        try await q.enqueue(["long", "other"])
        let leases = try await q.lease(max: 2, session: "s1", duration: f.shortLease)
        try #require(leases.count == 2)
        #expect(leases.allSatisfy { $0.checkpoint == nil })
        let long = leases[0]
        let impostor = Lease(item: "other", session: "s9", attempt: 1, token: "s9:1")
        // Stored for the lease renewed; the impostor's renewal stores nothing.
        #expect(try await q.renew([long, leases[1], impostor], duration: f.shortLease, timeout: .seconds(5),
                                  checkpoints: [Array("step 7".utf8), nil, Array("bogus".utf8)]) == [true, true, false])
        #expect(try await q.renew([long], duration: f.shortLease, timeout: .seconds(5),
                                  checkpoints: [[0, 255, 10, 13]]) == [true])
        #expect(try await q.complete(leases[1], result: nil) == .settled)
        // The worker dies: its lease expires and recovery requeues the item.
        try await f.advance(by: f.shortLease * 2)
        #expect(try await recover(q, maxAttempts: 5) == RecoveryReport(requeued: 1, deadLettered: 0))
        #expect(try await q.renew([long], duration: f.shortLease, timeout: .seconds(5), checkpoints: [[1]]) == [false])
        let again = try #require(try await q.lease(max: 1, session: "s2", duration: f.shortLease * 10).first)
        #expect(again.item == "long")
        #expect(again.attempt == 2)
        #expect(again.checkpoint == [0, 255, 10, 13])
        // Completing deletes it: the same bytes pushed again start from scratch.
        #expect(try await q.complete(again, result: nil) == .settled)
        try await q.enqueue(["long", "other"])
        let fresh = try await q.lease(max: 2, session: "s3", duration: f.shortLease * 10)
        #expect(fresh.map(\.item) == ["long", "other"])
        #expect(fresh.map(\.checkpoint) == [nil, nil])
        #expect(fresh.map(\.attempt) == [1, 1])
    }

    private static func checkpointSettlements(_ f: any ContractFixture) async throws {
        let q = f.backend
        try await q.enqueue(["x"])
        var lease = try #require(try await q.lease(max: 1, session: "s1", duration: f.shortLease * 10).first)
        #expect(try await q.renew([lease], duration: f.shortLease * 10, timeout: .seconds(5), checkpoints: [Array("a".utf8)]) == [true])
        // Released (a shutdown): the next take gets the checkpoint, no attempt counted.
        #expect(try await q.release(lease) == .settled)
        lease = try #require(try await q.lease(max: 1, session: "s1", duration: f.shortLease * 10).first)
        #expect(lease.attempt == 1)
        #expect(lease.checkpoint == Array("a".utf8))
        #expect(try await q.renew([lease], duration: f.shortLease * 10, timeout: .seconds(5), checkpoints: [Array("b".utf8)]) == [true])
        // Failed and retried: the retry gets the latest checkpoint (the worker's settlement
        // carries the handler's latest, or none to keep the stored one).
        lease.checkpoint = nil
        #expect(try await q.fail(lease, error: "boom", disposition: .retry(after: .zero)) == .settled)
        try await f.advance(by: .milliseconds(10))
        #expect(try await promote(f) == 1)
        lease = try #require(try await q.lease(max: 1, session: "s1", duration: f.shortLease * 10).first)
        #expect(lease.attempt == 2)
        #expect(lease.checkpoint == Array("b".utf8))
        // Dead-lettered: deleted, so a retried dead letter starts from scratch.
        #expect(try await q.fail(lease, error: "boom", disposition: .deadLetter) == .settled)
        #expect(try await q.retryDeadLetters() == 1)
        lease = try #require(try await q.lease(max: 1, session: "s1", duration: f.shortLease).first)
        #expect(lease.checkpoint == nil)
        // Dead-lettered by recovery: deleted too.
        #expect(try await q.renew([lease], duration: f.shortLease, timeout: .seconds(5), checkpoints: [Array("c".utf8)]) == [true])
        try await f.advance(by: f.shortLease * 2)
        #expect(try await recover(q, maxAttempts: 1) == RecoveryReport(requeued: 0, deadLettered: 1))
        #expect(try await q.retryDeadLetters() == 1)
        lease = try #require(try await q.lease(max: 1, session: "s1", duration: f.shortLease * 10).first)
        #expect(lease.checkpoint == nil)
        // A first attempt that saved one deletes it on completion when its settlement carries it.
        #expect(try await q.renew([lease], duration: f.shortLease * 10, timeout: .seconds(5), checkpoints: [Array("d".utf8)]) == [true])
        var settling = lease
        settling.checkpoint = Array("d".utf8)
        #expect(try await q.complete(settling, result: nil) == .settled)
        try await q.enqueue(["x"])
        lease = try #require(try await q.lease(max: 1, session: "s1", duration: f.shortLease * 10).first)
        #expect(lease.checkpoint == nil)
    }

    /// Issue 26, defect 9: two equal items are two jobs; one copy's checkpoint is never handed
    /// to the other (a first attempt has none), nor deleted by the other's completion.
    private static func checkpointPerCopy(_ f: any ContractFixture) async throws {
        let q = f.backend
        try await q.enqueue(["30"])
        let first = try #require(try await q.lease(max: 1, session: "s1", duration: f.shortLease * 10).first)
        #expect(try await q.renew([first], duration: f.shortLease * 10, timeout: .seconds(5), checkpoints: [Array("14".utf8)]) == [true])
        // The same bytes pushed again: a new job, from the beginning.
        try await q.enqueue(["30"])
        let second = try #require(try await q.lease(max: 1, session: "s2", duration: f.shortLease * 10).first)
        #expect(second.item == "30")
        #expect(second.attempt == 1)
        #expect(second.checkpoint == nil)
        #expect(try await q.renew([second], duration: f.shortLease * 10, timeout: .seconds(5), checkpoints: [Array("3".utf8)]) == [true])
        #expect(try await q.complete(second, result: nil) == .settled)
        // The first copy's checkpoint outlives the second's completion: its redelivery resumes.
        #expect(try await q.release(first) == .settled)
        let again = try #require(try await q.lease(max: 1, session: "s3", duration: f.shortLease * 10).first)
        #expect(again.checkpoint == Array("14".utf8))
        // Handed to that redelivery alone: another copy pushed meanwhile gets nothing.
        try await q.enqueue(["30"])
        let third = try #require(try await q.lease(max: 1, session: "s4", duration: f.shortLease * 10).first)
        #expect(third.checkpoint == nil)
        #expect(try await q.complete(third, result: nil) == .settled)
        // The redelivery dies: recovery keeps its checkpoint (the one it was handed) for the next one.
        try await f.advance(by: f.shortLease * 11)
        #expect(try await recover(q, maxAttempts: 5) == RecoveryReport(requeued: 1, deadLettered: 0))
        let last = try #require(try await q.lease(max: 1, session: "s5", duration: f.shortLease * 10).first)
        #expect(last.attempt == 2)
        #expect(last.checkpoint == Array("14".utf8))
        #expect(try await q.complete(last, result: nil) == .settled)
        try await expectCounts(q, pending: 0, processing: 0)
    }

    /// Issue 26: a checkpoint saved after the last renewal rides with the release (a SIGTERM)
    /// or the failure, so the next attempt resumes from it, not from the older one.
    private static func checkpointWithSettlement(_ f: any ContractFixture) async throws {
        let q = f.backend
        try await q.enqueue(["job"])
        var lease = try #require(try await q.lease(max: 1, session: "s1", duration: f.shortLease * 10).first)
        #expect(try await q.renew([lease], duration: f.shortLease * 10, timeout: .seconds(5), checkpoints: [Array("1".utf8)]) == [true])
        var settling = lease
        settling.checkpoint = Array("2".utf8)
        #expect(try await q.release(settling) == .settled)
        lease = try #require(try await q.lease(max: 1, session: "s1", duration: f.shortLease * 10).first)
        #expect(lease.checkpoint == Array("2".utf8))
        settling = lease
        settling.checkpoint = Array("3".utf8)
        #expect(try await q.fail(settling, error: "boom", disposition: .retry(after: .zero)) == .settled)
        try await f.advance(by: .milliseconds(10))
        #expect(try await promote(f) == 1)
        lease = try #require(try await q.lease(max: 1, session: "s1", duration: f.shortLease * 10).first)
        #expect(lease.attempt == 2)
        #expect(lease.checkpoint == Array("3".utf8))
        // Through the exchange the worker uses, with a take in the same call.
        try await q.enqueue(["other"])
        settling = lease
        settling.checkpoint = Array("4".utf8)
        let result = try await q.exchange([.release(settling)], lease: 1, session: "s1", duration: f.shortLease * 10)
        #expect(result.outcomes == [.settled])
        let taken = result.leases + (try await q.lease(max: 2, session: "s1", duration: f.shortLease * 10))
        #expect(Set(taken.map(\.item)) == ["job", "other"])
        #expect(taken.first { $0.item == "job" }?.checkpoint == Array("4".utf8))
        #expect(taken.first { $0.item == "other" }?.checkpoint == nil)
        for lease in taken { #expect(try await q.complete(lease, result: nil) == .settled) }
    }

    private static func heartbeatProgress(_ f: any ContractFixture) async throws {
        let backend = try able(f, Recorded.self, "worker records (WorkerRecords)")
        let beat = WorkerHeartbeat(session: "s1", host: "pod", handler: "countdown", startedAtMilliseconds: 1, inFlight: 2, held: 2,
                                   progress: [.init(item: "job-1", fraction: 0.25, note: "step 1 of 4"),
                                              .init(item: "a\\xff b", fraction: 1, note: "é \"quoted\" \\ done"),
                                              .init(item: "c", fraction: 0, note: "")])
        try await backend.heartbeat(beat, ttl: .seconds(60))
        #expect(try await backend.liveWorkers().map(\.heartbeat) == [beat])
        var later = beat
        later.progress = []
        try await backend.heartbeat(later, ttl: .seconds(60))
        #expect(try await backend.liveWorkers().map(\.heartbeat) == [later])
    }

    // MARK: The settle order, the take's bounds, upkeep and the drained check

    /// Two copies of one item (equal bytes share their attempts): the failure that dead-letters
    /// one copy counts its attempt after the other copy's completion, whatever the order the
    /// settlements were given in (settled in order, the completion would clear that attempt).
    private static func settleOrder(_ f: any ContractFixture) async throws {
        let q = f.backend
        try await q.enqueue(["x", "x"])
        let held = try await q.lease(max: 2, session: "s1", duration: f.shortLease * 10)
        try #require(held.count == 2)
        let result = try await q.exchange([.fail(held[0], error: "boom", disposition: .deadLetter), .complete(held[1], result: nil)],
                                          lease: 0, session: "s1", duration: f.shortLease * 10)
        #expect(result.outcomes == [.settled, .settled], "in the order given")
        let dead = try await q.deadLetters()
        #expect(dead.map(\.item) == ["x"])
        #expect(dead.first?.attempts == 1, "the failure counted after the completion")
        #expect(dead.first?.lastError == "boom")
        try await expectCounts(q, pending: 0, processing: 0, dead: 1)
    }

    private static func oversizeDeadLettered(_ f: any ContractFixture) async throws {
        let limit = try #require(f.maxItemBytes, "the fixture offers .sizeLimit")
        let q = f.backend
        let big = WorkItem([UInt8](repeating: 0x61, count: limit + 1))
        try await q.enqueue([big, "a"])
        // The big item spends the take's byte budget: this take hands out nothing.
        let first = try await q.exchange([], lease: 2, session: "s1", duration: f.shortLease * 10)
        #expect(first.leases.isEmpty)
        try await expectCounts(q, pending: 1, processing: 0, dead: 1)
        #expect(try await q.deadLetters().map(\.item.bytes.count) == [limit + 1])
        #expect(try await q.lease(max: 2, session: "s1", duration: f.shortLease * 10).map(\.item) == ["a"])
    }

    private static func takePromotesWithinItsCount(_ f: any ContractFixture) async throws {
        let q = f.backend
        let items = (1...5).map { WorkItem("r\($0)") }
        try await q.enqueue(items)
        let held = try await q.lease(max: 5, session: "s1", duration: f.shortLease * 10)
        try #require(held.count == 5)
        let failed = try await q.exchange(held.map { .fail($0, error: "later", disposition: .retry(after: .zero)) }, lease: 0,
                                          session: "s1", duration: f.shortLease * 10)
        #expect(failed.outcomes.allSatisfy { $0 == .settled })
        try await expectCounts(q, pending: 0, processing: 0, scheduled: 5)
        // Nothing pending: the take promotes due retries, but no more than it takes.
        let taken = try await q.exchange([], lease: 2, session: "s1", duration: f.shortLease * 10)
        #expect(taken.leases.map(\.item) == ["r1", "r2"])
        #expect(taken.leases.allSatisfy { $0.attempt == 2 })
        try await expectCounts(q, pending: 0, processing: 2, scheduled: 3)
    }

    private static func maintainPromotesAndRecovers(_ f: any ContractFixture) async throws {
        let q = f.backend
        try await q.enqueue(["a", "b"])
        let held = try await q.lease(max: 2, session: "s1", duration: f.shortLease)
        try #require(held.map(\.item) == ["a", "b"])
        #expect(try await q.fail(held[1], error: "later", disposition: .retry(after: .zero)) == .settled)
        try await f.advance(by: f.shortLease * 2)
        // A backend may need two passes to see a lease gone; with no interval each pass runs.
        var requeued = 0
        var ran = false
        for _ in 0..<2 {
            if let report = try await q.maintain(maxAttempts: 5, interval: .zero, session: "s2") {
                ran = true
                requeued += report.requeued
                #expect(report.deadLettered == 0)
            }
        }
        #expect(ran, "with no interval, maintain runs its pass")
        #expect(requeued == 1, "the expired lease of a")
        try await expectCounts(q, pending: 2, processing: 0, scheduled: 0)
        #expect(Set(try await q.lease(max: 2, session: "s2", duration: f.shortLease * 10).map(\.item)) == ["a", "b"])
    }

    private static func finishIfDrained(_ f: any ContractFixture) async throws {
        let q = f.backend
        try await q.enqueue(["a"])
        #expect(try await q.finishIfDrained(session: "s1") == false, "pending")
        let held = try #require(try await q.lease(max: 1, session: "s1", duration: f.shortLease * 10).first)
        #expect(try await q.finishIfDrained(session: "s1") == false, "in processing")
        #expect(try await q.fail(held, error: "again", disposition: .retry(after: .zero)) == .settled)
        #expect(try await q.finishIfDrained(session: "s1") == false, "scheduled")
        let again = try #require(try await q.lease(max: 1, session: "s1", duration: f.shortLease * 10).first)
        #expect(try await q.complete(again, result: nil) == .settled)
        #expect(try await q.finishIfDrained(session: "s1") == true, "drained")
    }

    // MARK: Delayed and unique pushes

    private static func withOptions(_ f: any ContractFixture, sourceLocation: SourceLocation = #_sourceLocation) throws
        -> any WorkQueueBackend & EnqueueingWithOptions {
        try able(f, (any WorkQueueBackend & EnqueueingWithOptions).self, "delayed and unique pushes (EnqueueingWithOptions)",
                 sourceLocation: sourceLocation)
    }

    private static func delayedPush(_ f: any ContractFixture) async throws {
        let q = try withOptions(f)
        let delay = f.shortLease * 2
        // A zero delay pushes at once.
        #expect(try await q.enqueue(["now"], options: EnqueueOptions(delay: .zero)) == EnqueueReport(pushed: 1, skipped: 0, pending: 1))
        let report = try await q.enqueue(["later-1", "later-2"], options: EnqueueOptions(delay: delay))
        #expect(report == EnqueueReport(pushed: 2, skipped: 0, pending: 1))
        try await expectCounts(q, pending: 1, processing: 0, scheduled: 2)
        let first = try await q.lease(max: 10, session: "s1", duration: f.shortLease * 10)
        #expect(first.map(\.item) == ["now"], "a delayed item is not taken before its time")
        #expect(try await q.complete(try #require(first.first), result: nil) == .settled)
        #expect(try await q.finishIfDrained(session: "s1") == false, "delayed items keep the queue undrained")
        #expect(try await q.lease(max: 10, session: "s1", duration: f.shortLease * 10).isEmpty, "not due yet")
        _ = try await q.maintain(maxAttempts: 5, interval: .zero, session: "s1")
        try await expectCounts(q, pending: 0, processing: 0, scheduled: 2)
        try await f.advance(by: delay + f.shortLease / 2)
        let later = try await q.lease(max: 10, session: "s1", duration: f.shortLease * 10)
        #expect(later.map(\.item) == ["later-1", "later-2"], "due: pending in the order pushed")
        #expect(later.allSatisfy { $0.attempt == 1 }, "a delay is no attempt")
        for lease in later { #expect(try await q.complete(lease, result: nil) == .settled) }
        #expect(try await q.finishIfDrained(session: "s1") == true)
    }

    private static func uniquePush(_ f: any ContractFixture) async throws {
        let q = try withOptions(f)
        let window = f.shortLease * 4
        let unique = EnqueueOptions(uniqueWindow: window)
        #expect(try await q.enqueue(["a", "b", "a"], options: unique) == EnqueueReport(pushed: 2, skipped: 1, pending: 2),
                "equal items in one push are pushed once")
        #expect(try await q.enqueue(["a", "c"], options: unique) == EnqueueReport(pushed: 1, skipped: 1, pending: 3), "a is pending")
        let taken = try await q.lease(max: 1, session: "s1", duration: f.shortLease * 10)
        #expect(taken.map(\.item) == ["a"])
        #expect(try await q.enqueue(["a"], options: unique).skipped == 1, "a is in flight")
        #expect(try await q.complete(try #require(taken.first), result: nil) == .settled)
        #expect(try await q.enqueue(["a"], options: unique).skipped == 1, "a completed within the window")
        #expect(try await q.enqueue(["later"], options: EnqueueOptions(delay: f.shortLease * 100, uniqueWindow: window)).pushed == 1)
        #expect(try await q.enqueue(["later"], options: unique).skipped == 1, "later is scheduled")
        #expect(try await q.enqueue(["A", "a\u{0}"], options: unique).pushed == 2, "equal means the same bytes")
        // A push without a window is not checked, and does not record.
        #expect(try await q.enqueue(["a", "d"]) == 6)
        #expect(try await q.enqueue(["d"], options: unique).pushed == 1, "a plain push records nothing")
        try await expectCounts(q, pending: 7, processing: 0, scheduled: 1)
        try await f.advance(by: window + f.shortLease / 2)
        #expect(try await q.enqueue(["a", "b", "later"], options: unique) == EnqueueReport(pushed: 3, skipped: 0, pending: 10),
                "once the window ended, equal items are pushed again")
        #expect(try await q.enqueue(["a"], options: unique).skipped == 1, "and open a new window")
    }
}

import WorkQueue
import WorkQueueTesting

/// A test backend over an in-memory queue: every requirement of the seam and every ability the
/// in-memory queue has is forwarded to `inner` (the exchange too: the runner's path is the
/// one production runs) unless the adopting type implements it itself (to count calls, fail
/// or hang them). Lease, complete, fail and release are helpers over `exchange`: a type that
/// wants to act on them overrides `exchange`.
protocol ForwardingBackend: SeamForwarding, QueueControlling, CancelledItemsReading, WorkerRecords, QueueRecovery {}

/// The seven requirements of the seam and dead letters, forwarded to `inner`: all that
/// `BareBackend` has, and where `ForwardingBackend` starts.
protocol SeamForwarding: WorkQueueBackend, DeadLetterQueue {
    var inner: InMemoryQueue { get }
}

extension SeamForwarding {
    func enqueue(_ items: [WorkItem]) async throws -> Int { try await inner.enqueue(items) }
    func exchange(_ settlements: [Settlement], lease max: Int, session: String, duration: Duration) async throws -> ExchangeResult {
        try await inner.exchange(settlements, lease: max, session: session, duration: duration)
    }
    func renew(_ request: RenewRequest) async throws -> [Bool] { try await inner.renew(request) }
    func waitForWork(timeout: Duration) async throws { try await inner.waitForWork(timeout: timeout) }
    func counts() async throws -> QueueCounts { try await inner.counts() }
    func maintain(maxAttempts: Int, interval: Duration, session: String) async throws -> RecoveryReport? {
        try await inner.maintain(maxAttempts: maxAttempts, interval: interval, session: session)
    }
    func finishIfDrained(session: String) async throws -> Bool { try await inner.finishIfDrained(session: session) }

    // DeadLetterQueue
    func deadLetters() async throws -> [DeadLetter] { try await inner.deadLetters() }
    func retryDeadLetters() async throws -> Int { try await inner.retryDeadLetters() }
    func purgeDeadLetters() async throws -> Int { try await inner.purgeDeadLetters() }
}

extension ForwardingBackend {
    /// The renewal through this type's own `renew` (which a test may override), then its marks.
    func renewReadingControl(_ request: RenewRequest) async throws -> RenewReply {
        let owned = try await renew(request)
        let marks = try await control()
        return RenewReply(owned: owned, control: QueueControl(paused: marks.paused, cancelled: marks.cancelled))
    }

    // QueueControlling, CancelledItemsReading
    func control() async throws -> QueueControl { try await inner.control() }
    func setPaused(_ paused: Bool) async throws { try await inner.setPaused(paused) }
    func clearCancelled() async throws { try await inner.clearCancelled() }
    func cancelPage(max: Int, mark: Bool) async throws -> ControlPage { try await inner.cancelPage(max: max, mark: mark) }
    func restorePage(max: Int, clearCancel: Bool, hold: String?) async throws -> ControlPage {
        try await inner.restorePage(max: max, clearCancel: clearCancel, hold: hold)
    }
    func cancelledItems(offset: Int, limit: Int) async throws -> [WorkItem] {
        try await inner.cancelledItems(offset: offset, limit: limit)
    }

    // WorkerRecords
    func heartbeat(_ heartbeat: WorkerHeartbeat, ttl: Duration) async throws { try await inner.heartbeat(heartbeat, ttl: ttl) }
    func removeHeartbeat(session: String) async throws { try await inner.removeHeartbeat(session: session) }
    func liveWorkers() async throws -> [LiveWorker] { try await inner.liveWorkers() }

    // QueueRecovery
    func recoverExpiredLeases(maxAttempts: Int) async throws -> RecoveryReport {
        try await inner.recoverExpiredLeases(maxAttempts: maxAttempts)
    }
    func promoteDueRetries() async throws -> Int { try await inner.promoteDueRetries() }
}

/// Forwards everything, overrides nothing: the contract suite runs over it, so that a
/// requirement it forgets to forward shows.
final class PlainForwardingBackend: ForwardingBackend, CompletionLog, Sendable {
    let inner: InMemoryQueue
    init(_ inner: InMemoryQueue) { self.inner = inner }

    func completions(after: String?, limit: Int) async throws -> [CompletionRecord] {
        try await inner.completions(after: after, limit: limit)
    }
    func deleteCompletions(_ ids: [String]) async throws -> Int { try await inner.deleteCompletions(ids) }
    func completionCounts() async throws -> (kept: Int, dropped: Int) { try await inner.completionCounts() }
}

extension PlainForwardingBackend: EnqueueingWithOptions {
    func enqueue(_ items: [WorkItem], options: EnqueueOptions) async throws -> EnqueueReport {
        try await inner.enqueue(items, options: options)
    }
}

extension PlainForwardingBackend: PushTraceStore {
    func storePushTrace(_ context: String, for items: [WorkItem]) async throws {
        try await inner.storePushTrace(context, for: items)
    }
    func pushTraces(for items: [WorkItem]) async throws -> [String?] { try await inner.pushTraces(for: items) }
    func forgetPushTraces(for items: [WorkItem]) async throws { try await inner.forgetPushTraces(for: items) }
}

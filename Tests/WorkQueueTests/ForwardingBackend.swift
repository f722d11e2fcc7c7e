import WorkQueue
import WorkQueueTesting

/// A test backend over an in-memory queue: every call is forwarded to `inner` unless the
/// adopting type implements it itself (to count calls, fail or hang them). The batched calls
/// (`exchange`, `maintain`) keep the protocol's defaults, which go through these.
protocol ForwardingBackend: WorkQueueBackend {
    var inner: InMemoryQueue { get }
}

extension ForwardingBackend {
    func enqueue(_ items: [WorkItem]) async throws -> Int { try await inner.enqueue(items) }
    func lease(max: Int, session: String, duration: Duration) async throws -> [Lease] {
        try await inner.lease(max: max, session: session, duration: duration)
    }
    func waitForWork(timeout: Duration) async throws { try await inner.waitForWork(timeout: timeout) }
    func renew(_ leases: [Lease], duration: Duration) async throws -> [Bool] { try await inner.renew(leases, duration: duration) }
    func renew(_ leases: [Lease], duration: Duration, timeout: Duration, checkpoints: [[UInt8]?]) async throws -> [Bool] {
        try await inner.renew(leases, duration: duration, timeout: timeout, checkpoints: checkpoints)
    }
    func complete(_ lease: Lease, result: String?) async throws -> SettleOutcome { try await inner.complete(lease, result: result) }
    func fail(_ lease: Lease, error: String, disposition: FailureDisposition) async throws -> SettleOutcome {
        try await inner.fail(lease, error: error, disposition: disposition)
    }
    func release(_ lease: Lease) async throws -> SettleOutcome { try await inner.release(lease) }
    func counts() async throws -> QueueCounts { try await inner.counts() }
    func recoverExpiredLeases(maxAttempts: Int) async throws -> RecoveryReport {
        try await inner.recoverExpiredLeases(maxAttempts: maxAttempts)
    }
    func promoteDueRetries() async throws -> Int { try await inner.promoteDueRetries() }
    func heartbeat(_ heartbeat: WorkerHeartbeat, ttl: Duration) async throws { try await inner.heartbeat(heartbeat, ttl: ttl) }
    func removeHeartbeat(session: String) async throws { try await inner.removeHeartbeat(session: session) }
    func liveWorkers() async throws -> [LiveWorker] { try await inner.liveWorkers() }
}

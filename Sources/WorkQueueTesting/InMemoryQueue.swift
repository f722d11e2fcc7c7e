import Synchronization
import WorkQueue

/// An in-memory ``WorkQueueBackend`` that behaves like the Redis backend, for tests.
///
/// Every call is atomic (one lock). Items are identified by their bytes: equal items share one
/// lease, their attempts and their last error, as in Redis. Leases expire when the injected
/// clock passes them, so a crashed worker is simulated by leasing an item and advancing the
/// clock (a ``TestClock``) past the lease without renewing it.
public final class InMemoryQueue: WorkQueueBackend, DeadLetterQueue {
    private struct LeaseRecord: Sendable {
        var session: String
        var expiry: WorkInstant
    }

    private struct Scheduled: Sendable {
        var item: WorkItem
        var due: WorkInstant
        var order: UInt64
    }

    private struct State: Sendable {
        var pending: [WorkItem] = []
        var processing: [WorkItem] = []
        var leases: [WorkItem: LeaseRecord] = [:]
        var attempts: [WorkItem: Int] = [:]
        var lastErrors: [WorkItem: String] = [:]
        var results: [WorkItem: String] = [:]
        var scheduled: [Scheduled] = []
        var dead: [WorkItem] = []
        var completed = 0
        var nextOrder: UInt64 = 0
        var waiters: [UInt64: CheckedContinuation<Void, any Error>] = [:]

        func liveLease(_ item: WorkItem, at now: WorkInstant) -> LeaseRecord? {
            guard let record = leases[item], record.expiry > now else { return nil }
            return record
        }

        /// Whether `lease` may settle: the session holds the live lease, or no live lease
        /// exists and the item is still in processing (expired but not yet recovered).
        func maySettle(_ lease: Lease, at now: WorkInstant) -> Bool {
            if let live = liveLease(lease.item, at: now) { return live.session == lease.session }
            return processing.contains(lease.item)
        }

        mutating func removeFromProcessing(_ item: WorkItem) {
            if let index = processing.firstIndex(of: item) { processing.remove(at: index) }
            leases[item] = nil
        }

        mutating func takeWaiters() -> [CheckedContinuation<Void, any Error>] {
            let taken = Array(waiters.values)
            waiters.removeAll()
            return taken
        }
    }

    private let state = Mutex(State())
    private let clock: any WorkClock

    /// Creates an empty queue whose leases and retries follow `clock`.
    public init(clock: any WorkClock = SystemClock()) {
        self.clock = clock
    }

    /// Creates a queue whose pending list holds `items`, in order.
    public init(items: [WorkItem], clock: any WorkClock = SystemClock()) {
        self.clock = clock
        state.withLock { $0.pending = items }
    }

    // MARK: Inspection

    /// Items waiting to be leased, head first.
    public var pendingItems: [WorkItem] { state.withLock { $0.pending } }

    /// Items taken by a worker and not yet settled or recovered, oldest first.
    public var processingItems: [WorkItem] { state.withLock { $0.processing } }

    /// Failed items waiting for their retry time, soonest first.
    public var scheduledItems: [WorkItem] {
        state.withLock { $0.scheduled.sorted { ($0.due, $0.order) < ($1.due, $1.order) }.map(\.item) }
    }

    /// The dead letters, oldest first (the synchronous form of ``deadLetters()``).
    public var deadLetterItems: [DeadLetter] {
        state.withLock { state in
            state.dead.map { DeadLetter(item: $0, lastError: state.lastErrors[$0], attempts: state.attempts[$0]) }
        }
    }

    /// The result recorded when `item` was completed, if any.
    public func result(for item: WorkItem) -> String? { state.withLock { $0.results[item] } }

    /// Failed or abandoned attempts recorded for `item` (0 once completed or never failed).
    public func attempts(for item: WorkItem) -> Int { state.withLock { $0.attempts[item] ?? 0 } }

    /// The last error recorded for `item`, if any.
    public func lastError(for item: WorkItem) -> String? { state.withLock { $0.lastErrors[item] } }

    // MARK: WorkQueueBackend

    @discardableResult
    public func enqueue(_ items: [WorkItem]) async throws -> Int {
        let (count, waiters) = state.withLock { state in
            state.pending.append(contentsOf: items)
            return (state.pending.count, items.isEmpty ? [] : state.takeWaiters())
        }
        for waiter in waiters { waiter.resume() }
        return count
    }

    public func lease(max: Int, session: String, duration: Duration) async throws -> [Lease] {
        let now = clock.now
        return state.withLock { state in
            let take = Swift.max(0, Swift.min(max, state.pending.count))
            let items = Array(state.pending.prefix(take))
            state.pending.removeFirst(take)
            return items.map { item in
                state.processing.append(item)
                state.leases[item] = LeaseRecord(session: session, expiry: now + duration)
                return Lease(item: item, session: session, attempt: (state.attempts[item] ?? 0) + 1)
            }
        }
    }

    public func waitForWork(timeout: Duration) async throws {
        let id = state.withLock { state -> UInt64 in
            state.nextOrder += 1
            return state.nextOrder
        }
        let clock = self.clock
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await clock.sleep(for: timeout) }
            group.addTask { try await self.waitForSignal(id: id) }
            defer { group.cancelAll() }
            try await group.next()
        }
    }

    private func waitForSignal(id: UInt64) async throws {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let cancelled = state.withLock { state -> Bool in
                    if Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if cancelled { continuation.resume(throwing: CancellationError()) }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume(throwing: CancellationError())
        }
    }

    public func renew(_ leases: [Lease], duration: Duration) async throws -> [Bool] {
        let now = clock.now
        return state.withLock { state in
            leases.map { lease in
                guard let live = state.liveLease(lease.item, at: now), live.session == lease.session else { return false }
                state.leases[lease.item] = LeaseRecord(session: lease.session, expiry: now + duration)
                return true
            }
        }
    }

    public func complete(_ lease: Lease, result: String?) async throws -> SettleOutcome {
        let now = clock.now
        return state.withLock { state in
            guard state.maySettle(lease, at: now) else { return .leaseLost }
            state.removeFromProcessing(lease.item)
            state.attempts[lease.item] = nil
            state.lastErrors[lease.item] = nil
            if let result { state.results[lease.item] = result }
            state.completed += 1
            return .settled
        }
    }

    public func fail(_ lease: Lease, error: String, disposition: FailureDisposition) async throws -> SettleOutcome {
        let now = clock.now
        return state.withLock { state in
            guard state.maySettle(lease, at: now) else { return .leaseLost }
            state.removeFromProcessing(lease.item)
            state.attempts[lease.item, default: 0] += 1
            state.lastErrors[lease.item] = error
            switch disposition {
            case .retry(let delay):
                state.nextOrder += 1
                state.scheduled.append(Scheduled(item: lease.item, due: now + delay, order: state.nextOrder))
            case .deadLetter:
                state.dead.append(lease.item)
            }
            return .settled
        }
    }

    public func release(_ lease: Lease) async throws -> SettleOutcome {
        let now = clock.now
        let (outcome, waiters) = state.withLock { state -> (SettleOutcome, [CheckedContinuation<Void, any Error>]) in
            guard state.maySettle(lease, at: now) else { return (.leaseLost, []) }
            state.removeFromProcessing(lease.item)
            state.pending.insert(lease.item, at: 0)
            return (.settled, state.takeWaiters())
        }
        for waiter in waiters { waiter.resume() }
        return outcome
    }

    public func counts() async throws -> QueueCounts {
        let now = clock.now
        return state.withLock { state in
            QueueCounts(
                pending: state.pending.count,
                processing: state.processing.count,
                leased: state.processing.filter { state.liveLease($0, at: now) != nil }.count,
                scheduled: state.scheduled.count,
                dead: state.dead.count,
                completed: state.completed
            )
        }
    }

    public func recoverExpiredLeases(maxAttempts: Int) async throws -> RecoveryReport {
        let now = clock.now
        let (report, waiters) = state.withLock { state -> (RecoveryReport, [CheckedContinuation<Void, any Error>]) in
            var report = RecoveryReport()
            let expired = state.processing.filter { state.liveLease($0, at: now) == nil }
            for item in expired {
                state.removeFromProcessing(item)
                state.attempts[item, default: 0] += 1
                let attempts = state.attempts[item] ?? 1
                if attempts >= maxAttempts {
                    state.lastErrors[item] = "lease expired \(attempts) times; the worker processing it died or stalled (poison item?)"
                    state.dead.append(item)
                    report.deadLettered += 1
                } else {
                    state.pending.append(item)
                    report.requeued += 1
                }
            }
            return (report, report.requeued > 0 ? state.takeWaiters() : [])
        }
        for waiter in waiters { waiter.resume() }
        return report
    }

    public func promoteDueRetries() async throws -> Int {
        let now = clock.now
        let (promoted, waiters) = state.withLock { state -> (Int, [CheckedContinuation<Void, any Error>]) in
            let due = state.scheduled.filter { $0.due <= now }.sorted { ($0.due, $0.order) < ($1.due, $1.order) }
            guard !due.isEmpty else { return (0, []) }
            state.scheduled.removeAll { $0.due <= now }
            state.pending.append(contentsOf: due.map(\.item))
            return (due.count, state.takeWaiters())
        }
        for waiter in waiters { waiter.resume() }
        return promoted
    }

    // MARK: DeadLetterQueue

    public func deadLetters() async throws -> [DeadLetter] { deadLetterItems }

    public func retryDeadLetters() async throws -> Int {
        let (count, waiters) = state.withLock { state -> (Int, [CheckedContinuation<Void, any Error>]) in
            let dead = state.dead
            guard !dead.isEmpty else { return (0, []) }
            state.dead.removeAll()
            for item in dead {
                state.attempts[item] = nil
                state.pending.append(item)
            }
            return (dead.count, state.takeWaiters())
        }
        for waiter in waiters { waiter.resume() }
        return count
    }

    public func purgeDeadLetters() async throws -> Int {
        state.withLock { state in
            let dead = state.dead
            state.dead.removeAll()
            for item in dead {
                state.attempts[item] = nil
                state.lastErrors[item] = nil
            }
            return dead.count
        }
    }
}

import Synchronization
import WorkQueue

/// A work queue in memory that behaves like the Redis backend: FIFO pending, atomic
/// take-and-lease, leases that expire on the injected clock, retries, dead letters, recovery.
///
/// It passes the same contract suite as `RedisQueue`, so a handler tested against it meets no
/// surprise in production. Use it with a ``TestClock`` to expire leases and schedule retries
/// without sleeping.
public final class InMemoryQueue: WorkQueueBackend, DeadLetterQueue, Sendable {
    private struct LeaseRecord {
        var item: WorkItem
        var session: String
        var expires: WorkInstant
    }

    private struct Retry {
        var due: WorkInstant
        var sequence: Int
        var item: WorkItem
    }

    private struct State {
        var pending: [WorkItem] = []
        var processing: [WorkItem] = []
        /// Every take's lease, by token (one per copy of an item in processing).
        var leases: [String: LeaseRecord] = [:]
        var nextToken = 0
        var attempts: [WorkItem: Int] = [:]
        var errors: [WorkItem: String] = [:]
        var results: [WorkItem: String] = [:]
        var retries: [Retry] = []
        var retrySequence = 0
        var dead: [WorkItem] = []
        var completed = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextWaiterID = 0
        /// Heartbeat records by session, with when each was written and when it expires.
        var workers: [String: (heartbeat: WorkerHeartbeat, seen: WorkInstant, expires: WorkInstant)] = [:]

        /// The ownership rule shared by complete, fail and release: the take named by the
        /// lease's token is still recorded for its session (it may have lapsed, but nobody else
        /// can hold it until recovery removes it).
        func maySettle(_ lease: Lease) -> Bool {
            guard let record = leases[lease.token] else { return false }
            return record.session == lease.session && record.item == lease.item
        }

        mutating func removeFromProcessing(_ item: WorkItem) {
            if let index = processing.firstIndex(of: item) { processing.remove(at: index) }
        }

        /// Wakes every `waitForWork` caller; returns their continuations to resume outside the lock.
        mutating func takeWaiters() -> [CheckedContinuation<Void, Never>] {
            defer { waiters = [:] }
            return Array(waiters.values)
        }
    }

    private let clock: any WorkClock
    private let state = Mutex(State())

    /// An empty queue whose leases and retries follow `clock`.
    public init(clock: any WorkClock = SystemClock()) {
        self.clock = clock
    }

    /// A queue holding `items` as pending.
    public init(items: [WorkItem], clock: any WorkClock = SystemClock()) {
        self.clock = clock
        state.withLock { $0.pending = items }
    }

    // MARK: Inspection, for tests

    /// Items waiting to be leased, head first.
    public var pendingItems: [WorkItem] { state.withLock { $0.pending } }
    /// Items taken by some worker, oldest first.
    public var processingItems: [WorkItem] { state.withLock { $0.processing } }
    /// Dead-lettered items, oldest first.
    public var deadItems: [WorkItem] { state.withLock { $0.dead } }
    /// The stored result of a completed item.
    public func result(for item: WorkItem) -> String? { state.withLock { $0.results[item] } }
    /// Failed or abandoned attempts recorded for an item (0 when none).
    public func attempts(for item: WorkItem) -> Int { state.withLock { $0.attempts[item] ?? 0 } }
    /// The last error recorded for an item.
    public func lastError(for item: WorkItem) -> String? { state.withLock { $0.errors[item] } }
    /// When the latest lease held on `item` lapses unless renewed (nil when nobody holds it).
    public func leaseExpiry(of item: WorkItem) -> WorkInstant? {
        state.withLock { state in state.leases.values.filter { $0.item == item }.map(\.expires).max() }
    }

    // MARK: WorkQueueBackend

    @discardableResult
    public func enqueue(_ items: [WorkItem]) async throws -> Int {
        let (count, waiters) = state.withLock { state in
            state.pending.append(contentsOf: items)
            return (state.pending.count, state.takeWaiters())
        }
        waiters.forEach { $0.resume() }
        return count
    }

    public func lease(max: Int, session: String, duration: Duration) async throws -> [Lease] {
        let now = clock.now
        return state.withLock { state in
            let taken = Array(state.pending.prefix(Swift.max(0, max)))
            state.pending.removeFirst(taken.count)
            return taken.map { item in
                state.processing.append(item)
                state.nextToken += 1
                let token = "\(session):\(state.nextToken)"
                state.leases[token] = LeaseRecord(item: item, session: session, expires: now + duration)
                return Lease(item: item, session: session, attempt: (state.attempts[item] ?? 0) + 1, token: token)
            }
        }
    }

    public func waitForWork(timeout: Duration) async throws {
        if state.withLock({ !$0.pending.isEmpty }) { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await self.clock.sleep(for: timeout) }
            group.addTask { await self.waitForSignal() }
            await group.next()
            group.cancelAll()
        }
        try Task.checkCancellation()
    }

    private func waitForSignal() async {
        let id = state.withLock { state -> Int in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state -> Bool in
                    if Task.isCancelled || !state.pending.isEmpty { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume()
        }
    }

    public func renew(_ leases: [Lease], duration: Duration) async throws -> [Bool] {
        let now = clock.now
        return state.withLock { state in
            leases.map { lease in
                guard state.maySettle(lease), let record = state.leases[lease.token], record.expires > now else { return false }
                state.leases[lease.token]?.expires = now + duration
                return true
            }
        }
    }

    public func complete(_ lease: Lease, result: String?) async throws -> SettleOutcome {
        return state.withLock { state in
            guard state.maySettle(lease) else { return .leaseLost }
            state.removeFromProcessing(lease.item)
            state.leases[lease.token] = nil
            state.attempts[lease.item] = nil
            state.errors[lease.item] = nil
            if let result { state.results[lease.item] = result }
            state.completed += 1
            return .settled
        }
    }

    public func fail(_ lease: Lease, error: String, disposition: FailureDisposition) async throws -> SettleOutcome {
        let now = clock.now
        return state.withLock { state in
            guard state.maySettle(lease) else { return .leaseLost }
            state.removeFromProcessing(lease.item)
            state.leases[lease.token] = nil
            state.attempts[lease.item, default: 0] += 1
            state.errors[lease.item] = error
            switch disposition {
            case .retry(let delay):
                state.retrySequence += 1
                state.retries.append(Retry(due: now + delay, sequence: state.retrySequence, item: lease.item))
            case .deadLetter:
                state.dead.append(lease.item)
            }
            return .settled
        }
    }

    public func release(_ lease: Lease) async throws -> SettleOutcome {
        let (outcome, waiters) = state.withLock { state -> (SettleOutcome, [CheckedContinuation<Void, Never>]) in
            guard state.maySettle(lease) else { return (.leaseLost, []) }
            state.removeFromProcessing(lease.item)
            state.leases[lease.token] = nil
            state.pending.insert(lease.item, at: 0)
            return (.settled, state.takeWaiters())
        }
        waiters.forEach { $0.resume() }
        return outcome
    }

    public func counts() async throws -> QueueCounts {
        let now = clock.now
        return state.withLock { state in
            QueueCounts(
                pending: state.pending.count,
                processing: state.processing.count,
                leased: state.leases.values.filter { $0.expires > now }.count,
                scheduled: state.retries.count,
                dead: state.dead.count,
                completed: state.completed,
                workers: state.workers.values.filter { $0.expires > now }.count
            )
        }
    }

    public func recoverExpiredLeases(maxAttempts: Int) async throws -> RecoveryReport {
        let now = clock.now
        let (report, waiters) = state.withLock { state -> (RecoveryReport, [CheckedContinuation<Void, Never>]) in
            var report = RecoveryReport()
            // Takes whose lease expired, oldest first.
            let expired = state.leases.filter { $0.value.expires <= now }.sorted { $0.value.expires < $1.value.expires }
            for (token, _) in expired { state.leases[token] = nil }
            for item in expired.map(\.value.item) {
                state.removeFromProcessing(item)
                let attempts = (state.attempts[item] ?? 0) + 1
                state.attempts[item] = attempts
                if attempts >= maxAttempts {
                    state.errors[item] = Self.expiredLeaseError(attempts: attempts)
                    state.dead.append(item)
                    report.deadLettered += 1
                } else {
                    state.pending.append(item)
                    report.requeued += 1
                }
            }
            return (report, report.requeued > 0 ? state.takeWaiters() : [])
        }
        waiters.forEach { $0.resume() }
        return report
    }

    /// The error recorded for an item dead-lettered by recovery.
    static func expiredLeaseError(attempts: Int) -> String {
        "lease expired \(attempts) times; the worker processing it died or stalled (poison item?)"
    }

    public func promoteDueRetries() async throws -> Int {
        let now = clock.now
        let (count, waiters) = state.withLock { state -> (Int, [CheckedContinuation<Void, Never>]) in
            let due = state.retries.filter { $0.due <= now }.sorted { ($0.due, $0.sequence) < ($1.due, $1.sequence) }
            guard !due.isEmpty else { return (0, []) }
            let promoted = Set(due.map(\.sequence))
            state.retries.removeAll { promoted.contains($0.sequence) }
            state.pending.append(contentsOf: due.map(\.item))
            return (due.count, state.takeWaiters())
        }
        waiters.forEach { $0.resume() }
        return count
    }

    public func heartbeat(_ heartbeat: WorkerHeartbeat, ttl: Duration) async throws {
        let now = clock.now
        state.withLock { state in
            state.workers = state.workers.filter { $0.value.expires > now }
            state.workers[heartbeat.session] = (heartbeat, now, now + ttl)
        }
    }

    public func removeHeartbeat(session: String) async throws {
        _ = state.withLock { $0.workers.removeValue(forKey: session) }
    }

    public func liveWorkers() async throws -> [LiveWorker] {
        let now = clock.now
        return state.withLock { state in
            state.workers.values.filter { $0.expires > now }
                .sorted { $0.heartbeat.session < $1.heartbeat.session }
                .map { LiveWorker(heartbeat: $0.heartbeat, lastSeen: now - $0.seen, expiresIn: $0.expires - now) }
        }
    }

    // MARK: DeadLetterQueue

    public func deadLetters() async throws -> [DeadLetter] {
        state.withLock { state in
            state.dead.map { DeadLetter(item: $0, lastError: state.errors[$0], attempts: state.attempts[$0]) }
        }
    }

    public func retryDeadLetters() async throws -> Int {
        let (count, waiters) = state.withLock { state -> (Int, [CheckedContinuation<Void, Never>]) in
            let dead = state.dead
            state.dead = []
            for item in dead {
                state.attempts[item] = nil
                state.errors[item] = nil
            }
            state.pending.append(contentsOf: dead)
            return (dead.count, state.takeWaiters())
        }
        waiters.forEach { $0.resume() }
        return count
    }

    public func purgeDeadLetters() async throws -> Int {
        state.withLock { state in
            let dead = state.dead
            state.dead = []
            for item in dead {
                state.attempts[item] = nil
                state.errors[item] = nil
            }
            return dead.count
        }
    }
}

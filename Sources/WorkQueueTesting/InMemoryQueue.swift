import Synchronization
import WorkQueue

/// A work queue in memory that behaves like the Redis backend: FIFO pending, atomic
/// take-and-lease, leases that expire on the injected clock, retries, dead letters, recovery.
///
/// It passes the same contract suite as `RedisQueue`, so a handler tested against it meets no
/// surprise in production. Use it with a ``TestClock`` to expire leases and schedule retries
/// without sleeping.
public final class InMemoryQueue: WorkQueueBackend, DeadLetterQueue, CompletionLog, QueueControlling, CancelledItemsReading,
    WorkerRecords, QueueRecovery, Sendable {
    private struct LeaseRecord {
        var item: WorkItem
        var session: String
        var expires: WorkInstant
        /// The copy's latest checkpoint (handed at the take or saved with a renewal).
        var checkpoint: [UInt8]? = nil
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
        /// Checkpoints of copies released, failed or recovered with one, waiting for their
        /// redelivery: the next take of an equal item gets it and removes it.
        var checkpoints: [WorkItem: [UInt8]] = [:]
        /// The completion records, oldest first, as `NAME:results` keeps them.
        var records: [CompletionRecord] = []
        var recordSequence = 0
        var droppedRecords = 0
        /// ``InMemoryQueue/resultsMax``.
        var resultsMax: Int?
        var retries: [Retry] = []
        var retrySequence = 0
        /// Items pushed with a uniqueness window, and when that window ends (`NAME:unique`).
        var unique: [WorkItem: WorkInstant] = [:]
        var dead: [WorkItem] = []
        var completed = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextWaiterID = 0
        /// Heartbeat records by session, with when each was written and when it expires.
        var workers: [String: (heartbeat: WorkerHeartbeat, seen: WorkInstant, expires: WorkInstant)] = [:]
        /// Set by ``InMemoryQueue/loseNextExchangeReply()``: the next exchange takes effect, then throws.
        var loseNextReply = false
        /// What an exchange whose reply was lost did, by session: the settlements' tokens, their
        /// outcomes and the leases it took, answered again when the same call is retried.
        var lostReplies: [String: (tokens: [String], outcomes: [SettleOutcome], leases: [Lease])] = [:]
        /// The operator's marks (`NAME:control` in Redis).
        var control = QueueControl()
        /// Items a cancel moved aside (`NAME:cancelled`).
        var cancelled: [WorkItem] = []
        /// The rate limit's theoretical arrival time, µs of the queue's clock (`NAME:rate`).
        var rateTAT: Double?

        /// The ownership rule shared by complete, fail and release: the take named by the
        /// lease's token is still recorded for its session (it may have lapsed, but nobody else
        /// can hold it until recovery removes it).
        func maySettle(_ lease: Lease) -> Bool {
            guard let record = leases[lease.token] else { return false }
            return record.session == lease.session && record.item == lease.item
        }

        mutating func removeFromProcessing(_ item: WorkItem, newestFirst: Bool = false) {
            let index = newestFirst ? processing.lastIndex(of: item) : processing.firstIndex(of: item)
            if let index { processing.remove(at: index) }
        }

        /// Settles one lease as the Redis script does; the one settle path of this queue.
        mutating func settle(_ settlement: Settlement, now: WorkInstant) -> SettleOutcome {
            let lease = settlement.lease
            guard maySettle(lease) else { return .leaseLost }
            // The copy's latest checkpoint: the one it carries, else the one stored with its lease.
            let latest = lease.checkpoint ?? leases[lease.token]?.checkpoint
            leases[lease.token] = nil
            switch settlement {
            case let .complete(_, result):
                removeFromProcessing(lease.item)
                attempts[lease.item] = nil
                errors[lease.item] = nil
                if let result {
                    results[lease.item] = result
                    record(CompletionRecord(id: "", item: lease.item, result: result, attempt: lease.attempt,
                                            worker: lease.session), now: now)
                }
                completed += 1
            case let .fail(_, error, disposition):
                removeFromProcessing(lease.item)
                attempts[lease.item, default: 0] += 1
                errors[lease.item] = error
                switch disposition {
                case .retry(let delay):
                    retrySequence += 1
                    retries.append(Retry(due: now + delay, sequence: retrySequence, item: lease.item))
                    if let latest { checkpoints[lease.item] = latest }
                case .deadLetter:
                    dead.append(lease.item)
                }
            case .release:
                // Taken last, so found from the tail, as Redis's LREM -1 does.
                removeFromProcessing(lease.item, newestFirst: true)
                pending.insert(lease.item, at: 0)
                if let latest { checkpoints[lease.item] = latest }
            }
            return .settled
        }

        /// Settles `settlements` in the protocol's settle order, as the Redis script does:
        /// the completions first, in their order, then the failures and releases, in theirs.
        /// The outcomes come back in the order given.
        mutating func settleInOrder(_ settlements: [Settlement], now: WorkInstant) -> [SettleOutcome] {
            var outcomes = [SettleOutcome](repeating: .leaseLost, count: settlements.count)
            for (index, settlement) in settlements.enumerated() {
                if case .complete = settlement { outcomes[index] = settle(settlement, now: now) }
            }
            for (index, settlement) in settlements.enumerated() {
                if case .complete = settlement { continue }
                outcomes[index] = settle(settlement, now: now)
            }
            return outcomes
        }

        /// Appends a completion record (its ID: the clock's milliseconds and a sequence number),
        /// then drops the oldest beyond the bound, counting them.
        mutating func record(_ record: CompletionRecord, now: WorkInstant) {
            var record = record
            recordSequence += 1
            let (seconds, attoseconds) = now.sinceOrigin.components
            let ms = max(0, seconds * 1000 + attoseconds / 1_000_000_000_000_000)
            let last = records.last?.position ?? CompletionRecord.Position("0-0")
            let time = max(Int(ms), last?.milliseconds ?? 0)
            record.id = "\(time)-\(recordSequence)"
            records.append(record)
            if let bound = resultsMax, records.count > bound {
                let excess = records.count - bound
                records.removeFirst(excess)
                droppedRecords += excess
            }
        }

        /// Takes up to `max` items from the head of pending, stopping once their bytes reach
        /// `budget` (after at least one), as the Redis take does.
        /// An item longer than `limit` is dead-lettered instead of handed out (it spends the
        /// count and the budget too).
        mutating func take(max: Int, session: String, duration: Duration, now: WorkInstant, budget: Int, limit: Int) -> [Lease] {
            var taken: [Lease] = []
            var bytes = 0
            var moved = 0
            while moved < max, !pending.isEmpty, moved == 0 || bytes < budget {
                let item = pending.removeFirst()
                bytes += item.bytes.count
                moved += 1
                if item.bytes.count > limit {
                    dead.append(item)
                    continue
                }
                processing.append(item)
                nextToken += 1
                let token = "\(session):\(nextToken)"
                // A redelivered copy's checkpoint goes to this lease alone.
                let handed = checkpoints.removeValue(forKey: item)
                leases[token] = LeaseRecord(item: item, session: session, expires: now + duration, checkpoint: handed)
                taken.append(Lease(item: item, session: session, attempt: (attempts[item] ?? 0) + 1, token: token,
                                   checkpoint: handed))
            }
            return taken
        }

        /// Moves retries whose time has come to the tail of pending, soonest first; returns how
        /// many. At most `most` of them, stopping once their bytes reach `budget` (after at
        /// least one), as the Redis take's promotion does.
        mutating func promoteDue(now: WorkInstant, most: Int = .max, budget: Int = .max) -> Int {
            var due: [Retry] = []
            var bytes = 0
            for retry in retries.filter({ $0.due <= now }).sorted(by: { ($0.due, $0.sequence) < ($1.due, $1.sequence) }) {
                guard due.count < most, due.isEmpty || bytes < budget else { break }
                due.append(retry)
                bytes += retry.item.bytes.count
            }
            guard !due.isEmpty else { return 0 }
            let promoted = Set(due.map(\.sequence))
            retries.removeAll { promoted.contains($0.sequence) }
            pending.append(contentsOf: due.map(\.item))
            return due.count
        }

        /// Wakes every `waitForWork` caller; returns their continuations to resume outside the lock.
        mutating func takeWaiters() -> [CheckedContinuation<Void, Never>] {
            defer { waiters = [:] }
            return Array(waiters.values)
        }
    }

    private let clock: any WorkClock
    private let state = Mutex(State())
    /// The push trace contexts by item (`NAME:push-traces` in Redis), `PushTraceStore`.
    private let pushTraceEntries = Mutex<[WorkItem: String]>([:])
    /// The fleet-wide limit every take applies, as `RedisQueue.Options.rateLimit` does.
    public let rateLimit: RateLimit?
    /// Items longer than this are never handed out: a take dead-letters them (as
    /// `RedisQueue.Options.maxItemBytes` does; the same default, 4 MiB).
    public let maxItemBytes: Int

    /// The default ``maxItemBytes``: 4 MiB, as Redis's.
    public static let defaultMaxItemBytes = 4 << 20

    /// An empty queue whose leases and retries follow `clock`; takes start at most `rateLimit`;
    /// `resultsMax` bounds the completion records as `RedisQueue`'s option of that name does
    /// (nil: no bound); a take dead-letters items longer than `maxItemBytes`.
    public init(clock: any WorkClock = SystemClock(), rateLimit: RateLimit? = nil, resultsMax: Int? = nil,
                maxItemBytes: Int = InMemoryQueue.defaultMaxItemBytes) {
        self.clock = clock
        self.rateLimit = rateLimit
        self.maxItemBytes = Swift.max(1, maxItemBytes)
        state.withLock { $0.resultsMax = resultsMax.map { Swift.max(0, $0) } }
    }

    /// A queue holding `items` as pending.
    public init(items: [WorkItem], clock: any WorkClock = SystemClock(), rateLimit: RateLimit? = nil) {
        self.clock = clock
        self.rateLimit = rateLimit
        self.maxItemBytes = Self.defaultMaxItemBytes
        state.withLock { $0.pending = items }
    }

    // MARK: Inspection, for tests

    /// Items waiting to be leased, head first.
    public var pendingItems: [WorkItem] { state.withLock { $0.pending } }
    /// Items taken by some worker, oldest first.
    public var processingItems: [WorkItem] { state.withLock { $0.processing } }
    /// Dead-lettered items, oldest first.
    public var deadItems: [WorkItem] { state.withLock { $0.dead } }
    /// The completion records kept (items whose handler returned a result), oldest first.
    public var completionRecords: [CompletionRecord] { state.withLock { $0.records } }
    /// The latest result stored for a completed item.
    public func result(for item: WorkItem) -> String? { state.withLock { $0.results[item] } }
    /// Failed or abandoned attempts recorded for an item (0 when none).
    public func attempts(for item: WorkItem) -> Int { state.withLock { $0.attempts[item] ?? 0 } }
    /// The last error recorded for an item.
    public func lastError(for item: WorkItem) -> String? { state.withLock { $0.errors[item] } }
    /// The checkpoint stored for `item`: one waiting for a copy's redelivery, else the latest
    /// of a lease holding a copy (nil when none is).
    public func checkpoint(for item: WorkItem) -> [UInt8]? {
        state.withLock { state in
            state.checkpoints[item] ?? state.leases.values.filter { $0.item == item }.compactMap(\.checkpoint).first
        }
    }

    /// When the latest lease held on `item` lapses unless renewed (nil when nobody holds it).
    public func leaseExpiry(of item: WorkItem) -> WorkInstant? {
        state.withLock { state in state.leases.values.filter { $0.item == item }.map(\.expires).max() }
    }

    // MARK: CompletionLog

    /// At most `limit` records after the one with ID `after` (nil: the oldest).
    public func completions(after: String?, limit: Int) async throws -> [CompletionRecord] {
        let position = after.flatMap(CompletionRecord.Position.init)
        return state.withLock { state in
            let start = position.map { position in state.records.firstIndex { ($0.position.map { $0 > position }) ?? false } ?? state.records.count } ?? 0
            return Array(state.records[start...].prefix(Swift.min(Swift.max(limit, 1), 1000)))
        }
    }

    /// Deletes the records with these IDs.
    @discardableResult
    public func deleteCompletions(_ ids: [String]) async throws -> Int {
        let doomed = Set(ids)
        return state.withLock { state in
            let before = state.records.count
            state.records.removeAll { doomed.contains($0.id) }
            return before - state.records.count
        }
    }

    /// The records kept, and how many the bound dropped.
    public func completionCounts() async throws -> (kept: Int, dropped: Int) {
        state.withLock { ($0.records.count, $0.droppedRecords) }
    }

    // MARK: WorkQueueBackend

    /// Appends `items` to the tail of pending and wakes the workers waiting for work; returns the
    /// pending count.
    @discardableResult
    public func enqueue(_ items: [WorkItem]) async throws -> Int {
        let (count, waiters) = state.withLock { state in
            state.pending.append(contentsOf: items)
            return (state.pending.count, state.takeWaiters())
        }
        waiters.forEach { $0.resume() }
        return count
    }

    /// A take stops once its items add up to this many bytes (after at least one), as the
    /// Redis backend's does.
    public static let takeByteBudget = 1 << 20

    /// Makes the next ``exchange(_:lease:session:duration:)`` take effect and then throw, as if
    /// its reply had been lost; the same call retried answers what it did.
    public func loseNextExchangeReply() {
        state.withLock { $0.loseNextReply = true }
    }

    /// Takes and settles in one atomic step (one lock), in the settle order of
    /// `WorkQueueBackend` (the take, then the completions, then the failures and releases, as
    /// the Redis script does) and with the Redis take's bounds: at most `max` items and
    /// ``takeByteBudget`` bytes after the first, due retries promoted within the same count and
    /// budget when nothing is pending, items over ``maxItemBytes`` dead-lettered. Complete,
    /// fail and release are this with one settlement and no take.
    public func exchange(_ settlements: [Settlement], lease max: Int, session: String, duration: Duration) async throws -> ExchangeResult {
        struct LostReply: Error, CustomStringConvertible {
            var description: String { "the exchange's reply was lost (InMemoryQueue.loseNextExchangeReply)" }
        }
        let now = clock.now
        let tokens = settlements.map(\.lease.token)
        let limit = rateLimit
        let (result, lost, waiters) = state.withLock { state -> (ExchangeResult, Bool, [CheckedContinuation<Void, Never>]) in
            let outcomes: [SettleOutcome]
            var leases: [Lease] = []
            var retryAfter: Duration?
            if let earlier = state.lostReplies[session], earlier.tokens == tokens {
                // A retry of a call that took effect: the same answer, the leases extended.
                // (Another call of the session, made meanwhile by a worker that pipelines its
                // exchanges, leaves the record for the retry.)
                state.lostReplies[session] = nil
                outcomes = earlier.outcomes
                for lease in earlier.leases where state.leases[lease.token] != nil {
                    state.leases[lease.token]?.expires = now + duration
                    leases.append(lease)
                }
            } else {
                // As the Redis script: take first (promoting due retries when pending is empty),
                // then settle (completions first), so an item released here is not taken back
                // by the same call.
                var max = state.control.holdsTakes ? 0 : max
                var cut = false
                let micros = Self.microseconds(now)
                if let limit, max > 0 {
                    let grant = RateLimiter.grant(tat: state.rateTAT, now: micros, interval: limit.intervalMicroseconds,
                                                  burst: limit.burst, want: max)
                    cut = grant.allowed < max
                    max = grant.allowed
                }
                if max > 0 {
                    // Due retries, within the take's own count and byte budget.
                    if state.pending.isEmpty { _ = state.promoteDue(now: now, most: max, budget: Self.takeByteBudget) }
                    leases = state.take(max: max, session: session, duration: duration, now: now, budget: Self.takeByteBudget,
                                        limit: maxItemBytes)
                }
                if let limit, max > 0 || cut {
                    if !leases.isEmpty {
                        state.rateTAT = RateLimiter.advance(tat: state.rateTAT, now: micros, interval: limit.intervalMicroseconds,
                                                            taken: leases.count)
                    }
                    if cut && leases.count == max && !state.pending.isEmpty {
                        retryAfter = .milliseconds(RateLimiter.waitMilliseconds(tat: state.rateTAT ?? micros, now: micros,
                                                                                interval: limit.intervalMicroseconds,
                                                                                burst: limit.burst))
                    }
                }
                outcomes = state.settleInOrder(settlements, now: now)
            }
            let lost = state.loseNextReply
            if lost {
                state.loseNextReply = false
                state.lostReplies[session] = (tokens, outcomes, leases)
            }
            let counts = QueueCounts(pending: state.pending.count, processing: state.processing.count, scheduled: state.retries.count,
                                     dead: state.dead.count)
            return (ExchangeResult(outcomes: outcomes, leases: leases, counts: counts, control: state.control, retryAfter: retryAfter), lost,
                    state.pending.isEmpty ? [] : state.takeWaiters())
        }
        waiters.forEach { $0.resume() }
        if lost { throw LostReply() }
        return result
    }

    /// Returns at once when items are pending; otherwise suspends until an item is pushed,
    /// requeued or promoted, or `timeout` passes on the queue's clock.
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

    /// Extends each lease that its session still holds and that has not expired on the clock,
    /// and stores each non-nil checkpoint with its lease (that copy's alone); false for the
    /// others, which are left as they are. The timeout is not needed: nothing here waits.
    public func renew(_ request: RenewRequest) async throws -> [Bool] {
        let now = clock.now
        return state.withLock { state in
            request.leases.enumerated().map { index, lease in
                guard state.maySettle(lease), let record = state.leases[lease.token], record.expires > now else { return false }
                state.leases[lease.token]?.expires = now + request.duration
                if let bytes = request.checkpoint(at: index) { state.leases[lease.token]?.checkpoint = bytes }
                return true
            }
        }
    }

    /// ``renew(_:)`` and the control marks, in one step.
    public func renewReadingControl(_ request: RenewRequest) async throws -> RenewReply {
        let owned = try await renew(request)
        return RenewReply(owned: owned, control: state.withLock { QueueControl(paused: $0.control.paused, cancelled: $0.control.cancelled) })
    }

    /// Every count, leases and live workers included, read in one step.
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

    /// Returns the items whose lease expired on the clock to the tail of pending, counting an
    /// attempt, or dead-letters those whose attempts reach `maxAttempts`.
    public func recoverExpiredLeases(maxAttempts: Int) async throws -> RecoveryReport {
        let now = clock.now
        let (report, waiters) = state.withLock { state -> (RecoveryReport, [CheckedContinuation<Void, Never>]) in
            var report = RecoveryReport()
            // Takes whose lease expired, oldest first.
            let expired = state.leases.filter { $0.value.expires <= now }.sorted { $0.value.expires < $1.value.expires }
            for (token, _) in expired { state.leases[token] = nil }
            for record in expired.map(\.value) {
                let item = record.item
                state.removeFromProcessing(item)
                let attempts = (state.attempts[item] ?? 0) + 1
                state.attempts[item] = attempts
                if attempts >= maxAttempts {
                    state.errors[item] = Self.expiredLeaseError(attempts: attempts)
                    state.dead.append(item)
                    report.deadLettered += 1
                } else {
                    state.pending.append(item)
                    if let checkpoint = record.checkpoint { state.checkpoints[item] = checkpoint }
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

    /// Moves the retries due on the clock to the tail of pending, earliest first; returns how many.
    public func promoteDueRetries() async throws -> Int {
        let now = clock.now
        let (count, waiters) = state.withLock { state -> (Int, [CheckedContinuation<Void, Never>]) in
            let count = state.promoteDue(now: now)
            return (count, count > 0 ? state.takeWaiters() : [])
        }
        waiters.forEach { $0.resume() }
        return count
    }

    /// Promotes every due retry, then recovers expired leases: on every call (one process,
    /// no fleet to take turns with).
    public func maintain(maxAttempts: Int, interval: Duration, session: String) async throws -> RecoveryReport? {
        _ = try await promoteDueRetries()
        return try await recoverExpiredLeases(maxAttempts: maxAttempts)
    }

    /// Whether the queue is drained now: nothing pending, in processing or scheduled.
    public func finishIfDrained(session: String) async throws -> Bool {
        state.withLock { $0.pending.isEmpty && $0.processing.isEmpty && $0.retries.isEmpty }
    }

    /// Records `heartbeat` for `ttl` on the clock and drops the records that expired.
    public func heartbeat(_ heartbeat: WorkerHeartbeat, ttl: Duration) async throws {
        let now = clock.now
        state.withLock { state in
            state.workers = state.workers.filter { $0.value.expires > now }
            state.workers[heartbeat.session] = (heartbeat, now, now + ttl)
        }
    }

    /// Removes the heartbeat record of `session`.
    public func removeHeartbeat(session: String) async throws {
        _ = state.withLock { $0.workers.removeValue(forKey: session) }
    }

    /// The workers whose heartbeat record has not expired, by session.
    public func liveWorkers() async throws -> [LiveWorker] {
        let now = clock.now
        return state.withLock { state in
            state.workers.values.filter { $0.expires > now }
                .sorted { $0.heartbeat.session < $1.heartbeat.session }
                .map { LiveWorker(heartbeat: $0.heartbeat, lastSeen: now - $0.seen, expiresIn: $0.expires - now) }
        }
    }

    // MARK: DeadLetterQueue

    // MARK: Pause, resume, cancel

    /// The marks and how many items are aside.
    public func control() async throws -> QueueControl {
        state.withLock { state in
            var control = state.control
            control.cancelledItems = state.cancelled.count
            return control
        }
    }

    /// Sets or clears the pause mark.
    public func setPaused(_ paused: Bool) async throws {
        state.withLock { $0.control.paused = paused }
    }

    /// One cancel page: with `mark`, marks the queue cancelled first; without, moves only while
    /// it is marked. Up to `max` pending items, then scheduled retries (soonest first), move
    /// aside (the fake has no byte budget).
    public func cancelPage(max: Int, mark: Bool) async throws -> ControlPage {
        state.withLock { state in
            if mark { state.control.cancelled = true }
            guard state.control.cancelled else {
                return ControlPage(moved: 0, remaining: state.pending.count + state.retries.count, cancelled: false)
            }
            let max = Swift.max(1, max)
            let fromPending = Swift.min(max, state.pending.count)
            state.cancelled += state.pending.prefix(fromPending)
            state.pending.removeFirst(fromPending)
            let due = state.retries.sorted { ($0.due, $0.sequence) < ($1.due, $1.sequence) }.prefix(max - fromPending)
            let moved = Set(due.map(\.sequence))
            state.retries.removeAll { moved.contains($0.sequence) }
            state.cancelled += due.map(\.item)
            return ControlPage(moved: fromPending + due.count, remaining: state.pending.count + state.retries.count, cancelled: true)
        }
    }

    /// Clears the cancel mark.
    public func clearCancelled() async throws {
        state.withLock { $0.control.cancelled = false }
    }

    /// The items aside, oldest first, from `offset`.
    public func cancelledItems(offset: Int, limit: Int) async throws -> [WorkItem] {
        state.withLock { state in
            let start = Swift.min(Swift.max(0, offset), state.cancelled.count)
            return Array(state.cancelled[start..<Swift.min(state.cancelled.count, start + Swift.max(1, limit))])
        }
    }

    /// One restore page: with `clearCancel`, clears the cancel mark first; then up to `max`
    /// items from aside back to the tail of pending (the fake has no holds or byte budget).
    public func restorePage(max: Int, clearCancel: Bool, hold: String?) async throws -> ControlPage {
        let (page, waiters) = state.withLock { state in
            if clearCancel { state.control.cancelled = false }
            let count = Swift.min(Swift.max(1, max), state.cancelled.count)
            state.pending += state.cancelled.prefix(count)
            state.cancelled.removeFirst(count)
            return (ControlPage(moved: count, remaining: state.cancelled.count, cancelled: state.control.cancelled),
                    count > 0 ? state.takeWaiters() : [])
        }
        waiters.forEach { $0.resume() }
        return page
    }

    private static func microseconds(_ instant: WorkInstant) -> Double {
        let (seconds, attoseconds) = instant.sinceOrigin.components
        return Double(seconds) * 1_000_000 + Double(attoseconds / 1_000_000_000_000)
    }

    /// The dead-lettered items, oldest first, with their last error and attempts.
    public func deadLetters() async throws -> [DeadLetter] {
        state.withLock { state in
            state.dead.map { DeadLetter(item: $0, lastError: state.errors[$0], attempts: state.attempts[$0]) }
        }
    }

    /// Moves every dead letter to the tail of pending with its attempts and error cleared; returns
    /// how many.
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

    /// Deletes every dead letter with its attempts, error and checkpoint; returns how many.
    public func purgeDeadLetters() async throws -> Int {
        state.withLock { state in
            let dead = state.dead
            state.dead = []
            for item in dead {
                state.attempts[item] = nil
                state.errors[item] = nil
                state.checkpoints[item] = nil
            }
            return dead.count
        }
    }
}

// MARK: EnqueueingWithOptions

extension InMemoryQueue: EnqueueingWithOptions {
    /// Pushes as the Redis backend's `push-with-options` script does, on the queue's clock:
    /// items within the running uniqueness window of an equal item are skipped (windows that
    /// ended are forgotten first); the others are appended to pending, or with a delay
    /// scheduled with the retries (counted as scheduled, promoted when due).
    public func enqueue(_ items: [WorkItem], options: EnqueueOptions) async throws -> EnqueueReport {
        let now = clock.now
        let (report, waiters) = state.withLock { state -> (EnqueueReport, [CheckedContinuation<Void, Never>]) in
            var kept: [WorkItem] = []
            var skipped = 0
            if let window = options.uniqueWindow {
                state.unique = state.unique.filter { $0.value > now }
                for item in items {
                    if let end = state.unique[item], end > now {
                        skipped += 1
                    } else {
                        state.unique[item] = now + window
                        kept.append(item)
                    }
                }
            } else {
                kept = items
            }
            if options.delay > .zero {
                for item in kept {
                    state.retrySequence += 1
                    state.retries.append(Retry(due: now + options.delay, sequence: state.retrySequence, item: item))
                }
                return (EnqueueReport(pushed: kept.count, skipped: skipped, pending: state.pending.count), [])
            }
            state.pending.append(contentsOf: kept)
            return (EnqueueReport(pushed: kept.count, skipped: skipped, pending: state.pending.count),
                    kept.isEmpty ? [] : state.takeWaiters())
        }
        waiters.forEach { $0.resume() }
        return report
    }
}

/// The push trace contexts, as `NAME:push-traces` keeps them (per item value, no expiry here).
extension InMemoryQueue: PushTraceStore {
    /// Records `context` for each of `items` (equal items share one entry: the latest).
    public func storePushTrace(_ context: String, for items: [WorkItem]) async throws {
        pushTraceEntries.withLock { entries in
            for item in items { entries[item] = context }
        }
    }

    /// The stored context of each of `items`, in their order; nil where there is none.
    public func pushTraces(for items: [WorkItem]) async throws -> [String?] {
        pushTraceEntries.withLock { entries in items.map { entries[$0] } }
    }

    /// Forgets the stored contexts of `items`.
    public func forgetPushTraces(for items: [WorkItem]) async throws {
        pushTraceEntries.withLock { entries in
            for item in items { entries[item] = nil }
        }
    }
}

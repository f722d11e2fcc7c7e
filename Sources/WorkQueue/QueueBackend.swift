/// A lease: the right to process one item until it is renewed, completed, failed or released.
///
/// Each take gets its own ``token`` (a fencing token): renew and settle act only on the take
/// that token names, so a settle retried after a timeout can never touch a copy of the item
/// that another worker holds, and two equal items (the same bytes pushed twice) are two leases.
public struct Lease: Sendable, Hashable {
    /// The leased item.
    public let item: WorkItem
    /// The session (worker process) that holds the lease.
    public let session: String
    /// This delivery's attempt number: 1 + the failed or abandoned attempts recorded so far.
    public let attempt: Int
    /// Names this one take of the item; unique across the fleet. Empty for a lease the backend
    /// never issued (it owns nothing).
    public let token: String
    /// The item's checkpoint: the one stored when the item was taken (saved by an earlier
    /// attempt), and in a settlement the last one this attempt's handler saved. Nil when there
    /// is none; a settlement with one makes the backend delete the item's stored checkpoint
    /// when the item completes or is dead-lettered.
    public var checkpoint: [UInt8]?

    /// A lease of `item` to `session`; backends make them, tests may too.
    public init(item: WorkItem, session: String, attempt: Int, token: String = "", checkpoint: [UInt8]? = nil) {
        self.item = item
        self.session = session
        self.attempt = attempt
        self.token = token
        self.checkpoint = checkpoint
    }
}

/// How a held lease ends, handed to ``WorkQueueBackend/exchange(_:lease:session:duration:)``.
public enum Settlement: Sendable, Hashable {
    /// The handler returned: ``WorkQueueBackend/complete(_:result:)``.
    case complete(Lease, result: String?)
    /// The handler threw: ``WorkQueueBackend/fail(_:error:disposition:)``.
    case fail(Lease, error: String, disposition: FailureDisposition)
    /// Shutdown interrupted it, or it was never started: ``WorkQueueBackend/release(_:)``.
    case release(Lease)

    /// The lease being settled.
    public var lease: Lease {
        switch self {
        case let .complete(lease, _), let .fail(lease, _, _), let .release(lease): lease
        }
    }
}

/// What one ``WorkQueueBackend/exchange(_:lease:session:duration:)`` call did.
public struct ExchangeResult: Sendable, Hashable {
    /// One outcome per settlement, in order.
    public var outcomes: [SettleOutcome]
    /// The items newly leased, head of the queue first.
    public var leases: [Lease]
    /// The queue's counts right after the call (``QueueCounts/leased`` may be nil).
    public var counts: QueueCounts
    /// The queue's pause and cancel marks as the take read them (``QueueControl/cancelledItems``
    /// is nil here).
    public var control: QueueControl
    /// Set when the fleet-wide rate limit held the take back while items were pending: wait
    /// this long before asking for more.
    public var retryAfter: Duration?

    /// What an exchange did, as a backend reports it.
    public init(outcomes: [SettleOutcome], leases: [Lease], counts: QueueCounts, control: QueueControl = QueueControl(),
                retryAfter: Duration? = nil) {
        self.outcomes = outcomes
        self.leases = leases
        self.counts = counts
        self.control = control
        self.retryAfter = retryAfter
    }
}

/// A consistent snapshot of a queue's state, read atomically.
public struct QueueCounts: Sendable, Hashable, Codable {
    /// Items waiting to be leased.
    public var pending: Int
    /// Items taken by some worker (leased, or whose lease expired and awaits recovery).
    public var processing: Int
    /// Items of `processing` whose lease is alive (nil where the backend cannot say cheaply).
    public var leased: Int?
    /// Failed items waiting for their retry time.
    public var scheduled: Int
    /// Dead-lettered items.
    public var dead: Int
    /// Items completed so far (nil where not tracked).
    public var completed: Int?
    /// Workers whose heartbeat record is alive (nil where not read).
    public var workers: Int?

    /// Counts as a backend read them; the ones a backend does not know are nil.
    public init(pending: Int, processing: Int, leased: Int? = nil, scheduled: Int, dead: Int, completed: Int? = nil,
                workers: Int? = nil) {
        self.pending = pending
        self.processing = processing
        self.leased = leased
        self.scheduled = scheduled
        self.dead = dead
        self.completed = completed
        self.workers = workers
    }

    /// Nothing pending, nothing in flight anywhere, no retry scheduled: the job is done.
    public var isDrained: Bool { pending == 0 && processing == 0 && scheduled == 0 }

    /// The counts of several queues (the shards of one) added up; ``leased`` and ``completed``
    /// are nil when any part's are.
    public init(summing parts: [QueueCounts]) {
        self.init(pending: 0, processing: 0, leased: 0, scheduled: 0, dead: 0, completed: 0)
        for part in parts {
            pending += part.pending
            processing += part.processing
            scheduled += part.scheduled
            dead += part.dead
            leased = part.leased.flatMap { value in leased.map { $0 + value } }
            completed = part.completed.flatMap { value in completed.map { $0 + value } }
        }
        // A sharded worker keeps its heartbeat record on the first shard only.
        workers = parts.first?.workers
    }
}

/// What became of a complete, fail or release call.
public enum SettleOutcome: Sendable, Hashable {
    /// The call took effect.
    case settled
    /// The session no longer owned the lease (it expired and was recovered, or another worker
    /// holds it now): nothing was changed, and the item belongs to someone else.
    case leaseLost
}

/// What to do with an item whose handler failed.
public enum FailureDisposition: Sendable, Hashable {
    /// Schedule it to be pending again after `delay`.
    case retry(after: Duration)
    /// Move it to the dead letters with the error.
    case deadLetter
}

/// What one recovery pass did.
public struct RecoveryReport: Sendable, Hashable {
    /// Items whose lease had expired, returned to pending with an attempt counted.
    public var requeued: Int
    /// Items whose lease had expired and whose attempts had run out.
    public var deadLettered: Int

    /// A report of a recovery pass (an empty one by default).
    public init(requeued: Int = 0, deadLettered: Int = 0) {
        self.requeued = requeued
        self.deadLettered = deadLettered
    }
}

/// A dead-lettered item with what is known of its failures.
public struct DeadLetter: Sendable, Hashable {
    /// The dead-lettered item, as pushed.
    public var item: WorkItem
    /// The last error message (nil if none was recorded).
    public var lastError: String?
    /// Attempts made (nil if not recorded).
    public var attempts: Int?

    /// A dead letter as a backend read it.
    public init(item: WorkItem, lastError: String?, attempts: Int?) {
        self.item = item
        self.lastError = lastError
        self.attempts = attempts
    }
}

/// The seam between the runner and where the queue lives (Redis, or the in-memory fake).
///
/// Every call that changes state is atomic. A lease is one take, named by its token: equal
/// items (the same bytes pushed twice) are two leases, each settled on its own. Attempts,
/// errors and results are recorded per item bytes, so equal items share them.
/// Implementations must pass the contract suite in `Tests/WorkQueueContract`.
public protocol WorkQueueBackend: Sendable {
    /// Appends items to the tail of pending, in order. Returns the pending count afterwards.
    @discardableResult
    func enqueue(_ items: [WorkItem]) async throws -> Int

    /// Takes up to `max` items from the head of pending (FIFO) and leases each to `session` for
    /// `duration`, in one atomic step: no item is ever taken without a lease. Returns at once
    /// with an empty array when nothing is pending; never blocks.
    func lease(max: Int, session: String, duration: Duration) async throws -> [Lease]

    /// Suspends until work may be pending or `timeout` passed, whichever comes first. Takes and
    /// holds nothing. Spurious returns are allowed; it must not spin.
    func waitForWork(timeout: Duration) async throws

    /// Extends each lease that `session` still owns to `duration` from now. Returns, per lease,
    /// whether it is still owned; a lease not owned is left untouched.
    func renew(_ leases: [Lease], duration: Duration) async throws -> [Bool]

    /// ``renew(_:duration:)``, waiting at most `timeout` for the backend's answer (the runner
    /// passes what is left of the leases: a renewal stuck behind a stalled server may wait as
    /// long as it can still help, and no longer). The default ignores `timeout`.
    func renew(_ leases: [Lease], duration: Duration, timeout: Duration) async throws -> [Bool]

    /// ``renew(_:duration:timeout:)``, and stores `checkpoints[i]` (when not nil) as the
    /// checkpoint of `leases[i]`'s item, in the same step, for each lease still owned. A stored
    /// checkpoint is keyed by the item's bytes, outlives the lease (expiry, recovery, failure,
    /// release) and comes back in ``Lease/checkpoint`` with the item's next take; it is
    /// deleted when the item completes or is dead-lettered. The runner calls this only when
    /// a handler saved a checkpoint since the last renewal. The default stores nothing.
    func renew(_ leases: [Lease], duration: Duration, timeout: Duration, checkpoints: [[UInt8]?]) async throws -> [Bool]

    /// Marks a leased item done: removes it from processing, deletes its lease, clears its
    /// attempts, records `result`. Does nothing and returns `.leaseLost` when the session no
    /// longer owns the lease.
    func complete(_ lease: Lease, result: String?) async throws -> SettleOutcome

    /// Records a failed attempt with `error`, then retries or dead-letters the item as
    /// `disposition` says. `.leaseLost` (and no change) when the lease is no longer owned.
    func fail(_ lease: Lease, error: String, disposition: FailureDisposition) async throws -> SettleOutcome

    /// Gives a leased item back to the head of pending without counting an attempt (used when
    /// a shutdown interrupts work). `.leaseLost` (and no change) when the lease is not owned.
    func release(_ lease: Lease) async throws -> SettleOutcome

    /// An atomic snapshot of the queue's counts.
    func counts() async throws -> QueueCounts

    /// Returns every item in processing whose lease has expired (its worker died or stalled) to
    /// the tail of pending, counting an attempt; an item whose attempts reach `maxAttempts` is
    /// dead-lettered instead. Safe to run from every worker at once; needs no leader.
    func recoverExpiredLeases(maxAttempts: Int) async throws -> RecoveryReport

    /// Moves failed items whose retry time has come to the tail of pending. Returns how many.
    func promoteDueRetries() async throws -> Int

    /// Settles `settlements` in order, then leases up to `max` items, in one step where the
    /// backend can (the runner's hot path: one round trip per batch). A settlement whose lease
    /// is not owned any more gets `.leaseLost` and changes nothing. The default calls
    /// complete/fail/release, ``lease(max:session:duration:)`` (promoting due retries when
    /// pending runs short) and ``counts()`` in turn.
    func exchange(_ settlements: [Settlement], lease max: Int, session: String, duration: Duration) async throws -> ExchangeResult

    /// The runner's periodic upkeep: promotes due retries and recovers expired leases. A
    /// backend shared by a fleet may skip the pass (and return nil) when another worker ran
    /// one less than `interval` ago, so its cost does not grow with the number of workers.
    /// The default always runs both.
    func maintain(maxAttempts: Int, interval: Duration, session: String) async throws -> RecoveryReport?

    /// The runner's exit-0 decision, made once the counts it saw were drained: true when the
    /// queue is drained now and may be left for good. A backend with producer marks checks
    /// them in the same atomic step (a queue still being filled is not drained) and records
    /// that it drained. The default answers ``counts()``'s ``QueueCounts/isDrained``.
    func finishIfDrained(session: String) async throws -> Bool

    /// Records or refreshes `heartbeat` (keyed by its session) for `ttl`, and drops records
    /// whose time ran out, in one step. The runner calls it at start and every
    /// `WorkerOptions.heartbeatInterval`. The default records nothing.
    func heartbeat(_ heartbeat: WorkerHeartbeat, ttl: Duration) async throws

    /// Removes the heartbeat record of `session` and whatever else the backend keeps for the
    /// session (a worker leaving cleanly; called with heartbeats off too). The default does
    /// nothing.
    func removeHeartbeat(session: String) async throws

    /// The workers whose heartbeat record is alive, by session. The default knows none.
    func liveWorkers() async throws -> [LiveWorker]

    /// The queue's pause and cancel marks and how many items a cancel moved aside. The runner
    /// reads it with each lease renewal (a cancel reaches long-running handlers). The default:
    /// a queue running normally.
    func control() async throws -> QueueControl

    /// Sets (`true`) or clears the pause mark: while it is set, takes hand out nothing.
    /// The default throws `WorkQueueError.invalidConfiguration`.
    func setPaused(_ paused: Bool) async throws

    /// Marks the queue cancelled (takes hand out nothing from now on) and moves up to `max`
    /// pending items, then scheduled retries, to the cancelled items, atomically: one page of
    /// ``cancelPage(max:mark:)`` with `mark`. Returns how many it moved; a page may also stop
    /// at a byte budget, so page with ``cancelPage(max:mark:)`` on its `remaining`, not on a
    /// short page. The default throws.
    func cancel(max: Int) async throws -> Int

    /// One page of a cancel, atomically: with `mark`, marks the queue cancelled first; without,
    /// moves only while the queue is marked cancelled and never marks it (a cancel's later
    /// pages and a worker's sweep after a cancel: a resume meanwhile wins). Moves up to `max`
    /// pending items, then scheduled retries (soonest first), to the cancelled items, stopping
    /// early once the items moved reach the backend's byte budget (after at least one).
    /// The default calls ``cancel(max:)`` (after reading ``control()`` when not `mark`).
    func cancelPage(max: Int, mark: Bool) async throws -> ControlPage

    /// Clears the cancel mark (the items moved aside stay there). The default throws.
    func clearCancelled() async throws

    /// Up to `limit` of the items a cancel moved aside, from the `offset`-th (oldest first).
    /// The default throws.
    func cancelledItems(offset: Int, limit: Int) async throws -> [WorkItem]

    /// Moves up to `max` of the items a cancel moved aside back to the tail of pending, in
    /// their order: one page of ``restorePage(max:clearCancel:hold:)``. Returns how many (a
    /// page may also stop at a byte budget). The default throws.
    func restoreCancelled(max: Int) async throws -> Int

    /// One page of a restore, atomically: with `clearCancel`, clears the cancel mark first
    /// (`resume --restore`: no cancel page without the mark moves anything aside after it);
    /// then moves up to `max` items aside back to the tail of pending, in their order,
    /// stopping early once the items moved reach the backend's byte budget (after at least
    /// one). With a `hold` name, the queue is held open under that name while items remain
    /// aside (so that workers do not find it drained between two pages) and the hold is
    /// removed by the page that leaves none. The default calls ``restoreCancelled(max:)``
    /// (after ``clearCancelled()`` when `clearCancel`) and holds nothing.
    func restorePage(max: Int, clearCancel: Bool, hold: String?) async throws -> ControlPage
}

extension WorkQueueBackend {
    /// Settles each settlement with `complete(_:result:)`, `fail(_:error:disposition:)` or
    /// `release(_:)` in turn, then leases up to `max` items (promoting due retries when pending
    /// runs short) and reads `counts()`: correct, but several round trips.
    public func exchange(_ settlements: [Settlement], lease max: Int, session: String, duration: Duration) async throws -> ExchangeResult {
        var outcomes: [SettleOutcome] = []
        outcomes.reserveCapacity(settlements.count)
        for settlement in settlements {
            switch settlement {
            case let .complete(lease, result): outcomes.append(try await complete(lease, result: result))
            case let .fail(lease, error, disposition): outcomes.append(try await fail(lease, error: error, disposition: disposition))
            case let .release(lease): outcomes.append(try await release(lease))
            }
        }
        var leases: [Lease] = []
        if max > 0 {
            leases = try await lease(max: max, session: session, duration: duration)
            // Nothing (more) pending: retries whose time has come are work too.
            if leases.count < max, try await promoteDueRetries() > 0 {
                leases += try await lease(max: max - leases.count, session: session, duration: duration)
            }
        }
        return ExchangeResult(outcomes: outcomes, leases: leases, counts: try await counts())
    }

    /// Whether `counts()` is drained (`QueueCounts.isDrained`).
    public func finishIfDrained(session: String) async throws -> Bool {
        try await counts().isDrained
    }

    /// `renew(_:duration:)`, without a bound of its own.
    public func renew(_ leases: [Lease], duration: Duration, timeout: Duration) async throws -> [Bool] {
        try await renew(leases, duration: duration)
    }

    /// `renew(_:duration:timeout:)`; the checkpoints are not stored.
    public func renew(_ leases: [Lease], duration: Duration, timeout: Duration, checkpoints: [[UInt8]?]) async throws -> [Bool] {
        try await renew(leases, duration: duration, timeout: timeout)
    }

    /// Records nothing.
    public func heartbeat(_ heartbeat: WorkerHeartbeat, ttl: Duration) async throws {}

    /// Does nothing.
    public func removeHeartbeat(session: String) async throws {}

    /// No workers.
    public func liveWorkers() async throws -> [LiveWorker] { [] }

    /// A queue running normally.
    public func control() async throws -> QueueControl { QueueControl() }

    /// Throws: this backend cannot pause.
    public func setPaused(_ paused: Bool) async throws { throw Self.noControl }

    /// Throws: this backend cannot cancel.
    public func cancel(max: Int) async throws -> Int { throw Self.noControl }

    /// Throws: this backend cannot cancel.
    public func clearCancelled() async throws { throw Self.noControl }

    /// Throws: this backend cannot cancel.
    public func cancelledItems(offset: Int, limit: Int) async throws -> [WorkItem] { throw Self.noControl }

    /// Throws: this backend cannot cancel.
    public func restoreCancelled(max: Int) async throws -> Int { throw Self.noControl }

    /// One ``cancel(max:)`` (without `mark`: only while ``control()`` reads the queue
    /// cancelled; not atomic); `remaining` is 1 after a full page (there may be more), else 0.
    public func cancelPage(max: Int, mark: Bool) async throws -> ControlPage {
        if !mark, try await !control().cancelled { return ControlPage(moved: 0, remaining: 0, cancelled: false) }
        let page = Swift.max(1, max)
        let moved = try await cancel(max: page)
        return ControlPage(moved: moved, remaining: moved < page ? 0 : 1, cancelled: true)
    }

    /// ``clearCancelled()`` when `clearCancel`, then one ``restoreCancelled(max:)``; no hold.
    public func restorePage(max: Int, clearCancel: Bool, hold: String?) async throws -> ControlPage {
        if clearCancel { try await clearCancelled() }
        let page = Swift.max(1, max)
        let moved = try await restoreCancelled(max: page)
        let control = try await control()
        return ControlPage(moved: moved, remaining: control.cancelledItems ?? (moved < page ? 0 : 1), cancelled: control.cancelled)
    }

    private static var noControl: WorkQueueError {
        .invalidConfiguration("this queue backend has no pause or cancel (\(Self.self))")
    }

    /// Promotes due retries, then recovers expired leases, on every call.
    public func maintain(maxAttempts: Int, interval: Duration, session: String) async throws -> RecoveryReport? {
        _ = try await promoteDueRetries()
        return try await recoverExpiredLeases(maxAttempts: maxAttempts)
    }
}

/// Dead-letter inspection, for the `dead` command and tests.
public protocol DeadLetterQueue: Sendable {
    /// Every dead letter, oldest first.
    func deadLetters() async throws -> [DeadLetter]
    /// Moves every dead letter back to pending with its attempts reset. Returns how many.
    func retryDeadLetters() async throws -> Int
    /// Deletes every dead letter. Returns how many.
    func purgeDeadLetters() async throws -> Int
}

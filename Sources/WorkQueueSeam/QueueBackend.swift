/// A lease: the right to process one item until it is renewed, completed, failed or released.
///
/// Each take gets its own ``token`` (a fencing token): renew and settle act only on the take
/// that token names, so a settle retried after a timeout can never touch a copy of the item
/// that another worker holds, and two equal items (the same bytes pushed twice) are two leases.
public struct Lease: Sendable, Hashable {
    /// The fields, in one allocation: a lease is copied several times on its way through the
    /// runner (buffered, running, settling), and one reference to retain per copy costs less
    /// than four (item, session, token, checkpoint).
    private final class Storage: Sendable {
        let item: WorkItem
        let session: String
        let attempt: Int
        let token: String
        let checkpoint: [UInt8]?

        init(item: WorkItem, session: String, attempt: Int, token: String, checkpoint: [UInt8]?) {
            self.item = item
            self.session = session
            self.attempt = attempt
            self.token = token
            self.checkpoint = checkpoint
        }
    }

    private var storage: Storage

    /// The leased item.
    public var item: WorkItem { storage.item }
    /// The session (worker process) that holds the lease.
    public var session: String { storage.session }
    /// This delivery's attempt number: 1 + the failed or abandoned attempts recorded so far.
    public var attempt: Int { storage.attempt }
    /// Names this one take of the item; unique across the fleet. Empty for a lease the backend
    /// never issued (it owns nothing).
    public var token: String { storage.token }
    /// The item's checkpoint: the one stored when the item was taken (saved by an earlier
    /// attempt), and in a settlement the last one this attempt's handler saved. Nil when there
    /// is none; a settlement with one makes the backend delete the item's stored checkpoint
    /// when the item completes or is dead-lettered.
    public var checkpoint: [UInt8]? {
        get { storage.checkpoint }
        set {
            storage = Storage(item: storage.item, session: storage.session, attempt: storage.attempt, token: storage.token,
                              checkpoint: newValue)
        }
    }

    /// A lease of `item` to `session`; backends make them, tests may too.
    public init(item: WorkItem, session: String, attempt: Int, token: String = "", checkpoint: [UInt8]? = nil) {
        storage = Storage(item: item, session: session, attempt: attempt, token: token, checkpoint: checkpoint)
    }

    public static func == (lhs: Lease, rhs: Lease) -> Bool {
        lhs.storage === rhs.storage
            || (lhs.token == rhs.token && lhs.attempt == rhs.attempt && lhs.session == rhs.session && lhs.item == rhs.item
                && lhs.checkpoint == rhs.checkpoint)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(item)
        hasher.combine(session)
        hasher.combine(attempt)
        hasher.combine(token)
        hasher.combine(checkpoint)
    }
}

extension Lease: CustomDebugStringConvertible {
    /// The fields, as a memberwise struct would print them.
    public var debugDescription: String {
        "Lease(item: \(String(reflecting: item)), session: \(String(reflecting: session)), attempt: \(attempt), "
            + "token: \(String(reflecting: token)), checkpoint: \(String(reflecting: checkpoint)))"
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

/// What one ``WorkQueueBackend/renew(_:)`` call asks: extend `leases` to `duration` from now,
/// and store the checkpoints given, in the same step.
public struct RenewRequest: Sendable, Hashable {
    /// The leases to extend (each one the session still owns; the others are left untouched).
    public var leases: [Lease]
    /// The new lease length, from now.
    public var duration: Duration
    /// How long to wait for the backend's answer; nil: the backend's own bound (Redis: the
    /// connection's command timeout). The runner passes what is left of the leases: a renewal
    /// stuck behind a stalled server may wait as long as it can still help, and no longer.
    public var timeout: Duration?
    /// Empty, or one entry per lease: when not nil, stored as the checkpoint of that lease's
    /// item (see ``WorkQueueBackend/renew(_:)``).
    public var checkpoints: [[UInt8]?]

    /// A renewal of `leases` to `duration` from now, waiting at most `timeout` (nil: the
    /// backend's bound), storing `checkpoints` (empty: none).
    public init(leases: [Lease], duration: Duration, timeout: Duration? = nil, checkpoints: [[UInt8]?] = []) {
        self.leases = leases
        self.duration = duration
        self.timeout = timeout
        self.checkpoints = checkpoints
    }

    /// The checkpoint to store for `leases[index]`, nil when none.
    public func checkpoint(at index: Int) -> [UInt8]? {
        checkpoints.indices.contains(index) ? checkpoints[index] : nil
    }

    /// Whether any checkpoint is to be stored.
    public var storesCheckpoints: Bool { checkpoints.contains { $0 != nil } }
}

/// What one ``WorkQueueBackend/renewReadingControl(_:)`` call answered: per lease, whether it
/// is still owned, and the queue's pause and cancel marks when the backend read them in the
/// same step (nil: it did not; the caller reads ``QueueControlling/control()`` itself).
public struct RenewReply: Sendable, Hashable {
    /// Per lease of the request, whether it is still owned (see ``WorkQueueBackend/renew(_:)``).
    public var owned: [Bool]
    /// The marks read with the renewal (``QueueControl/cancelledItems`` not read), or nil.
    public var control: QueueControl?

    /// A reply of `owned` flags and, when read in the same step, the `control` marks.
    public init(owned: [Bool], control: QueueControl?) {
        self.owned = owned
        self.control = control
    }
}

/// The seam between the runner and where the queue lives (Redis, the in-memory fake, shards).
///
/// Seven requirements, what every backend must do. Optional abilities are protocols of their
/// own that a backend adopts or not, and nothing answers "unsupported" at run time: a caller
/// that needs one checks for it (`backend as? any QueueControlling`) and says what is missing
/// when it is not there. They are ``QueueControlling`` (pause, cancel and restore pages),
/// ``CancelledItemsReading``, ``WorkerRecords`` (heartbeats, live workers),
/// ``QueueRecovery`` (a recovery or promotion pass on demand), ``CompletionLog``,
/// ``DeadLetterQueue`` and ``DrainedMarker``. Lease, complete, fail, release and the older
/// renew forms are helpers over ``exchange(_:lease:session:duration:)`` and ``renew(_:)``.
///
/// Every call that changes state is atomic. A lease is one take, named by its token: equal
/// items (the same bytes pushed twice) are two leases, each settled on its own. Attempts,
/// errors and results are recorded per item bytes, so equal items share them.
///
/// **The settle order.** One ``exchange(_:lease:session:duration:)`` does, in this order:
/// 1. the take (promoting due retries first when pending is empty, within the take's own
///    count and byte budget; dead-lettering, without handing it out, any item over the
///    backend's item size limit);
/// 2. the completions, in the order given;
/// 3. the failures and releases, in the order given.
///
/// So an item released by a call is not taken back by the same call, and where two
/// settlements touch the same item bytes (equal items), a completion's clearing of the
/// attempts comes before a failure counts one. The outcomes are reported in the order the
/// settlements were given. Every backend, the in-memory fake included, follows this order;
/// the contract suite checks it.
///
/// Implementations must pass the contract suite in `Tests/WorkQueueContract`.
public protocol WorkQueueBackend: Sendable {
    /// Appends items to the tail of pending, in order. Returns the pending count afterwards.
    @discardableResult
    func enqueue(_ items: [WorkItem]) async throws -> Int

    /// Leases up to `max` items to `session` for `duration`, then settles `settlements`, in
    /// one atomic step where the backend can (the runner's hot path: one round trip per
    /// batch), in the settle order the protocol documents. Takes head of pending first
    /// (FIFO); no item is ever taken without a lease; returns at once, never blocks. A
    /// settlement whose lease is not owned any more gets `SettleOutcome.leaseLost` and
    /// changes nothing. What each settlement does:
    /// - `Settlement.complete(_:result:)`: removes the item from processing, deletes its
    ///   lease, clears its attempts, records the result;
    /// - `Settlement.fail(_:error:disposition:)`: records a failed attempt with the error,
    ///   then schedules a retry or dead-letters the item;
    /// - `Settlement.release(_:)`: gives the item back to the head of pending without
    ///   counting an attempt (a shutdown interrupted it, or it never started).
    func exchange(_ settlements: [Settlement], lease max: Int, session: String, duration: Duration) async throws -> ExchangeResult

    /// Extends each of the request's leases that its session still owns to the request's
    /// duration from now, waiting at most its timeout, and stores each checkpoint given (when
    /// not nil) as the checkpoint of that lease's item, in the same step, for each lease still
    /// owned. Returns, per lease, whether it is still owned; a lease not owned is left
    /// untouched. A stored checkpoint is keyed by the item's bytes, outlives the lease
    /// (expiry, recovery, failure, release) and comes back in ``Lease/checkpoint`` with the
    /// item's next take; it is deleted when the item completes or is dead-lettered.
    func renew(_ request: RenewRequest) async throws -> [Bool]

    /// ``renew(_:)``, and the queue's pause and cancel marks read in the same step where the
    /// backend can (the runner's renewal beat: one round trip, through which a cancel reaches
    /// handlers that run long). The default renews and reads no marks (``RenewReply/control``
    /// nil).
    func renewReadingControl(_ request: RenewRequest) async throws -> RenewReply

    /// Suspends until work may be pending or `timeout` passed, whichever comes first. Takes and
    /// holds nothing. Spurious returns are allowed; it must not spin.
    func waitForWork(timeout: Duration) async throws

    /// An atomic snapshot of the queue's counts.
    func counts() async throws -> QueueCounts

    /// The runner's periodic upkeep: promotes due retries, and returns every item in
    /// processing whose lease has expired (its worker died or stalled) to the tail of pending,
    /// counting an attempt (an item whose attempts reach `maxAttempts` is dead-lettered
    /// instead). A backend shared by a fleet may skip the pass (and return nil) when another
    /// worker ran one less than `interval` ago, so its cost does not grow with the number of
    /// workers. Safe to run from every worker at once; needs no leader.
    func maintain(maxAttempts: Int, interval: Duration, session: String) async throws -> RecoveryReport?

    /// The runner's exit-0 decision, made once the counts it saw were drained: true when the
    /// queue is drained now (nothing pending, in processing or scheduled) and may be left for
    /// good. A backend with producer marks checks them in the same atomic step (a queue still
    /// being filled is not drained) and records that it drained.
    func finishIfDrained(session: String) async throws -> Bool
}

extension WorkQueueBackend {
    /// ``renew(_:)`` alone: no marks read (``RenewReply/control`` nil).
    public func renewReadingControl(_ request: RenewRequest) async throws -> RenewReply {
        RenewReply(owned: try await renew(request), control: nil)
    }

    /// Leases up to `max` items: an ``exchange(_:lease:session:duration:)`` with nothing to
    /// settle. An empty array when nothing is pending (or `max` is not positive).
    public func lease(max: Int, session: String, duration: Duration) async throws -> [Lease] {
        guard max > 0 else { return [] }
        return try await exchange([], lease: max, session: session, duration: duration).leases
    }

    /// Settles one lease: an ``exchange(_:lease:session:duration:)`` of that settlement alone,
    /// taking nothing. A lease without a token (never issued) is lost without a call.
    public func settle(_ settlement: Settlement) async throws -> SettleOutcome {
        guard !settlement.lease.token.isEmpty else { return .leaseLost }
        return try await exchange([settlement], lease: 0, session: settlement.lease.session, duration: .seconds(1)).outcomes.first
            ?? .leaseLost
    }

    /// Marks a leased item done (`Settlement.complete(_:result:)`); `.leaseLost` (and no
    /// change) when the session no longer owns the lease.
    public func complete(_ lease: Lease, result: String?) async throws -> SettleOutcome {
        try await settle(.complete(lease, result: result))
    }

    /// Records a failed attempt, then retries or dead-letters the item
    /// (`Settlement.fail(_:error:disposition:)`); `.leaseLost` (and no change) when the lease
    /// is no longer owned.
    public func fail(_ lease: Lease, error: String, disposition: FailureDisposition) async throws -> SettleOutcome {
        try await settle(.fail(lease, error: error, disposition: disposition))
    }

    /// Gives a leased item back to the head of pending without counting an attempt
    /// (`Settlement.release(_:)`); `.leaseLost` (and no change) when the lease is not owned.
    public func release(_ lease: Lease) async throws -> SettleOutcome {
        try await settle(.release(lease))
    }

    /// ``renew(_:)`` of `leases` to `duration`, within the backend's own bound.
    public func renew(_ leases: [Lease], duration: Duration) async throws -> [Bool] {
        try await renew(RenewRequest(leases: leases, duration: duration))
    }

    /// ``renew(_:)`` of `leases` to `duration`, waiting at most `timeout`.
    public func renew(_ leases: [Lease], duration: Duration, timeout: Duration) async throws -> [Bool] {
        try await renew(RenewRequest(leases: leases, duration: duration, timeout: timeout))
    }

    /// ``renew(_:)`` of `leases` to `duration`, waiting at most `timeout`, storing
    /// `checkpoints[i]` (when not nil) for `leases[i]`.
    public func renew(_ leases: [Lease], duration: Duration, timeout: Duration, checkpoints: [[UInt8]?]) async throws -> [Bool] {
        try await renew(RenewRequest(leases: leases, duration: duration, timeout: timeout, checkpoints: checkpoints))
    }
}

/// An operator's control of a queue: pause, and cancel and restore in pages (`workqueue
/// pause`, `resume`, `cancel`). The rate limit is the backend's own option, applied inside
/// the take. A backend without it is never paused or cancelled; a caller that needs it checks
/// with `as? any QueueControlling` and says so when it is missing.
public protocol QueueControlling: Sendable {
    /// The queue's pause and cancel marks and how many items a cancel moved aside. The runner
    /// reads it with each lease renewal (a cancel reaches long-running handlers).
    func control() async throws -> QueueControl

    /// Sets (`true`) or clears the pause mark: while it is set, takes hand out nothing.
    func setPaused(_ paused: Bool) async throws

    /// Clears the cancel mark (the items moved aside stay there).
    func clearCancelled() async throws

    /// One page of a cancel, atomically: with `mark`, marks the queue cancelled first (takes
    /// hand out nothing from then on); without, moves only while the queue is marked cancelled
    /// and never marks it (a cancel's later pages and a worker's sweep after a cancel: a resume
    /// meanwhile wins). Moves up to `max` pending items, then scheduled retries (soonest
    /// first), to the cancelled items, stopping early once the items moved reach the backend's
    /// byte budget (after at least one): page on ``ControlPage/remaining``, not on a short page.
    func cancelPage(max: Int, mark: Bool) async throws -> ControlPage

    /// One page of a restore, atomically: with `clearCancel`, clears the cancel mark first
    /// (`resume --restore`: no cancel page without the mark moves anything aside after it);
    /// then moves up to `max` items aside back to the tail of pending, in their order,
    /// stopping early once the items moved reach the backend's byte budget (after at least
    /// one). With a `hold` name, the queue is held open under that name while items remain
    /// aside (so that workers do not find it drained between two pages) and the hold is
    /// removed by the page that leaves none (a backend without holds ignores it).
    func restorePage(max: Int, clearCancel: Bool, hold: String?) async throws -> ControlPage
}

extension QueueControlling {
    /// Marks the queue cancelled and moves up to `max` items aside: one
    /// ``cancelPage(max:mark:)`` with the mark. Returns how many moved.
    public func cancel(max: Int) async throws -> Int {
        try await cancelPage(max: max, mark: true).moved
    }

    /// Moves up to `max` items aside back to the tail of pending: one
    /// ``restorePage(max:clearCancel:hold:)`` without clearing the mark or holding. Returns how many.
    public func restoreCancelled(max: Int) async throws -> Int {
        try await restorePage(max: max, clearCancel: false, hold: nil).moved
    }
}

/// Reading the items a cancel moved aside (`workqueue cancel --list`, the dashboard).
public protocol CancelledItemsReading: Sendable {
    /// Up to `limit` of the items a cancel moved aside, from the `offset`-th (oldest first).
    func cancelledItems(offset: Int, limit: Int) async throws -> [WorkItem]
}

/// The records running workers keep about themselves (`workqueue workers`, the dashboard).
/// The runner writes them when its backend has them (`as? any WorkerRecords`).
public protocol WorkerRecords: Sendable {
    /// Records or refreshes `heartbeat` (keyed by its session) for `ttl`, and drops records
    /// whose time ran out, in one step. The runner calls it at start and every
    /// `WorkerOptions.heartbeatInterval`.
    func heartbeat(_ heartbeat: WorkerHeartbeat, ttl: Duration) async throws

    /// Removes the heartbeat record of `session` and whatever else the backend keeps for the
    /// session (a worker leaving cleanly; called with heartbeats off too).
    func removeHeartbeat(session: String) async throws

    /// The workers whose heartbeat record is alive, by session.
    func liveWorkers() async throws -> [LiveWorker]
}

/// One recovery or promotion pass on demand, whoever ran one last (`workqueue reap`, tests);
/// the runner calls ``WorkQueueBackend/maintain(maxAttempts:interval:session:)`` instead.
public protocol QueueRecovery: Sendable {
    /// Returns every item in processing whose lease has expired to the tail of pending,
    /// counting an attempt; an item whose attempts reach `maxAttempts` is dead-lettered
    /// instead. Safe to run from every worker at once.
    func recoverExpiredLeases(maxAttempts: Int) async throws -> RecoveryReport

    /// Moves failed items whose retry time has come to the tail of pending. Returns how many.
    func promoteDueRetries() async throws -> Int
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

/// A lease: the right to process one item until it is renewed, completed, failed or released.
public struct Lease: Sendable, Hashable {
    /// The leased item.
    public let item: WorkItem
    /// The session that holds the lease (the value stored in the lease key).
    public let session: String
    /// This delivery's attempt number: 1 + the failed or abandoned attempts recorded so far.
    public let attempt: Int

    public init(item: WorkItem, session: String, attempt: Int) {
        self.item = item
        self.session = session
        self.attempt = attempt
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

    public init(pending: Int, processing: Int, leased: Int? = nil, scheduled: Int, dead: Int, completed: Int? = nil) {
        self.pending = pending
        self.processing = processing
        self.leased = leased
        self.scheduled = scheduled
        self.dead = dead
        self.completed = completed
    }

    /// Nothing pending, nothing in flight anywhere, no retry scheduled: the job is done.
    public var isDrained: Bool { pending == 0 && processing == 0 && scheduled == 0 }
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

    public init(requeued: Int = 0, deadLettered: Int = 0) {
        self.requeued = requeued
        self.deadLettered = deadLettered
    }
}

/// A dead-lettered item with what is known of its failures.
public struct DeadLetter: Sendable, Hashable {
    public var item: WorkItem
    /// The last error message (nil if none was recorded).
    public var lastError: String?
    /// Attempts made (nil if not recorded).
    public var attempts: Int?

    public init(item: WorkItem, lastError: String?, attempts: Int?) {
        self.item = item
        self.lastError = lastError
        self.attempts = attempts
    }
}

/// The seam between the runner and where the queue lives (Redis, or the in-memory fake).
///
/// Every call that changes state is atomic. Items are identified by their bytes: two equal items
/// share attempts, errors and lease (as in the Kubernetes tutorial's `rediswq.py`).
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

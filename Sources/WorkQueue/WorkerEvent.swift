/// Something the runner did, reported to the `events` callback of a ``Worker``.
public enum WorkerEvent: Sendable, Hashable {
    /// An item was leased and its handler is about to start.
    case leased(Lease)
    /// The handler returned and the completion was recorded.
    case completed(Lease, result: String?)
    /// The handler threw; the item was retried or dead-lettered as `disposition` says.
    case failed(Lease, error: String, disposition: FailureDisposition)
    /// The lease was lost (renewal or settling found another owner); the handler was cancelled
    /// and nothing was recorded for this delivery.
    case leaseLost(Lease)
    /// A shutdown interrupted the handler; the item went back to pending, no attempt counted.
    case released(Lease)
    /// A recovery pass returned or dead-lettered expired items.
    case recovered(RecoveryReport)
}

/// Why ``Worker/run()`` returned.
public enum WorkerStopReason: Sendable, Hashable {
    /// Pending, in-flight and scheduled retries were all empty.
    case drained
    /// A graceful shutdown was requested.
    case shutdown
    /// The job was cancelled (`QueueControl.cancelled`): in-flight items were cancelled and
    /// released, then moved aside with the rest.
    case cancelled
    /// Handlers left running past ``WorkerOptions/itemTimeout`` (and its grace) held every
    /// spare handler thread (``WorkerOptions/concurrency`` of them) and one more was abandoned:
    /// the worker stopped as for a shutdown (the items it held released to pending) rather
    /// than go on with fewer threads than slots.
    case handlersStuck
}

/// What one run of a ``Worker`` did.
public struct WorkerSummary: Sendable, Hashable {
    /// Items completed.
    public var completed = 0
    /// Failed attempts scheduled for a retry.
    public var retried = 0
    /// Items dead-lettered by this worker's handler failures (not by recovery).
    public var deadLettered = 0
    /// Deliveries whose lease was lost: nothing was recorded for them.
    public var leaseLost = 0
    /// Items released to pending by a shutdown, no attempt counted.
    public var released = 0
    /// Why the run ended.
    public var stopReason: WorkerStopReason = .drained

    /// A summary of nothing yet.
    public init() {}
}

/// How ``EnqueueingWithOptions/enqueue(_:options:)`` pushes: later (a delay), and skipping
/// items pushed before (a uniqueness window). The defaults push as
/// ``WorkQueueBackend/enqueue(_:)`` does.
public struct EnqueueOptions: Sendable, Hashable {
    /// How long after the push the items become pending. Until then they wait with the
    /// scheduled retries (``QueueCounts/scheduled``): no take hands them out, and the queue is
    /// not drained (workers do not exit 0 before they ran). `.zero` (the default): pending at
    /// once, appended to the tail. A delay is measured on the backend's clock from the moment
    /// the push takes effect, so an item never becomes pending earlier than asked.
    public var delay: Duration
    /// With a window, an item is not pushed when an equal item (the same bytes) was pushed with
    /// a window that has not ended yet, whatever became of it since (pending, scheduled, in
    /// flight, completed or dead): each window starts at its own push. Items skipped are
    /// counted in ``EnqueueReport/skipped``; equal items within one call are pushed once.
    /// Nil (the default): every item is pushed.
    public var uniqueWindow: Duration?

    /// Options of a push; the defaults push at once and every item.
    public init(delay: Duration = .zero, uniqueWindow: Duration? = nil) {
        self.delay = delay
        self.uniqueWindow = uniqueWindow
    }

    /// Whether these options push exactly as ``WorkQueueBackend/enqueue(_:)`` does.
    public var isPlain: Bool { delay <= .zero && uniqueWindow == nil }
}

/// What one ``EnqueueingWithOptions/enqueue(_:options:)`` did.
public struct EnqueueReport: Sendable, Hashable {
    /// Items added to the queue: to pending, or, with a delay, to the scheduled items.
    public var pushed: Int
    /// Items not added because of the uniqueness window (``EnqueueOptions/uniqueWindow``).
    public var skipped: Int
    /// The pending count after the push.
    public var pending: Int

    /// A report of a push.
    public init(pushed: Int, skipped: Int, pending: Int) {
        self.pushed = pushed
        self.skipped = skipped
        self.pending = pending
    }
}

/// Pushing later, and pushing each item once (`workqueue push --delay`, `--not-before`,
/// `--unique`): a backend ability of its own (see ``WorkQueueBackend``).
public protocol EnqueueingWithOptions: Sendable {
    /// Pushes `items` in order, in one atomic step: those within a running uniqueness window
    /// of an equal item are skipped; the others are appended to pending, or scheduled to become
    /// pending after the delay (in their order; with equal due times, the order of the push).
    /// A backend that records a drain (``DrainedMarker``; Redis's `NAME:drained`) refuses the
    /// push once the queue drained, with an error and nothing written, as its producers do.
    func enqueue(_ items: [WorkItem], options: EnqueueOptions) async throws -> EnqueueReport
}

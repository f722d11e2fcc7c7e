import CoreMetrics

/// How a ``Worker`` leases, renews, retries and stops.
public struct WorkerOptions: Sendable {
    /// Items processed at once by this process. Default 1.
    public var concurrency: Int = 1
    /// How many items the worker holds per slot (running or waiting their turn in the
    /// process's buffer). `nil`, the default, adapts: it starts with one item per slot and
    /// grows the buffer while handlers return faster than a round trip to the queue, up to
    /// what the slots can start within a third of the lease and ``maxBuffered``. A number
    /// fixes it. Waiting items are held and renewed like running ones, and released in their
    /// order on shutdown.
    public var prefetch: Int? = nil
    /// The most items the adaptive buffer holds beyond one per slot. Default 2048: enough to
    /// keep one process busy across a 2 ms round trip to Redis at 100,000 no-op items a second
    /// (two calls in flight); the buffer grows that far only while handlers return much faster
    /// than a round trip, and never beyond half of what is pending. (It was 256 while a
    /// settlement had to find its item by scanning `NAME:processing`; our leases no longer go
    /// there.)
    public var maxBuffered: Int = 2048
    /// The most bytes of items the adaptive buffer holds beyond one per slot, at the average
    /// size of the items leased so far. Default 64 MiB: with large items it, not
    /// ``maxBuffered``, is the bound.
    public var maxBufferedBytes: Int = 64 << 20
    /// How long a lease lasts before it must be renewed. The runner renews held leases every
    /// third of this. Default 30 s.
    public var leaseDuration: Duration = .seconds(30)
    /// The attempt after which a failing item is dead-lettered. Default 5.
    public var maxAttempts: Int = 5
    /// The delay before a failed item is retried. Default `.exponentialJitter()`.
    public var retry: RetryStrategy = .exponentialJitter()
    /// How long in-flight handlers may finish after a shutdown request before they are
    /// cancelled and their items released. Default 20 s (under Kubernetes' 30 s
    /// `terminationGracePeriodSeconds`).
    public var shutdownGracePeriod: Duration = .seconds(20)
    /// After the grace period, how long the final releases may take before the runner stops
    /// waiting for anything (a stalled Redis, a handler ignoring cancellation); what was not
    /// settled by then stays leased and comes back through recovery. Default 500 ms.
    public var shutdownSettleTimeout: Duration = .milliseconds(500)
    /// The longest a handler may run on one item. When it is up, the handler's cancellation
    /// flag is set with `CancellationReason.timedOut(after:)` and its task cancelled (a
    /// plugin sees its stop flag); a handler that then returns within ``itemTimeoutGrace``
    /// settles as usual (a result completes the item, an error fails the attempt as
    /// `timed out after S s`). One still running after the grace is left behind: the attempt
    /// counts as failed with `timed out after S s` (retried, or dead-lettered at
    /// ``maxAttempts``), whatever it returns later is ignored, and its slot goes on with the next
    /// item (a dedicated-thread handler's on a spare thread: the pool has one per slot). At most
    /// ``concurrency`` handlers are left behind at once: one more, and the worker stops as for a
    /// shutdown (its items released) and returns `WorkerStopReason.handlersStuck`, rather than
    /// freezing with its threads held. `nil`, the default, sets no limit.
    public var itemTimeout: Duration? = nil
    /// After ``itemTimeout``, how long a cancelled handler may take to return before its
    /// attempt is failed without it. Default 5 s.
    public var itemTimeoutGrace: Duration = .seconds(5)
    /// How often this worker looks for expired leases and due retries. Default 5 s.
    public var recoveryInterval: Duration = .seconds(5)
    /// The longest a waiting worker sleeps before it looks at the queue again (a push wakes it
    /// sooner). It bounds how late a worker notices that the queue drained. Default 50 ms.
    public var idlePollInterval: Duration = .milliseconds(50)
    /// While the queue is paused (`workqueue pause`), how long the worker waits before it asks
    /// again (it still settles what finishes meanwhile). It bounds how late a paused worker
    /// notices a resume, and keeps an idle paused fleet from polling Redis. Default 1 s.
    public var pausedPollInterval: Duration = .seconds(1)
    /// Return once the queue is drained (the Kubernetes Job pattern). When false, wait for more
    /// work until shut down. Default true.
    public var exitWhenDrained: Bool = true
    /// How long the runner keeps retrying a queue operation that fails with a transient error
    /// (Redis restarting, a dropped connection) before it gives up and ``Worker/run()``
    /// throws. Items held meanwhile stay leased or come back through recovery. Default 30 s.
    public var backendRetryBudget: Duration = .seconds(30)
    /// How often the worker refreshes its heartbeat record (session, host, handler, start time,
    /// items in flight, completed and failed: `WorkerHeartbeat`), which lives three intervals
    /// and is removed when the worker exits cleanly; `workqueue workers` lists them. `nil`
    /// writes no record. Default 5 s.
    public var heartbeatInterval: Duration? = .seconds(5)
    /// The host the heartbeat record names; `nil`, the default, uses
    /// `WorkerHeartbeat.defaultHost()` (the pod name).
    public var heartbeatHost: String? = nil
    /// The handler the heartbeat record names; `nil`, the default, uses the handler's type name.
    public var handlerName: String? = nil
    /// The handler's `KEY=VALUE` options, handed to it in `WorkContext.options`.
    public var handlerOptions: [String: String] = [:]
    /// Labels on every metric of ``WorkerMetrics`` (the command sets `queue` and `handler`).
    /// Default none.
    public var metricsLabels: [(String, String)] = []
    /// Where the runner's metrics go; `nil`, the default, uses the factory bootstrapped with
    /// `MetricsSystem.bootstrap` (a no-op until one is).
    public var metricsFactory: (any MetricsFactory)? = nil
    /// A span per item on a tracer (``ItemTracing``); `nil`, the default, traces nothing and
    /// costs nothing per item. The command sets it when the `OTEL_*` variables ask for traces.
    public var tracing: ItemTracing? = nil

    /// The defaults each property names.
    public init() {}

    /// The concurrencies ``validate()`` accepts (the command's `--concurrency` range too).
    public static let concurrencyRange = 1...1024
    /// The prefetches ``validate()`` accepts (the command's `--prefetch` range too).
    public static let prefetchRange = 1...1000

    /// Throws `WorkQueueError.invalidConfiguration` naming the first bad setting.
    public func validate() throws {
        func check(_ ok: Bool, _ message: String) throws {
            if !ok { throw WorkQueueError.invalidConfiguration(message) }
        }
        try check(Self.concurrencyRange.contains(concurrency),
                  "concurrency must be between \(Self.concurrencyRange.lowerBound) and \(Self.concurrencyRange.upperBound) (got \(concurrency))")
        try check(leaseDuration >= .milliseconds(3), "lease duration must be at least 3 ms (got \(leaseDuration))")
        if let prefetch {
            try check(Self.prefetchRange.contains(prefetch),
                      "prefetch must be between \(Self.prefetchRange.lowerBound) and \(Self.prefetchRange.upperBound) (got \(prefetch))")
        }
        try check(maxBuffered >= 0 && maxBuffered <= 100_000, "maxBuffered must be between 0 and 100000 (got \(maxBuffered))")
        try check(maxBufferedBytes >= 0, "maxBufferedBytes must not be negative (got \(maxBufferedBytes))")
        try check(maxAttempts >= 1, "max attempts must be at least 1 (got \(maxAttempts))")
        try check(shutdownGracePeriod >= .zero, "shutdown grace period must not be negative")
        try check(shutdownSettleTimeout >= .zero, "shutdown settle timeout must not be negative")
        if let itemTimeout {
            try check(itemTimeout > .zero, "item timeout must be positive (nil sets no limit)")
        }
        try check(itemTimeoutGrace >= .zero, "item timeout grace must not be negative")
        try check(recoveryInterval > .zero, "recovery interval must be positive")
        if let heartbeatInterval {
            try check(heartbeatInterval > .zero, "heartbeat interval must be positive (nil writes no record)")
        }
        try check(idlePollInterval > .zero, "idle poll interval must be positive")
        try check(pausedPollInterval > .zero, "paused poll interval must be positive")
        try check(backendRetryBudget >= .zero, "backend retry budget must not be negative")
    }
}

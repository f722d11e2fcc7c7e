import CoreMetrics

/// The runner's metrics, through swift-metrics: whatever backend the program bootstrapped
/// (`MetricsSystem.bootstrap`) receives them; without one they cost a no-op call.
///
/// Names follow Prometheus conventions; every metric carries the ``WorkerOptions/metricsLabels``
/// (the command sets `queue` and `handler`). The metric objects are made once per ``Worker``;
/// settlements are counted per exchange batch, one increment per kind, so the hot path does
/// not allocate per item.
///
/// | name | kind | meaning |
/// | --- | --- | --- |
/// | `workqueue_items_leased_total` | counter | items leased by this worker |
/// | `workqueue_items_completed_total` | counter | completions recorded |
/// | `workqueue_items_failed_total` | counter | handler failures recorded (retried + dead-lettered) |
/// | `workqueue_items_retried_total` | counter | failures scheduled for a retry |
/// | `workqueue_items_dead_lettered_total` | counter | items moved to the dead letters (by failures or by recovery) |
/// | `workqueue_items_recovered_total` | counter | expired leases (a dead worker's) this worker returned to pending |
/// | `workqueue_items_released_total` | counter | unfinished items given back on shutdown |
/// | `workqueue_leases_lost_total` | counter | deliveries whose lease another worker took over |
/// | `workqueue_backend_errors_total` | counter | failed queue calls (each retried, or the run ends) |
/// | `workqueue_handler_duration_seconds` | histogram | time a handler ran |
/// | `workqueue_lease_to_settle_seconds` | histogram | from the lease to the recorded settlement |
/// | `workqueue_items_in_flight` | gauge | items whose handler runs now |
/// | `workqueue_items_buffered` | gauge | leased items waiting in the process's buffer |
/// | `workqueue_queue_paused` | gauge | 1 while this worker finds the queue paused, else 0 |
/// | `workqueue_queue_cancelled` | gauge | 1 once this worker found the queue cancelled, else 0 |
/// | `workqueue_rate_limited_total` | counter | takes the fleet-wide rate limit held back |
public struct WorkerMetrics: Sendable {
    /// The metric names, for dashboards and tests.
    public enum Name {
        /// Counter: items leased by this worker.
        public static let leased = "workqueue_items_leased_total"
        /// Counter: completions recorded.
        public static let completed = "workqueue_items_completed_total"
        /// Counter: handler failures recorded (retried and dead-lettered).
        public static let failed = "workqueue_items_failed_total"
        /// Counter: failures scheduled for a retry.
        public static let retried = "workqueue_items_retried_total"
        /// Counter: items moved to the dead letters (by failures or by recovery).
        public static let deadLettered = "workqueue_items_dead_lettered_total"
        /// Counter: expired leases (a dead worker's) this worker returned to pending.
        public static let recovered = "workqueue_items_recovered_total"
        /// Counter: unfinished items given back on shutdown.
        public static let released = "workqueue_items_released_total"
        /// Counter: deliveries whose lease another worker took over.
        public static let leasesLost = "workqueue_leases_lost_total"
        /// Counter: failed queue calls (each retried, or the run ends).
        public static let backendErrors = "workqueue_backend_errors_total"
        /// Histogram: the time a handler ran, in seconds.
        public static let handlerDuration = "workqueue_handler_duration_seconds"
        /// Histogram: from the lease to the recorded settlement, in seconds.
        public static let leaseToSettle = "workqueue_lease_to_settle_seconds"
        /// Gauge: items whose handler runs now.
        public static let inFlight = "workqueue_items_in_flight"
        /// Gauge: leased items waiting in the process's buffer.
        public static let buffered = "workqueue_items_buffered"

        /// Gauge: 1 while this worker finds the queue paused (`workqueue pause`), else 0.
        public static let paused = "workqueue_queue_paused"
        /// Gauge: 1 once this worker found the queue cancelled (`workqueue cancel`), else 0.
        public static let cancelled = "workqueue_queue_cancelled"
        /// Counter: takes the fleet-wide rate limit (`--rate-limit`) held back.
        public static let rateLimited = "workqueue_rate_limited_total"

        /// Every name above.
        public static let all = [leased, completed, failed, retried, deadLettered, recovered, released, leasesLost,
                                 backendErrors, handlerDuration, leaseToSettle, inFlight, buffered, paused, cancelled,
                                 rateLimited]
    }

    let leased: Counter
    let completed: Counter
    let failed: Counter
    let retried: Counter
    let deadLettered: Counter
    let recovered: Counter
    let released: Counter
    let leasesLost: Counter
    let backendErrors: Counter
    let handlerDuration: CoreMetrics.Timer
    let leaseToSettle: CoreMetrics.Timer
    let inFlight: Gauge
    let buffered: Gauge
    let paused: Gauge
    let cancelled: Gauge
    let rateLimited: Counter
    /// False when the factory is swift-metrics' no-op one (nothing bootstrapped): the per-item
    /// timings (handler duration, lease to settle) are then not computed at all.
    let timed: Bool

    /// Makes every metric once, with `dimensions` as labels, from `factory` (by default the
    /// one bootstrapped with `MetricsSystem.bootstrap`).
    public init(dimensions: [(String, String)], factory: any MetricsFactory = MetricsSystem.factory) {
        leased = Counter(label: Name.leased, dimensions: dimensions, factory: factory)
        completed = Counter(label: Name.completed, dimensions: dimensions, factory: factory)
        failed = Counter(label: Name.failed, dimensions: dimensions, factory: factory)
        retried = Counter(label: Name.retried, dimensions: dimensions, factory: factory)
        deadLettered = Counter(label: Name.deadLettered, dimensions: dimensions, factory: factory)
        recovered = Counter(label: Name.recovered, dimensions: dimensions, factory: factory)
        released = Counter(label: Name.released, dimensions: dimensions, factory: factory)
        leasesLost = Counter(label: Name.leasesLost, dimensions: dimensions, factory: factory)
        backendErrors = Counter(label: Name.backendErrors, dimensions: dimensions, factory: factory)
        handlerDuration = CoreMetrics.Timer(label: Name.handlerDuration, dimensions: dimensions, factory: factory)
        leaseToSettle = CoreMetrics.Timer(label: Name.leaseToSettle, dimensions: dimensions, factory: factory)
        inFlight = Gauge(label: Name.inFlight, dimensions: dimensions, factory: factory)
        buffered = Gauge(label: Name.buffered, dimensions: dimensions, factory: factory)
        paused = Gauge(label: Name.paused, dimensions: dimensions, factory: factory)
        cancelled = Gauge(label: Name.cancelled, dimensions: dimensions, factory: factory)
        rateLimited = Counter(label: Name.rateLimited, dimensions: dimensions, factory: factory)
        timed = !(factory is NOOPMetricsHandler)
    }

    /// Sets the paused and cancelled gauges (the runner calls it when they change).
    func recordControl(_ control: QueueControl) {
        paused.record(control.paused ? 1 : 0)
        cancelled.record(control.cancelled ? 1 : 0)
    }

    /// Counts a take the rate limit held back.
    func recordRateLimited() { rateLimited.increment() }

    /// Counts one exchange's settlements by kind (one increment per kind that occurred) and
    /// records each settled item's lease-to-settle time. `leasedAt[i]` is when settlement `i`
    /// was leased (missing entries record no time).
    func recordExchange(outcomes: [SettleOutcome], settlements: [Settlement], leasedAt: [ContinuousClock.Instant],
                        now: ContinuousClock.Instant) {
        var completedCount = 0, retriedCount = 0, deadCount = 0, releasedCount = 0
        for index in settlements.indices {
            // A lost lease is counted where the runner records it (``recordLeaseLost()``).
            guard index < outcomes.count, outcomes[index] == .settled else { continue }
            switch settlements[index] {
            case .complete: completedCount += 1
            case .release: releasedCount += 1
            case .fail(_, _, .deadLetter): deadCount += 1
            case .fail(_, _, .retry): retriedCount += 1
            }
            if timed, index < leasedAt.count {
                leaseToSettle.recordNanoseconds(Self.nanoseconds(now - leasedAt[index]))
            }
        }
        if completedCount > 0 { completed.increment(by: completedCount) }
        if retriedCount + deadCount > 0 { failed.increment(by: retriedCount + deadCount) }
        if retriedCount > 0 { retried.increment(by: retriedCount) }
        if deadCount > 0 { deadLettered.increment(by: deadCount) }
        if releasedCount > 0 { released.increment(by: releasedCount) }
    }

    /// Counts a batch of new leases.
    func recordLeased(_ count: Int) {
        if count > 0 { leased.increment(by: count) }
    }

    /// Counts a delivery whose lease was found lost (by renewal, in the buffer, or at settling).
    func recordLeaseLost() { leasesLost.increment() }

    /// Counts what a recovery pass did.
    func recordRecovery(_ report: RecoveryReport) {
        if report.requeued > 0 { recovered.increment(by: report.requeued) }
        if report.deadLettered > 0 { deadLettered.increment(by: report.deadLettered) }
    }

    /// Counts a failed queue call.
    func recordBackendError() { backendErrors.increment() }

    /// Records one handler's running time.
    func recordHandler(_ duration: Duration) {
        if timed { handlerDuration.recordNanoseconds(Self.nanoseconds(duration)) }
    }

    /// Sets the in-flight and buffered gauges from the dispatcher's counts.
    func recordOccupancy(running: Int, buffered count: Int) {
        inFlight.record(running)
        buffered.record(count)
    }

    private static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? 0 : Int64.max }
        return max(0, product &+ attoseconds / 1_000_000_000)
    }
}

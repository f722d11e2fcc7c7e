#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import WorkQueue

/// The number of workers a queue wants now: what `status --serve` serves to KEDA (at
/// `/scaling` for the metrics-api scaler, as the gauge `workqueue_queue_wanted_workers` for the
/// Prometheus scaler) and `status --json` prints as `wanted_workers`. docs/scaling.md explains
/// it; ``compute(_:)`` is a pure function of the queue's counts, so the tests replay it.
///
/// The number is the total the queue can use (running workers included), which is what a KEDA
/// `ScaledJob` with `scalingStrategy: default` and a target of 1 needs: KEDA starts
/// `wanted - running Jobs` new Jobs each polling interval, so it never counts the items the
/// running workers hold twice (the list-length trigger's overshoot) nor ignores them
/// (keda#1222's missing scale-up).
struct ScalingSignal: Equatable, Sendable {
    /// What the signal is computed from.
    struct Input: Equatable, Sendable {
        /// Items waiting in `NAME`.
        var pending: Int
        /// Items in flight (taken and not settled: `status`'s `processing`): held by running workers.
        var inFlight: Int
        /// Every scheduled item (retries waiting for their time), due or not.
        var scheduled: Int
        /// Scheduled items whose time has come. nil: the backend does not report them yet, and
        /// none counts as work (the seam for a due count; see docs/scaling.md). Whatever the
        /// value, a queue with scheduled items wants at least one live worker, since workers
        /// move due items back to `NAME`.
        var due: Int?
        /// Live workers (heartbeat records): reported with the signal; their records give
        /// ``perWorkerRate`` and ``rateCeiling``.
        var workers: Int
        /// Items one worker settles per second, measured from the live workers' records
        /// (``perWorkerRate(_:)``); nil when no worker has settled an item yet.
        var perWorkerRate: Double?
        /// While no rate is measured: the most one worker can be settling per second, given
        /// that the live workers have run this long without settling an item
        /// (``rateCeiling(_:)``); nil when there is no live worker.
        var rateCeiling: Double? = nil
        /// How long the work in the queue should take to drain, in seconds (`--target-drain-seconds`).
        var targetDrainSeconds: Double
        /// `workqueue pause` or `workqueue cancel` is in force: a new worker would take nothing.
        var stopped: Bool = false
    }

    /// Why the number is what it is (the JSON's `reason`).
    enum Reason: String, Sendable {
        /// Nothing to do and nothing scheduled.
        case drained
        /// Paused or cancelled: new workers would take nothing.
        case stopped
        /// Only scheduled items, none due: one worker to move them back when they are.
        case scheduled
        /// The measured rate: enough workers to drain the work in the target time.
        case measured
        /// No rate measured yet: what the live workers' time without a settled item proves the
        /// work needs at least (one to start).
        case starting
    }

    /// Workers wanted now, running ones included.
    var wanted: Int
    /// Why.
    var reason: Reason

    /// Work a worker can take now: pending, due and in flight.
    static func work(_ input: Input) -> Int {
        max(0, input.pending) + max(0, input.due ?? 0) + max(0, input.inFlight)
    }

    /// The workers the queue wants for `input`:
    /// - nothing to do: 0 (1 while scheduled items wait, or they would never come due);
    /// - paused or cancelled: 0;
    /// - a measured rate r per worker: ⌈work / (r × target)⌉;
    /// - no rate yet: ⌈work / (c × target)⌉ with c the rate ceiling (a worker busy for t
    ///   seconds on its first item settles under 1/t items a second), so it grows with the
    ///   oldest worker's age, never past what the true rate will want; 1 with no live worker;
    ///
    /// never more than the work itself (a worker needs an item) and never less than 1 while
    /// there is any.
    static func compute(_ input: Input) -> ScalingSignal {
        let work = work(input)
        let waiting = max(0, input.scheduled) > 0
        if input.stopped { return ScalingSignal(wanted: 0, reason: .stopped) }
        if work == 0 { return waiting ? ScalingSignal(wanted: 1, reason: .scheduled) : ScalingSignal(wanted: 0, reason: .drained) }
        let target = input.targetDrainSeconds.isFinite && input.targetDrainSeconds > 0 ? input.targetDrainSeconds : 1
        if let rate = input.perWorkerRate, rate.isFinite, rate > 0 {
            return ScalingSignal(wanted: workers(work, rate: rate, target: target), reason: .measured)
        }
        if let ceiling = input.rateCeiling, ceiling.isFinite, ceiling > 0 {
            return ScalingSignal(wanted: workers(work, rate: ceiling, target: target), reason: .starting)
        }
        return ScalingSignal(wanted: 1, reason: .starting)
    }

    /// ⌈work / (rate × target)⌉, from 1 to work.
    private static func workers(_ work: Int, rate: Double, target: Double) -> Int {
        let exact = Double(work) / (rate * target)
        // A hair under a whole number is that number (900 items at 3/s over 300 s: 1, not 2).
        let rounded = (exact - 1e-9).rounded(.up)
        return rounded >= Double(work) ? work : max(1, Int(rounded))
    }

    /// One live worker's record, as the rate needs it.
    struct WorkerSample: Equatable, Sendable {
        /// Items it settled (completed, or failed: retried or dead-lettered) so far.
        var settled: Int
        /// Seconds from its start to its last record.
        var seconds: Double
        /// Handlers it was running at its last record (its `--concurrency` at most).
        var busy: Int = 1
    }

    /// Items one worker settles per second: the settled items over the lifetimes of the
    /// workers that settled any (a worker's rate weighted by its age; one still on its first
    /// item would count its unfinished work as none). nil until one has settled an item.
    static func perWorkerRate(_ samples: [WorkerSample]) -> Double? {
        var settled = 0
        var seconds = 0.0
        for sample in samples where sample.seconds.isFinite && sample.seconds > 0 && sample.settled > 0 {
            settled += sample.settled
            seconds += sample.seconds
        }
        guard settled > 0, seconds > 0 else { return nil }
        return Double(settled) / seconds
    }

    /// The most one worker can be settling per second when none has settled an item: a worker
    /// that ran t seconds with b handlers busy and settled none takes over t per item, so the
    /// rate is under b / t for each; the oldest gives the tightest bound. nil without a sample.
    static func rateCeiling(_ samples: [WorkerSample]) -> Double? {
        var ceiling: Double?
        for sample in samples where sample.seconds.isFinite && sample.seconds > 0 && sample.settled == 0 {
            let bound = Double(max(1, sample.busy)) / sample.seconds
            ceiling = min(ceiling ?? bound, bound)
        }
        return ceiling
    }

    /// A live worker's sample: its settled count and its age at its last record, on this
    /// process' wall clock (`nowMilliseconds`); nil for a record that could not be read.
    static func sample(_ worker: LiveWorker, nowMilliseconds: Int64) -> WorkerSample? {
        let heartbeat = worker.heartbeat
        guard heartbeat.startedAtMilliseconds > 0 else { return nil }
        let seen = nowMilliseconds - Int64(worker.lastSeen.roundedSeconds * 1000)
        let age = Double(seen - heartbeat.startedAtMilliseconds) / 1000
        guard age > 0 else { return nil }
        return WorkerSample(settled: max(0, heartbeat.completed) + max(0, heartbeat.failed), seconds: age,
                            busy: max(0, heartbeat.inFlight))
    }
}

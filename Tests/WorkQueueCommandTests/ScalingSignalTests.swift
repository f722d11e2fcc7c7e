import Testing
import WorkQueue
@testable import WorkQueueCommand

/// The scaling signal (`wanted_workers`): the pure computation, table by table, and a replay of
/// a queue's counts through KEDA's documented ScaledJob arithmetic, against the redis
/// list-length trigger the manifests used before.
@Suite struct ScalingSignalTests {
    typealias Input = ScalingSignal.Input

    static func input(pending: Int = 0, inFlight: Int = 0, scheduled: Int = 0, due: Int? = nil, workers: Int = 0,
                      rate: Double? = nil, ceiling: Double? = nil, target: Double = 300, stopped: Bool = false) -> Input {
        Input(pending: pending, inFlight: inFlight, scheduled: scheduled, due: due, workers: workers, perWorkerRate: rate,
              rateCeiling: ceiling, targetDrainSeconds: target, stopped: stopped)
    }

    static let table: [(Input, Int, ScalingSignal.Reason)] = [
        // Nothing to do.
        (input(), 0, .drained),
        (input(pending: -5, inFlight: -1), 0, .drained),
        // Retries waiting, none due (or no due count yet): one worker to move them back.
        (input(scheduled: 7), 1, .scheduled),
        (input(scheduled: 7, due: 0, workers: 3, rate: 5), 1, .scheduled),
        // Paused or cancelled: a new worker would take nothing.
        (input(pending: 500, workers: 2, rate: 10, stopped: true), 0, .stopped),
        // A measured rate: ⌈work / (rate × target)⌉.
        (input(pending: 1000, rate: 10), 1, .measured),
        (input(pending: 9000, rate: 10), 3, .measured),
        (input(pending: 9001, rate: 10), 4, .measured),
        (input(pending: 6000, inFlight: 0, workers: 1, rate: 2), 10, .measured),
        (input(pending: 4000, inFlight: 2000, workers: 1, rate: 2), 10, .measured),
        (input(pending: 900, rate: 3), 1, .measured),                 // exactly 1.0, not 2
        (input(pending: 0, inFlight: 10, workers: 10, rate: 0.01, target: 60), 10, .measured),  // one per item at most
        (input(pending: 5, rate: 0.001, target: 1), 5, .measured),
        (input(pending: Int.max / 4, rate: 1e-300, target: 1), Int.max / 4, .measured),
        (input(pending: 3, rate: 1e300), 1, .measured),
        // Due retries are work; scheduled ones not yet due are not.
        (input(scheduled: 80, due: 50, workers: 1, rate: 1, target: 10), 5, .measured),
        // No rate yet: one to start; then what the oldest worker's time without a settled item
        // proves (it settles under 1/30 a second: 100 items need 10 workers for 300 s).
        (input(pending: 100), 1, .starting),
        (input(pending: 100, workers: 3), 1, .starting),
        (input(pending: 100, workers: 3, ceiling: 1.0 / 30), 10, .starting),
        (input(pending: 100, workers: 3, ceiling: 1.0 / 3), 1, .starting),
        (input(pending: 4, workers: 3, ceiling: 0.001), 4, .starting),
        (input(pending: 100, workers: 2, rate: .nan, ceiling: 0.01), 34, .starting),
        (input(pending: 100, workers: 2, rate: 0), 1, .starting),
        (input(pending: 100, workers: 2, rate: -3, ceiling: .infinity), 1, .starting),
        // A measured rate wins over the ceiling.
        (input(pending: 100, workers: 2, rate: 1, ceiling: 0.001), 1, .measured),
        // A target of 0 (refused by the flag) acts as 1 s, never a division by zero.
        (input(pending: 100, rate: 10, target: 0), 10, .measured),
    ]

    @Test(arguments: table)
    func computes(input: Input, wanted: Int, reason: ScalingSignal.Reason) {
        let signal = ScalingSignal.compute(input)
        #expect(signal == ScalingSignal(wanted: wanted, reason: reason), "\(input)")
    }

    @Test func rateIsSettledOverAgeOfTheLiveWorkers() {
        typealias Sample = ScalingSignal.WorkerSample
        #expect(ScalingSignal.perWorkerRate([]) == nil)
        #expect(ScalingSignal.perWorkerRate([Sample(settled: 0, seconds: 10)]) == nil)
        #expect(ScalingSignal.perWorkerRate([Sample(settled: 10, seconds: 10), Sample(settled: 30, seconds: 10)]) == 2)
        // Age-weighted: a young worker moves the rate by its share of the time.
        // Age-weighted, over the workers that settled any: one still on its first item is left out.
        #expect(ScalingSignal.perWorkerRate([Sample(settled: 90, seconds: 30), Sample(settled: 30, seconds: 20)]) == 2.4)
        #expect(ScalingSignal.perWorkerRate([Sample(settled: 90, seconds: 30), Sample(settled: 0, seconds: 10)]) == 3)
        #expect(ScalingSignal.perWorkerRate([Sample(settled: 5, seconds: 0)]) == nil)
        #expect(ScalingSignal.perWorkerRate([Sample(settled: 10, seconds: 5), Sample(settled: 10, seconds: .nan)]) == 2)
    }

    @Test func theCeilingIsTheOldestUnsettledWorkersBound() {
        typealias Sample = ScalingSignal.WorkerSample
        #expect(ScalingSignal.rateCeiling([]) == nil)
        #expect(ScalingSignal.rateCeiling([Sample(settled: 3, seconds: 10)]) == nil)
        #expect(ScalingSignal.rateCeiling([Sample(settled: 0, seconds: 20, busy: 1), Sample(settled: 0, seconds: 5, busy: 1)]) == 0.05)
        // Four handlers busy for 20 s: under 4 items in 20 s.
        #expect(ScalingSignal.rateCeiling([Sample(settled: 0, seconds: 20, busy: 4)]) == 0.2)
        #expect(ScalingSignal.rateCeiling([Sample(settled: 0, seconds: 20, busy: 0)]) == 0.05)
        #expect(ScalingSignal.rateCeiling([Sample(settled: 0, seconds: 0), Sample(settled: 0, seconds: .nan)]) == nil)
    }

    @Test func aSampleIsTheRecordsCountsOverItsAge() {
        let now: Int64 = 1_800_000_000_000
        let heartbeat = WorkerHeartbeat(session: "s", host: "h", handler: "p", startedAtMilliseconds: now - 10_000,
                                        inFlight: 3, completed: 7, failed: 1)
        let worker = LiveWorker(heartbeat: heartbeat, lastSeen: .seconds(2), expiresIn: .seconds(28))
        #expect(ScalingSignal.sample(worker, nowMilliseconds: now) == ScalingSignal.WorkerSample(settled: 8, seconds: 8, busy: 3))
        // An unreadable record (start 0) or one from the future gives no sample.
        var unread = worker
        unread.heartbeat.startedAtMilliseconds = 0
        #expect(ScalingSignal.sample(unread, nowMilliseconds: now) == nil)
        #expect(ScalingSignal.sample(worker, nowMilliseconds: now - 20_000) == nil)
    }

    @Test func theReportKeepsItsFieldNames() throws {
        let input = Self.input(pending: 10, inFlight: 2, scheduled: 1, workers: 1, rate: 1.23456, target: 60)
        let report = ScalingEndpoint.Report(queue: "job2", input: input, signal: .compute(input))
        let text = ScalingEndpoint.json(report)
        for field in ["\"due\":null", "\"in_flight\":2", "\"pending\":10", "\"per_worker_rate\":1.235", "\"queue\":\"job2\"",
                      "\"reason\":\"measured\"", "\"scheduled\":1", "\"target_drain_seconds\":60", "\"workers\":1"] {
            #expect(text.contains(field), "\(field) in \(text)")
        }
        #expect(ScalingEndpoint.json(report).contains("\"wanted_workers\":1"))
        #expect(ScalingEndpoint.json(report).contains("\"per_worker_rate\":1.235"))
    }

    // MARK: The replay through KEDA's ScaledJob arithmetic

    /// KEDA's ScaledJob scaling, as its docs state it (keda.sh, "ScaledJob specification",
    /// scalingStrategy and maxReplicaCount): maxScale = min(maxReplicaCount, ⌈queueLength ÷
    /// targetAverageValue⌉); then `default` starts maxScale − running Jobs, `accurate` starts
    /// maxReplicaCount − running when maxScale + running exceeds maxReplicaCount, else maxScale −
    /// pending Jobs, `custom` min(maxScale − deduction − ⌊running × percentage⌋, maxReplicaCount).
    /// A metric of 0 leaves the scaler inactive: no Job.
    struct KEDA {
        enum Strategy { case standard, accurate, custom(deduction: Int, runningPercentage: Double) }
        var maxReplicaCount: Int
        var strategy: Strategy

        func jobsToStart(queueLength: Double, target: Double, running: Int, pending: Int) -> Int {
            guard queueLength > 0 else { return 0 }
            let maxScale = min(maxReplicaCount, Int((queueLength / target).rounded(.up)))
            let scale: Int
            switch strategy {
            case .standard:
                scale = maxScale - running
            case .accurate:
                scale = maxScale + running > maxReplicaCount ? maxReplicaCount - running : maxScale - pending
            case let .custom(deduction, percentage):
                scale = min(maxScale - deduction - Int(Double(running) * percentage), maxReplicaCount)
            }
            return max(0, scale)
        }
    }

    /// The model against the docs' own table (maxReplicaCount: queue length, max replicas,
    /// target average value, running Jobs, Jobs started) under the default strategy.
    @Test(arguments: [(10, 3, 1, 0, 3), (10, 3, 2, 0, 3), (10, 3, 1, 1, 2), (10, 100, 1, 0, 10), (4, 3, 5, 0, 1)])
    func theKEDAModelMatchesItsDocumentedTable(queue: Int, maxReplicas: Int, target: Int, running: Int, started: Int) {
        let keda = KEDA(maxReplicaCount: maxReplicas, strategy: .standard)
        #expect(keda.jobsToStart(queueLength: Double(queue), target: Double(target), running: running, pending: 0) == started)
        // accurate: with room under the maximum, the pending Jobs (not the running ones) are taken off.
        let accurate = KEDA(maxReplicaCount: 100, strategy: .accurate)
        #expect(accurate.jobsToStart(queueLength: 10, target: 1, running: 5, pending: 2) == 8)
        #expect(accurate.jobsToStart(queueLength: 10, target: 1, running: 95, pending: 0) == 5)
        let custom = KEDA(maxReplicaCount: 100, strategy: .custom(deduction: 1, runningPercentage: 0.5))
        #expect(custom.jobsToStart(queueLength: 10, target: 1, running: 4, pending: 0) == 7)
        #expect(keda.jobsToStart(queueLength: 0, target: 1, running: 0, pending: 0) == 0)
    }

    /// One Job: its pod starts after a delay, then its worker takes one item at a time and exits
    /// 0 once nothing is pending or in flight (the queue drained), as `work` does.
    struct Job {
        var startsAt: Int
        var started = false
        var finishedAt: Int?
        var busyUntil: Int?
        var settled = 0
    }

    /// What the queue's trigger reports to KEDA.
    enum Trigger {
        /// The redis scaler: `LLEN NAME`, `listLength: "1"`, `strategy: accurate` (the ScaledJob
        /// `worker-image --keda` wrote before).
        case listLength
        /// `wanted_workers`, target 1, `strategy: default` (the ScaledJob it writes now).
        case signal(targetDrainSeconds: Double)
    }

    struct Outcome {
        var created = 0
        /// Jobs whose worker settled no item: started for work that was gone.
        var idle = 0
        var settled = 0
        var lastSettle = 0
        var mostRunning = 0
    }

    /// Replays pushes (`(second, items)`) of items taking `itemMilliseconds` each through a
    /// ScaledJob polled every `pollSeconds`, its pods starting 3 to 7 s after their Job. Time in
    /// 100 ms steps, bounded.
    static func replay(_ trigger: Trigger, pushes: [(second: Int, items: Int)], itemMilliseconds: Int,
                       maxReplicaCount: Int, pollSeconds: Int = 10) -> Outcome {
        let keda = switch trigger {
        case .listLength: KEDA(maxReplicaCount: maxReplicaCount, strategy: .accurate)
        case .signal: KEDA(maxReplicaCount: maxReplicaCount, strategy: .standard)
        }
        let step = 100
        let total = pushes.reduce(0) { $0 + $1.items }
        var pending = 0
        var jobs: [Job] = []
        var outcome = Outcome()
        var now = 0
        while now <= 4 * 3_600_000 {
            for push in pushes where push.second * 1000 == now { pending += push.items }
            // Settle, then take, then exit when drained.
            for index in jobs.indices where jobs[index].finishedAt == nil {
                if !jobs[index].started && now >= jobs[index].startsAt { jobs[index].started = true }
                if let until = jobs[index].busyUntil, now >= until {
                    jobs[index].busyUntil = nil
                    jobs[index].settled += 1
                    outcome.settled += 1
                    outcome.lastSettle = now
                }
            }
            for index in jobs.indices where jobs[index].started && jobs[index].finishedAt == nil && jobs[index].busyUntil == nil {
                guard pending > 0 else { break }
                pending -= 1
                jobs[index].busyUntil = now + itemMilliseconds
            }
            let inFlight = jobs.filter { $0.busyUntil != nil }.count
            if pending == 0 && inFlight == 0 {
                for index in jobs.indices where jobs[index].started && jobs[index].finishedAt == nil { jobs[index].finishedAt = now }
            }
            // KEDA's poll.
            if now > 0 && now % (pollSeconds * 1000) == 0 {
                let running = jobs.filter { $0.finishedAt == nil }.count
                let waiting = jobs.filter { $0.finishedAt == nil && !$0.started }.count
                let metric: Double
                switch trigger {
                case .listLength:
                    metric = Double(pending)
                case let .signal(target):
                    let live = jobs.filter { $0.started && $0.finishedAt == nil }
                    let samples = live.map { job in
                        ScalingSignal.WorkerSample(settled: job.settled, seconds: Double(now - job.startsAt) / 1000,
                                                   busy: job.busyUntil == nil ? 0 : 1)
                    }
                    let input = ScalingSignal.Input(pending: pending, inFlight: inFlight, scheduled: 0, due: nil,
                                                    workers: live.count, perWorkerRate: ScalingSignal.perWorkerRate(samples),
                                                    rateCeiling: ScalingSignal.rateCeiling(samples), targetDrainSeconds: target)
                    metric = Double(ScalingSignal.compute(input).wanted)
                }
                let start = keda.jobsToStart(queueLength: metric, target: 1, running: running, pending: waiting)
                for _ in 0..<start {
                    jobs.append(Job(startsAt: now + 3000 + (outcome.created % 5) * 1000))
                    outcome.created += 1
                }
                outcome.mostRunning = max(outcome.mostRunning, running + start)
            }
            let allPushed = pushes.allSatisfy { $0.second * 1000 <= now }
            // Until every Job ended: one whose pod starts after the drain exits at once.
            if allPushed && outcome.settled == total && jobs.allSatisfy({ $0.finishedAt != nil }) { break }
            now += step
        }
        outcome.idle = jobs.filter { $0.settled == 0 }.count
        return outcome
    }

    /// keda#5537: bursts of quick items. The list trigger starts a Job per pending item (up to
    /// maxReplicaCount); the first pods drain the burst and the rest start to an empty queue.
    @Test func burstsOfQuickItemsStartNoIdleJobs() {
        let pushes = (0..<5).map { (second: 1 + 60 * $0, items: 40) }
        let list = Self.replay(.listLength, pushes: pushes, itemMilliseconds: 200, maxReplicaCount: 50)
        let signal = Self.replay(.signal(targetDrainSeconds: 60), pushes: pushes, itemMilliseconds: 200, maxReplicaCount: 50)
        print("scaling replay, 5 bursts of 40 items of 200 ms: list-length trigger \(list.created) Jobs (\(list.idle) idle), "
            + "wanted_workers \(signal.created) Jobs (\(signal.idle) idle); drained at \(list.lastSettle / 1000) s and "
            + "\(signal.lastSettle / 1000) s")
        #expect(list.settled == 200 && signal.settled == 200)
        #expect(signal.idle == 0)
        #expect(list.idle > 0)
        #expect(signal.created < list.created)
    }

    /// A deep batch: the list trigger fills maxReplicaCount at once; the signal starts what
    /// drains the batch in the target time (⌈6000 ÷ (2/s × 300 s)⌉ = 10) and no more.
    @Test func aDeepBatchGetsWhatDrainsItInTime() {
        let pushes = [(second: 1, items: 6000)]
        let list = Self.replay(.listLength, pushes: pushes, itemMilliseconds: 500, maxReplicaCount: 100)
        let signal = Self.replay(.signal(targetDrainSeconds: 300), pushes: pushes, itemMilliseconds: 500, maxReplicaCount: 100)
        print("scaling replay, 6000 items of 500 ms, target 300 s: list-length trigger \(list.created) Jobs, drained at "
            + "\(list.lastSettle / 1000) s; wanted_workers \(signal.created) Jobs, drained at \(signal.lastSettle / 1000) s")
        #expect(list.settled == 6000 && signal.settled == 6000)
        #expect(list.created == 100)
        #expect(signal.created <= 11)
        #expect(signal.idle == 0)
        // In the target time, give or take the first poll and the pods' start.
        #expect(signal.lastSettle <= (300 + 45) * 1000)
    }

    /// keda#1222: long items while Jobs run. The signal counts the items in flight, so new
    /// items start new Jobs while the first ones run, and no Job idles.
    @Test func longItemsWhileJobsRun() {
        let pushes = [(second: 1, items: 10), (second: 45, items: 10)]
        let signal = Self.replay(.signal(targetDrainSeconds: 120), pushes: pushes, itemMilliseconds: 60_000, maxReplicaCount: 50)
        let list = Self.replay(.listLength, pushes: pushes, itemMilliseconds: 60_000, maxReplicaCount: 50)
        print("scaling replay, 20 items of 60 s, target 120 s: list-length trigger \(list.created) Jobs (\(list.idle) idle), "
            + "drained at \(list.lastSettle / 1000) s; wanted_workers \(signal.created) Jobs (\(signal.idle) idle), "
            + "drained at \(signal.lastSettle / 1000) s")
        #expect(signal.settled == 20)
        #expect(signal.idle == 0)
        #expect(signal.created > 1)
    }
}

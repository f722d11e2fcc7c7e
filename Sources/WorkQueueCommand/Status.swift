import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import WorkQueue
import WorkQueueDashboard
import WorkQueueRedis

/// `workqueue status`: the queue's counts, once, as JSON, or redrawn until drained.
struct Status: AsyncParsableCommand {
    static var configuration: CommandConfiguration { CommandConfiguration(
        abstract: "Show a queue's pending, processing, scheduled, dead and completed counts.",
        discussion: """
            --json prints one object with the integer fields pending, processing, leased (items \
            in processing whose lease is live; the others wait for recovery), scheduled, dead and \
            completed, workers (live workers: heartbeat records, see `\(ProgramName.current) workers`), \
            results and results_dropped (the completion records kept in NAME:results and those \
            the workers' --results-max dropped; not with --watch), \
            the boolean drained (nothing pending, in flight or scheduled; the workers still wait \
            while a hold lives), the array holds (the live holds keeping the queue open: objects \
            with name, expires_in_ms and legacy, true for a NAME:open mark of an older version) \
            and the string queue (with --watch, one object per line per refresh); without \
            --watch also the booleans paused and cancelled (`\(ProgramName.current) pause`, `\(ProgramName.current) \
            cancel`), the integer cancelled_items (items a cancel moved aside) and, while \
            anything is scheduled, the integer next_due_ms (ms until the soonest scheduled item, \
            a retry or a delayed push, is due; 0: due now). --watch redraws a progress bar with rate and ETA \
            until the queue is drained. --serve PORT (env WORKQUEUE_STATUS_PORT) serves the counts as \
            Prometheus gauges at http://0.0.0.0:PORT/metrics, read from Redis per scrape, until \
            the process is stopped (whether or not a worker runs), and the web dashboard of \
            `\(ProgramName.current) dashboard` at http://127.0.0.1:PORT/ (--bind, --token-file and --interval as \
            there): bound to a non-loopback address, the dashboard (which shows item bytes) answers \
            only requests to a loopback address naming a loopback host, the hosts named by \
            --allow-host, or requests carrying the token; /metrics stays open to all. With --shards M the counts \
            are the sums over the shards {NAME:0} ... {NAME:M-1}; --by-shard also shows each \
            shard, and --json adds the array shards (one object per shard, same fields). \
            Without --watch, --json also prints the integer wanted_workers, the scaling signal: the workers \
            the queue wants now, running ones included, to drain pending and in-flight items in \
            --target-drain-seconds at the live workers' measured rate; --serve serves it at /scaling \
            (JSON, for KEDA's metrics-api scaler, open to all as /metrics) and as the gauge \
            workqueue_queue_wanted_workers (docs/scaling.md).
            """
    ) }

    @OptionGroup var common: QueueOptions

    @Flag(name: Catalog.statusJSON.name, help: Catalog.statusJSON.help)
    var json = false

    @Flag(name: Catalog.statusByShard.name, help: Catalog.statusByShard.help)
    var byShard = false

    @Flag(name: Catalog.statusWatch.name, help: Catalog.statusWatch.help)
    var watch = false

    @Option(name: Catalog.statusInterval.name, help: Catalog.statusInterval.help)
    var intervalFlag: Double?

    /// `--interval`, else its default.
    var interval: Double { intervalFlag ?? Catalog.statusInterval.defaultSeconds }

    @Option(name: Catalog.statusRetrySeconds.name, help: Catalog.statusRetrySeconds.help)
    var retrySecondsFlag: Double?

    /// `--retry-seconds`, else its default.
    var retrySeconds: Double { retrySecondsFlag ?? Catalog.statusRetrySeconds.defaultSeconds }

    @Option(name: Catalog.statusPort.name, help: Catalog.statusPort.help)
    var serve: Int?

    @Option(name: Catalog.bind.name, help: ArgumentHelp(Catalog.bind.helpText(defaultText: "0.0.0.0"), valueName: "address"))
    var bind: String?

    @Option(name: Catalog.tokenFile.name, help: Catalog.tokenFile.help)
    var tokenFile: String?

    @Option(name: Catalog.allowHost.name, help: Catalog.allowHost.help)
    var allowHost: String?

    @Option(name: Catalog.httpIdleSeconds.name, help: Catalog.httpIdleSeconds.help)
    var httpIdleSeconds: Double?

    @Option(name: Catalog.targetDrainSeconds.name, help: Catalog.targetDrainSeconds.help)
    var targetDrainSeconds: Double?

    func validate() throws {
        try Catalog.statusInterval.check(intervalFlag)
        try Catalog.statusRetrySeconds.check(retrySecondsFlag)
        try Catalog.targetDrainSeconds.check(targetDrainSeconds)
    }

    func run() async throws {
        let settings = Settings()
        let logger = try common.bootstrap(settings)
        let name = try common.queueName(settings)
        // Read (and checked: a bad WORKQUEUE_TARGET_DRAIN_SECONDS exits 64) whatever the mode.
        let target = try settings.seconds(targetDrainSeconds, Catalog.targetDrainSeconds)
        if let port = try settings.integer(serve, Catalog.statusPort) {
            // The bind address: --bind or its variable, else every interface (Prometheus
            // scrapes from other pods), as before the dashboard existed.
            let host = bind ?? settings.variable(Catalog.bind) ?? "0.0.0.0"
            let token = try DashboardService.token(tokenFile, settings)
            let allowed = DashboardServer.Access.hosts(settings.string(allowHost, Catalog.allowHost))
            let idle = try settings.seconds(httpIdleSeconds, Catalog.httpIdleSeconds)
            try await withProducer(common, settings, logger: logger) { producer in
                let hub = DashboardHub(queues: [DashboardHub.Queue(name: name, shards: producer.queues)],
                                       interval: .milliseconds(Int64(interval * 1000)), token: token, logger: logger,
                                       programName: ProgramName.current)
                try await DashboardService.serve(hub, host: host, port: port, flag: Catalog.statusPort.flag, logger: logger,
                                                 allowedHosts: allowed, idle: idle, scaling: {
                    do {
                        let counts = try await producer.counts()
                        let input = try await ScalingEndpoint.input(producer, counts: counts, target: target)
                        let report = ScalingEndpoint.Report(queue: name, input: input, signal: .compute(input))
                        return (.ok, ScalingEndpoint.json(report))
                    } catch {
                        logger.warning("reading the queue's scaling signal failed: \(error); answered 503")
                        return (.serviceUnavailable, ScalingEndpoint.errorJSON("reading the queue failed: \(error)"))
                    }
                }) {
                    do {
                        let counts = try await producer.counts()
                        let results = try await producer.completionCounts()
                        // The signal's own reads failing drop its gauge, not the counts'.
                        var wanted: Int?
                        do {
                            wanted = ScalingSignal.compute(try await ScalingEndpoint.input(producer, counts: counts, target: target)).wanted
                        } catch {
                            logger.warning("reading the scaling signal failed: \(error); workqueue_queue_wanted_workers left out")
                        }
                        return (.ok, QueueMetricsPage.render(counts, queue: name, results: results, wantedWorkers: wanted))
                    } catch {
                        logger.warning("reading the queue's counts failed: \(error); scraped as workqueue_queue_up 0")
                        return (.ok, QueueMetricsPage.render(nil, queue: name))
                    }
                }
            }
            return
        }
        try await withProducer(common, settings, logger: logger) { producer in
            let names = producer.shardNames
            let each = try await producer.countsByShard()
            let first = QueueCounts(summing: each)
            guard watch else {
                // Shard 0's holds for the queue: producers hold every shard, shard 0 first and
                // last, and workers check shard 0 first.
                var holds: [[RedisQueue.Hold]] = []
                for shard in names.indices where json || byShard || holds.isEmpty { holds.append(try await producer.holds(shard: shard)) }
                let shards = names.count > 1 ? each : nil
                let hook = try await producer.onDrainedRecord()
                let control = try await controlBackend(producer.queues).control()
                var records: [(kept: Int, dropped: Int)] = []
                for queue in producer.queues { records.append(try await queue.completionCounts()) }
                let allRecords = (kept: records.reduce(0) { $0 + $1.kept }, dropped: records.reduce(0) { $0 + $1.dropped })
                let nextDue = first.scheduled > 0 ? try await producer.nextDue() : nil
                if json {
                    let scaling = try await ScalingEndpoint.input(producer, counts: first, target: target)
                    StandardOutput.line(try Self.json(first, queue: name, holds: holds.first ?? [],
                                                      shards: shards.map { Array(zip(names, zip($0, holds))) }, onDrained: hook,
                                                      control: control, results: allRecords,
                                                      shardResults: names.count > 1 ? records : nil,
                                                      wantedWorkers: ScalingSignal.compute(scaling).wanted, nextDue: nextDue))
                } else {
                    StandardOutput.line(Self.table(first, queue: name, holds: holds.first ?? [], onDrained: hook, control: control,
                                                   results: allRecords, nextDue: nextDue)
                        + (names.count > 1 ? "\n  shards     \(names.count)" : ""))
                    if byShard && names.count > 1 {
                        for (shard, (counts, held)) in zip(names, zip(each, holds)) {
                            StandardOutput.line(Self.table(counts, queue: shard, holds: held))
                        }
                    }
                }
                return
            }
            var progress = Progress(start: first, startTime: .now)
            var counts = first
            var failingSince: ContinuousClock.Instant?
            var holds = json ? try await producer.holds() : nil
            while true {
                if json {
                    StandardOutput.line(try Self.json(counts, queue: name, holds: holds))
                } else {
                    progress.draw(counts, terminal: StandardOutput.isTerminal)
                }
                if counts.isDrained { break }
                // A transient error (Redis restarting, a dropped connection) is shown and the
                // watch goes on, for up to --retry-seconds in a row; a permanent one ends it.
                while true {
                    try await Task.sleep(for: .seconds(interval))
                    do {
                        counts = try await producer.counts()
                        if json { holds = try await producer.holds() }
                        failingSince = nil
                        break
                    } catch {
                        guard !Self.isPermanent(error) else { throw error }
                        let since = failingSince ?? .now
                        failingSince = since
                        let failing = ContinuousClock.now - since
                        guard failing < .seconds(retrySeconds) else { throw error }
                        let message = "Redis error, retrying (\(Int(failing.components.seconds)) s of \(Int(retrySeconds)) s): \(error)"
                        if json {
                            logger.warning("\(message)")
                        } else if StandardOutput.isTerminal {
                            Terminal.redraw(message)
                        } else {
                            StandardOutput.line(message)
                        }
                    }
                }
            }
            if !json && StandardOutput.isTerminal { StandardOutput.line("") }
        }
    }

    /// Errors retrying cannot fix: a refused command, a key of the wrong type, a bad URL.
    static func isPermanent(_ error: any Error) -> Bool {
        if let error = error as? WorkQueueError { return error.isPermanent }
        if let error = error as? RedisError { return error.isPermanent }
        return false
    }

    /// The fields `status --json` prints.
    struct Report: Codable, Equatable {
        var queue: String
        var pending: Int
        var processing: Int
        var leased: Int?
        var scheduled: Int
        var dead: Int
        var completed: Int?
        var workers: Int?
        var drained: Bool
        /// The live holds keeping the queue open (with shards: shard 0's).
        var holds: [HoldReport]?
        /// With several shards: each one's report (its queue is the shard's name).
        var shards: [Report]?
        /// The `work --on-drained` hook of the last drain (`NAME:on-drained`, shard 0's), if any.
        var onDrained: OnDrainedReport?
        /// `workqueue pause` is in force (any shard).
        var paused: Bool?
        /// `workqueue cancel` is in force (any shard).
        var cancelled: Bool?
        /// Items a cancel moved aside (`NAME:cancelled`), waiting to be restored.
        var cancelledItems: Int?
        /// The completion records kept in `NAME:results` (`workqueue results` exports them).
        var results: Int?
        /// The completion records the workers' `--results-max` dropped so far (the oldest).
        var resultsDropped: Int?
        /// The scaling signal: workers the queue wants now, running ones included (docs/scaling.md).
        var wantedWorkers: Int?
        /// Ms until the soonest scheduled item (a retry, or an item pushed with a delay) is
        /// due on the Redis clock (0: due now); absent when nothing is scheduled.
        var nextDueMilliseconds: Int?

        enum CodingKeys: String, CodingKey {
            case queue, pending, processing, leased, scheduled, dead, completed, workers, drained, holds, shards, results
            case onDrained = "on_drained"
            case paused, cancelled
            case cancelledItems = "cancelled_items"
            case resultsDropped = "results_dropped"
            case wantedWorkers = "wanted_workers"
            case nextDueMilliseconds = "next_due_ms"
        }

        /// Sets the control fields.
        mutating func set(_ control: QueueControl?) {
            guard let control else { return }
            paused = control.paused
            cancelled = control.cancelled
            cancelledItems = control.cancelledItems
        }

        init(_ counts: QueueCounts, queue: String, holds: [RedisQueue.Hold]? = nil, shards: [Report]? = nil) {
            self.queue = queue
            pending = counts.pending
            processing = counts.processing
            leased = counts.leased
            scheduled = counts.scheduled
            dead = counts.dead
            completed = counts.completed
            workers = counts.workers
            drained = counts.isDrained
            self.holds = holds.map { $0.map(HoldReport.init) }
            self.shards = shards
        }
    }

    /// `duration` in whole ms, rounded up (a wait shown never ends early).
    static func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        let whole = Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
        return Swift.max(0, attoseconds % 1_000_000_000_000_000 > 0 ? whole + 1 : whole)
    }

    /// The `--on-drained` hook's record in `status --json`.
    struct OnDrainedReport: Codable, Equatable {
        /// started (running, or its worker died mid-hook: it is not re-run), done, failed, or
        /// stopped (its worker got SIGTERM or SIGINT and passed it on to the hook).
        var state: String
        /// The worker that claimed it.
        var session: String
        /// Its exit status once ended.
        var exitStatus: Int?

        enum CodingKeys: String, CodingKey {
            case state, session
            case exitStatus = "exit_status"
        }

        init(_ record: RedisQueue.OnDrainedRecord) {
            state = record.state
            session = record.session
            exitStatus = record.exitStatus
        }
    }

    /// One live hold in `status --json`.
    struct HoldReport: Codable, Equatable {
        /// The hold's name (a legacy mark's: the value an older version wrote).
        var name: String
        /// Milliseconds until it expires (Redis clock); nil for a legacy mark without a TTL.
        var expiresInMilliseconds: Int?
        /// True for a `NAME:open` mark of an older version.
        var legacy: Bool

        enum CodingKeys: String, CodingKey {
            case name, legacy
            case expiresInMilliseconds = "expires_in_ms"
        }

        init(_ hold: RedisQueue.Hold) {
            name = hold.name
            expiresInMilliseconds = hold.millisecondsLeft
            legacy = hold.isLegacyMark
        }
    }

    static func json(_ counts: QueueCounts, queue: String, holds: [RedisQueue.Hold]? = nil,
                     shards: [(String, (QueueCounts, [RedisQueue.Hold]))]? = nil,
                     onDrained: RedisQueue.OnDrainedRecord? = nil, control: QueueControl? = nil,
                     results: (kept: Int, dropped: Int)? = nil,
                     shardResults: [(kept: Int, dropped: Int)]? = nil, wantedWorkers: Int? = nil,
                     nextDue: Duration? = nil) throws -> String {
        var report = Report(counts, queue: queue, holds: holds,
                            shards: shards?.map { Report($0.1.0, queue: $0.0, holds: $0.1.1) })
        report.onDrained = onDrained.map(OnDrainedReport.init)
        report.set(control)
        report.results = results?.kept
        report.resultsDropped = results?.dropped
        report.wantedWorkers = wantedWorkers
        report.nextDueMilliseconds = nextDue.map(Self.milliseconds)
        if let shardResults, var parts = report.shards, parts.count == shardResults.count {
            for index in parts.indices {
                parts[index].results = shardResults[index].kept
                parts[index].resultsDropped = shardResults[index].dropped
            }
            report.shards = parts
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(report), as: UTF8.self)
    }

    static func table(_ counts: QueueCounts, queue: String, holds: [RedisQueue.Hold]? = nil,
                      onDrained: RedisQueue.OnDrainedRecord? = nil, control: QueueControl? = nil,
                      results: (kept: Int, dropped: Int)? = nil, nextDue: Duration? = nil) -> String {
        var rows = [("pending", "\(counts.pending)")]
        rows.append(("processing", "\(counts.processing)" + (counts.leased.map { " (\($0) leased)" } ?? "")))
        rows.append(("scheduled", "\(counts.scheduled)" + (nextDue.map { due in
            let ms = Self.milliseconds(due)
            return ms == 0 ? " (one is due now)" : " (next due in \(Progress.clock(Double(ms) / 1000)))"
        } ?? "")))
        rows.append(("dead", "\(counts.dead)"))
        if let completed = counts.completed { rows.append(("completed", "\(completed)")) }
        if let workers = counts.workers { rows.append(("workers", "\(workers) live")) }
        rows.append(("drained", counts.isDrained ? "yes" : "no"))
        if let control, control.paused || control.cancelled || (control.cancelledItems ?? 0) > 0 {
            if control.paused { rows.append(("paused", "yes (workers take nothing until `\(ProgramName.current) resume`)")) }
            let aside = (control.cancelledItems ?? 0) > 0
                ? control.cancelledItems.map { "; \($0) item\($0 == 1 ? "" : "s") aside in \(queue):cancelled" } ?? "" : ""
            if control.cancelled || !aside.isEmpty { rows.append(("cancelled", (control.cancelled ? "yes" : "no") + aside)) }
        }
        if let results {
            rows.append(("results", "\(results.kept) kept" + (results.dropped > 0
                ? ", \(results.dropped) dropped by --results-max" : "")))
        }
        if let holds {
            rows.append(("holds", holds.isEmpty ? "none" : "\(holds.count): " + holds.map { Producer.describe($0, queue: queue) }.joined(separator: ", ")))
        }
        if let hook = onDrained {
            let how = switch hook.state {
            case "started": "started by \(hook.session), not finished (running, or its worker died: it is not re-run)"
            default: "\(hook.state) (exit \(hook.exitStatus.map(String.init) ?? "?")) in \(hook.session)"
            }
            rows.append(("on-drained", how))
        }
        return (["queue \(queue)"] + rows.map { "  " + $0.0.padded(to: 11) + $0.1 })
            .joined(separator: "\n")
    }
}

/// The `--watch` progress line: done since the start, remaining, rate, ETA.
struct Progress {
    let start: QueueCounts
    let startTime: ContinuousClock.Instant

    /// Items finished (completed or dead-lettered) since the watch started.
    func done(_ counts: QueueCounts) -> Int {
        let completed = (counts.completed ?? 0) - (start.completed ?? 0)
        return max(0, completed + counts.dead - start.dead)
    }

    /// `[#####.....]  42% 420 done, 580 left, 35.0/s, ETA 17s`
    func line(_ counts: QueueCounts, now: ContinuousClock.Instant) -> String {
        let done = done(counts)
        let left = counts.pending + counts.processing + counts.scheduled
        let total = done + left
        let fraction = total == 0 ? 1 : Double(done) / Double(total)
        let width = 30
        let filled = min(width, Int((fraction * Double(width)).rounded(.down)))
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let elapsed = (now - startTime).seconds
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let eta: String
        if left == 0 {
            eta = "drained"
        } else if rate > 0 {
            eta = "ETA " + Self.clock(Double(left) / rate)
        } else {
            eta = "ETA --"
        }
        let percent = String(Int((fraction * 100).rounded(.down))).leftPadded(3)
        let workers = counts.workers.map { ", \($0) worker\($0 == 1 ? "" : "s")" } ?? ""
        return "[\(bar)] \(percent)% \(done) done, \(left) left, \(Self.fixed(rate, digits: 1))/s, \(eta)\(workers)"
    }

    mutating func draw(_ counts: QueueCounts, terminal: Bool) {
        let text = line(counts, now: .now)
        if terminal {
            Terminal.redraw(text)
        } else {
            StandardOutput.line(text)
        }
    }

    private static func twoDigits(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }

    /// `value` rounded to `digits` decimals (`35.0`), without Foundation's `String(format:)`.
    static func fixed(_ value: Double, digits: Int) -> String {
        guard value.isFinite else { return "--" }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = Int((abs(value) * scale).rounded())
        let whole = scaled / Int(scale)
        let fraction = String(scaled % Int(scale))
        let padded = String(repeating: "0", count: max(0, digits - fraction.count)) + fraction
        return (value < 0 && scaled > 0 ? "-" : "") + "\(whole)" + (digits > 0 ? "." + padded : "")
    }

    /// `1h02m03s`, `2m05s`, `7s`.
    static func clock(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds < 1e8 else { return "--" }
        let total = Int(seconds.rounded(.up))
        let (h, m, s) = (total / 3600, total / 60 % 60, total % 60)
        if h > 0 { return "\(h)h" + twoDigits(m) + "m" + twoDigits(s) + "s" }
        if m > 0 { return "\(m)m" + twoDigits(s) + "s" }
        return "\(s)s"
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}

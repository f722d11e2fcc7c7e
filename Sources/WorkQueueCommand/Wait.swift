import ArgumentParser
import WorkQueue
import WorkQueueRedis

/// `workqueue wait`: the finish line a pipeline step runs after a Job: blocks until the queue
/// is drained, and its exit status tells how it ended.
struct Wait: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Block until a queue is drained: exit 0 when no item is dead, 2 when some are, 124 on --timeout.",
        discussion: """
            Drained means what makes the workers exit 0: nothing pending, in flight or \
            scheduled for a retry, and no live hold (open, push --keep-open). Before the first \
            item is pushed an empty queue is drained: open it (or push) first. Prints one line \
            with the final counts, or with --json one object with status --json's fields \
            (queue, pending, processing, leased, scheduled, dead, completed, workers, drained, \
            holds, with --shards M the array shards, and on_drained once a work --on-drained \
            hook was claimed); after --timeout it prints the counts \
            it last saw. A Redis error is retried for up to \
            --retry-seconds in a row, then exits 1.

            Exit status: 0 when the queue is drained and NAME:dead is empty; 2 when it is \
            drained and NAME:dead holds dead letters (also ones left from an earlier run: \
            `dead purge` them before a new run); 124 when --timeout passed first (as \
            timeout(1)); 1, 64, 78 and 143 as every command.
            """
    )

    @OptionGroup var common: QueueOptions

    @Option(name: Catalog.waitTimeout.name, help: Catalog.waitTimeout.help)
    var timeout: Double?

    @Flag(name: Catalog.waitJSON.name, help: Catalog.waitJSON.help)
    var json = false

    @Option(name: Catalog.waitInterval.name, help: Catalog.waitInterval.help)
    var intervalFlag: Double?

    /// `--interval`, else its default.
    var interval: Double { intervalFlag ?? Catalog.waitInterval.defaultSeconds }

    @Option(name: Catalog.waitRetrySeconds.name, help: Catalog.waitRetrySeconds.help)
    var retrySecondsFlag: Double?

    /// `--retry-seconds`, else its default.
    var retrySeconds: Double { retrySecondsFlag ?? Catalog.waitRetrySeconds.defaultSeconds }

    func validate() throws {
        try Catalog.waitTimeout.check(timeout)
        try Catalog.waitInterval.check(intervalFlag)
        try Catalog.waitRetrySeconds.check(retrySecondsFlag)
    }

    func run() async throws {
        let settings = Settings()
        let logger = try common.bootstrap(settings)
        let name = try common.queueName(settings)
        let start = ContinuousClock.now
        let deadline = timeout.map { start + .milliseconds(Int64(min($0, 1e12) * 1000)) }
        let (names, each, holds, drained, hook) = try await withProducer(common, settings, logger: logger) { producer in
            var failingSince: ContinuousClock.Instant?
            var last: ([QueueCounts], [RedisQueue.Hold])?
            while true {
                do {
                    let each = try await producer.countsByShard()
                    // Producers hold every shard, shard 0 first and last: its holds are the queue's.
                    let holds = QueueCounts(summing: each).isDrained ? try await producer.holds() : []
                    last = (each, holds)
                    failingSince = nil
                    if QueueCounts(summing: each).isDrained && holds.isEmpty { return (producer.shardNames, each, holds, true, try await producer.onDrainedRecord()) }
                } catch {
                    guard !Status.isPermanent(error) else { throw error }
                    let since = failingSince ?? .now
                    failingSince = since
                    guard ContinuousClock.now - since < .milliseconds(Int64(min(retrySeconds, 1e12) * 1000)) else { throw error }
                    logger.warning("Redis error, retrying: \(error)")
                }
                if let deadline, ContinuousClock.now >= deadline, let last { return (producer.shardNames, last.0, last.1, false, nil) }
                try await Task.sleep(for: .milliseconds(Int64(interval * 1000)))
            }
        }
        let counts = QueueCounts(summing: each)
        if json {
            let shards = each.count > 1 ? Array(zip(names, each.map { ($0, [RedisQueue.Hold]()) })) : nil
            StandardOutput.line(try Status.json(counts, queue: name, holds: holds, shards: shards, onDrained: hook))
        } else if drained {
            StandardOutput.line("Queue \(name) drained: \(counts.completed ?? 0) completed, \(counts.dead) dead"
                + (counts.dead > 0 ? " (see `\(ProgramName.current) dead list`)" : ""))
        } else {
            StandardOutput.line("Queue \(name) not drained after \(Settings.format(timeout ?? 0)) s: \(counts.pending) pending, "
                + "\(counts.processing) processing, \(counts.scheduled) scheduled, \(holds.count) hold(s), "
                + "\(counts.completed ?? 0) completed, \(counts.dead) dead")
        }
        if !drained { throw ExitCode(ExitStatus.timedOut) }
        if counts.dead > 0 { throw ExitCode(ExitStatus.deadLetters) }
    }
}

import ArgumentParser
import WorkQueue
import WorkQueueRedis

/// `workqueue reap`: a recovery pass now, as every worker runs periodically.
struct Reap: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Return items whose lease expired (their worker died) to pending, and promote due retries.",
        discussion: """
            An item in NAME:processing without a lease key is recovered once it has been seen \
            leaseless for --grace-seconds (a rediswq.py worker sets its lease a moment after \
            taking an item), so reap looks twice, that long apart. Recovery counts an attempt; \
            an item out of attempts goes to NAME:dead. With --shards M every shard is reaped and \
            the figures are summed.
            """
    )

    @OptionGroup var common: QueueOptions

    @Option(name: Catalog.maxAttempts.name, help: Catalog.maxAttempts.help)
    var maxAttempts: Int?

    @Option(name: .customLong("grace-seconds"), help: ArgumentHelp(
        "How long an item must stay leaseless before it is recovered.", valueName: "seconds"))
    var graceSeconds: Double = Double(RedisQueue.Options().recoveryGrace.components.seconds)

    func validate() throws {
        guard graceSeconds.isFinite, graceSeconds >= 0, graceSeconds <= 600 else {
            throw ValidationError("--grace-seconds must be between 0 and 600")
        }
    }

    func run() async throws {
        let settings = Settings()
        let logger = try common.bootstrap(settings)
        let attempts = try settings.integer(maxAttempts, Catalog.maxAttempts)
        let grace = Duration.nanoseconds(Int64(graceSeconds * 1e9))
        try await withShards(common, settings, logger: logger, queueOptions: .init(recoveryGrace: grace)) { queues in
            var report = RecoveryReport()
            var promoted = 0
            for queue in queues {
                let first = try await queue.recoverExpiredLeases(maxAttempts: attempts)
                report.requeued += first.requeued
                report.deadLettered += first.deadLettered
            }
            if grace > .zero {
                try await Task.sleep(for: grace)
                for queue in queues {
                    let second = try await queue.recoverExpiredLeases(maxAttempts: attempts)
                    report.requeued += second.requeued
                    report.deadLettered += second.deadLettered
                }
            }
            for queue in queues { promoted += try await queue.promoteDueRetries() }
            StandardOutput.line("Recovered \(report.requeued) expired lease\(report.requeued == 1 ? "" : "s") "
                + "(\(report.deadLettered) dead-lettered); promoted \(promoted) due retr\(promoted == 1 ? "y" : "ies")")
        }
    }
}

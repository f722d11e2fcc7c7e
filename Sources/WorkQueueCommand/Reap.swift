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

    @Option(name: Catalog.reapGraceSeconds.name, help: Catalog.reapGraceSeconds.help)
    var graceSeconds: Double?

    func validate() throws {
        try Catalog.reapGraceSeconds.check(graceSeconds)
    }

    func run() async throws {
        let settings = Settings()
        let logger = try common.bootstrap(settings)
        let attempts = try settings.integer(maxAttempts, Catalog.maxAttempts)
        let grace = try Settings(environment: [:]).seconds(graceSeconds, Catalog.reapGraceSeconds)
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

import ArgumentParser
import WorkQueue

/// `workqueue close`: removes a queue's open mark.
struct Close: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove a queue's open mark (set by open or push --keep-open): its workers exit once it is drained.",
        discussion: "With --shards M every shard's mark is removed, shard 0 last."
    )

    @OptionGroup var common: QueueOptions

    func run() async throws {
        let settings = Settings()
        let logger = try common.bootstrap(settings)
        let name = try common.queueName(settings)
        let removed = try await withShards(common, settings, logger: logger) { queues in
            try await Producer.close(queues, producer: nil)
        }
        StandardOutput.line(removed ? "Closed \(name): its workers exit once it is drained"
                                    : "\(name) was not open (no \(name):open mark): nothing to close")
    }
}

import ArgumentParser
import WorkQueue

/// `workqueue close`: removes a queue's open mark.
struct Close: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove a queue's open mark (set by open or push --keep-open): its workers exit once it is drained."
    )

    @OptionGroup var common: QueueOptions

    func run() async throws {
        let settings = Settings()
        let logger = try common.bootstrap(settings)
        let name = try common.queueName(settings)
        let removed = try await withQueue(common, settings, logger: logger) { queue in
            try await queue.close(producer: nil)
        }
        StandardOutput.line(removed ? "Closed \(name): its workers exit once it is drained"
                                    : "\(name) was not open (no \(name):open mark): nothing to close")
    }
}

import ArgumentParser
import WorkQueue
import WorkQueueRedis

/// `workqueue dead`: inspect, retry or purge the dead letters in `NAME:dead`.
struct Dead: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List, retry or purge the items that ran out of attempts (the list NAME:dead).",
        discussion: """
            list prints one line per dead item: the item (invalid UTF-8 shown as \\xNN), a tab, \
            attempts=N, a tab, and the last error. retry moves every dead item back to pending \
            with its attempts reset; purge deletes them. With --shards M they act on every \
            shard (list: shard by shard). retry refuses a queue whose workers found it \
            drained and exited (NAME:drained) with exit status 78, nothing moved, since no \
            worker would take the items; --reopen clears the marker and retries anyway (then \
            start workers for them).
            """
    )

    enum Action: String, ExpressibleByArgument, CaseIterable {
        case list, retry, purge
    }

    @OptionGroup var common: QueueOptions

    @Argument(help: "list, retry or purge.")
    var action: Action

    @Flag(name: Catalog.deadReopen.name, help: Catalog.deadReopen.help)
    var reopen = false

    func validate() throws {
        if reopen && action != .retry { throw ValidationError("--reopen goes with retry only") }
    }

    func run() async throws {
        let settings = Settings()
        let logger = try common.bootstrap(settings)
        let name = try common.queueName(settings)
        try await withProducer(common, settings, logger: logger) { producer in
            let queues = producer.queues
            switch action {
            case .list:
                // A page at a time: dead items may be megabytes each.
                var cursor: DeadLetterPage.Cursor?
                repeat {
                    let page = try await producer.deadLetters(after: cursor, limit: 1000)
                    for letter in page.letters {
                        let attempts = letter.attempts.map(String.init) ?? "?"
                        let error = String((letter.lastError ?? "(no error recorded)").map { $0 == "\n" ? " " : $0 })
                        StandardOutput.line("\(letter.item.escaped)\tattempts=\(attempts)\t\(error)")
                    }
                    cursor = page.next
                } while cursor != nil
            case .retry:
                var moved = 0
                for shard in queues {
                    guard case let .done(count) = try await shard.retryDeadLetters(reopen: reopen) else {
                        if moved > 0 { StandardOutput.line("Moved \(moved) dead item\(moved == 1 ? "" : "s") of \(name) back to pending") }
                        throw CommandError.queueDrained(shard.name)
                    }
                    moved += count
                }
                StandardOutput.line("Moved \(moved) dead item\(moved == 1 ? "" : "s") of \(name) back to pending")
            case .purge:
                var deleted = 0
                for shard in queues { deleted += try await shard.purgeDeadLetters() }
                StandardOutput.line("Deleted \(deleted) dead item\(deleted == 1 ? "" : "s") of \(name)")
            }
        }
    }
}

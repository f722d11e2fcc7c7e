import ArgumentParser
import WorkQueue
import WorkQueueRedis

/// Moves every item aside back to pending, a page per call; returns how many. With
/// `clearCancel` the first page also clears the cancel mark, in the same step (`resume
/// --restore`: after it no worker's sweep moves anything aside again, so each item is counted
/// once). The queue is held open (a hold named `restore:<random>`) while items remain aside,
/// so that workers do not find it drained between two pages. Pages go on while items remain;
/// each moves at least one, and the pages stop after what was aside at the first page and one
/// page more.
func restoreAll(_ backend: any QueueControlling, clearCancel: Bool = false) async throws -> Int {
    let hold = "restore:" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
    var page = try await backend.restorePage(max: RedisQueue.controlPageSize, clearCancel: clearCancel, hold: hold)
    var total = page.moved
    let most = page.moved + page.remaining + RedisQueue.controlPageSize
    while page.remaining > 0, page.moved > 0, total < most {
        page = try await backend.restorePage(max: RedisQueue.controlPageSize, clearCancel: false, hold: hold)
        total += page.moved
    }
    return total
}

private func items(_ count: Int) -> String { "\(count) item\(count == 1 ? "" : "s")" }

/// `workqueue pause`: no worker takes new items until `resume`.
struct Pause: AsyncParsableCommand {
    static var configuration: CommandConfiguration { CommandConfiguration(
        abstract: "Stop every worker of the queue taking new items (sets paused in NAME:control).",
        discussion: """
            Each worker's next take hands out nothing (within one round trip). Items in flight \
            finish, renew and are settled; paused workers neither exit nor take, and ask again \
            every second. `\(ProgramName.current) resume` undoes it. With --shards M: every shard.
            """
    ) }

    @OptionGroup var common: QueueOptions

    func run() async throws {
        let settings = Settings()
        let logger = try common.bootstrap(settings)
        let name = try common.queueName(settings)
        try await withShards(common, settings, logger: logger) { queues in
            try await controlBackend(queues).setPaused(true)
        }
        StandardOutput.line("Paused \(name): workers take no new items until `\(ProgramName.current) resume`")
    }
}

/// `workqueue resume`: clears pause and cancel; --restore brings the cancelled items back first.
struct Resume: AsyncParsableCommand {
    static var configuration: CommandConfiguration { CommandConfiguration(
        abstract: "Let the workers take items again: clears paused and cancelled in NAME:control.",
        discussion: """
            Workers that were paused take again at their next poll (within a second). A \
            cancelled queue's workers have exited (status 4): start new ones. The items a \
            cancel moved aside stay in NAME:cancelled unless --restore moves them back to \
            pending (as `\(ProgramName.current) cancelled restore` does), clearing the cancel mark in the \
            same step as its first page, so that no worker's sweep moves them aside again; the \
            queue is held open (NAME:holds) until the last page. With --shards M: every shard.
            """
    ) }

    @OptionGroup var common: QueueOptions

    @Flag(name: Catalog.resumeRestore.name, help: Catalog.resumeRestore.help)
    var restore = false

    func run() async throws {
        let settings = Settings()
        let logger = try common.bootstrap(settings)
        let name = try common.queueName(settings)
        let restored = try await withShards(common, settings, logger: logger) { queues in
            let backend = try controlBackend(queues)
            // The mark is cleared first (with --restore, in the first restore page's step):
            // a worker's sweep after a cancel moves items aside only while the mark stands.
            let restored = restore ? try await restoreAll(backend, clearCancel: true) : 0
            if !restore { try await backend.clearCancelled() }
            try await backend.setPaused(false)
            return restored
        }
        if restore { StandardOutput.line("Restored \(items(restored)) of \(name) to pending") }
        StandardOutput.line("Resumed \(name)")
    }
}

/// `workqueue cancel`: ends the job.
struct Cancel: AsyncParsableCommand {
    static var configuration: CommandConfiguration { CommandConfiguration(
        abstract: "End the job: move pending items aside (NAME:cancelled) and make every worker stop.",
        discussion: """
            Marks the queue cancelled (cancelled in NAME:control) and moves every pending item, \
            then every scheduled retry, to the list NAME:cancelled, in pages of at most 10,000 items and \
            about 1 MiB (nothing \
            is deleted: `\(ProgramName.current) cancelled list` shows them, `\(ProgramName.current) cancelled restore` \
            moves them back). Workers take nothing more; in-flight handlers are cancelled at \
            their next renewal (CancellationReason.jobCancelled), their items released and \
            moved aside too, and the workers exit with status 4 (cancelled), which a Job's \
            podFailurePolicy can match with FailJob. Running it again moves aside anything that \
            came back meanwhile (an expired lease recovered). `\(ProgramName.current) resume` clears the \
            mark. With --shards M: every shard.
            """
    ) }

    @OptionGroup var common: QueueOptions

    func run() async throws {
        let settings = Settings()
        let logger = try common.bootstrap(settings)
        let name = try common.queueName(settings)
        let moved = try await withShards(common, settings, logger: logger) { queues in
            try await cancelAll(try controlBackend(queues))
        }
        StandardOutput.line("Cancelled \(name): moved \(items(moved)) aside to \(name):cancelled; workers exit with status 4")
    }
}

/// `workqueue cancelled`: list or restore the items a cancel moved aside.
struct Cancelled: AsyncParsableCommand {
    static var configuration: CommandConfiguration { CommandConfiguration(
        abstract: "List the items a cancel moved aside (NAME:cancelled), or restore them to pending.",
        discussion: """
            list prints one item per line (invalid UTF-8 shown as \\xNN), oldest first (with \
            --shards M: shard by shard). restore moves them all to the tail of pending, in \
            order; the queue stays cancelled until `\(ProgramName.current) resume` (or use `resume \
            --restore`, which does both).
            """
    ) }

    enum Action: String, ExpressibleByArgument, CaseIterable {
        case list, restore
    }

    @OptionGroup var common: QueueOptions

    @Argument(help: "list or restore.")
    var action: Action

    func run() async throws {
        let settings = Settings()
        let logger = try common.bootstrap(settings)
        let name = try common.queueName(settings)
        try await withShards(common, settings, logger: logger) { queues in
            switch action {
            case .list:
                for queue in queues {
                    var offset = 0
                    while true {
                        let page = try await queue.cancelledItems(offset: offset, limit: 1000)
                        if page.isEmpty { break }
                        for item in page { StandardOutput.line(item.escaped) }
                        offset += page.count
                    }
                }
            case .restore:
                let restored = try await restoreAll(try controlBackend(queues))
                StandardOutput.line("Restored \(items(restored)) of \(name) to pending")
            }
        }
    }
}

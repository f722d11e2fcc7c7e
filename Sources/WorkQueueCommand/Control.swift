import ArgumentParser
import WorkQueue
import WorkQueueRedis

/// The queue as one backend: the queue itself, or its shards through `ShardedBackend`.
func controlBackend(_ queues: [RedisQueue]) throws -> any WorkQueueBackend {
    queues.count == 1 ? queues[0] : try ShardedBackend(shards: queues)
}

/// Moves every pending item and scheduled retry aside, a page per call; returns how many.
func cancelAll(_ backend: any WorkQueueBackend) async throws -> Int {
    var total = 0
    while true {
        let moved = try await backend.cancel(max: RedisQueue.controlPageSize)
        total += moved
        if moved < RedisQueue.controlPageSize { return total }
    }
}

/// Moves every item aside back to pending, a page per call; returns how many.
func restoreAll(_ backend: any WorkQueueBackend) async throws -> Int {
    var total = 0
    while true {
        let moved = try await backend.restoreCancelled(max: RedisQueue.controlPageSize)
        total += moved
        if moved < RedisQueue.controlPageSize { return total }
    }
}

private func items(_ count: Int) -> String { "\(count) item\(count == 1 ? "" : "s")" }

/// `workqueue pause`: no worker takes new items until `resume`.
struct Pause: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stop every worker of the queue taking new items (sets paused in NAME:control).",
        discussion: """
            Each worker's next take hands out nothing (within one round trip). Items in flight \
            finish, renew and are settled; paused workers neither exit nor take, and ask again \
            every second. `workqueue resume` undoes it. With --shards M: every shard.
            """
    )

    @OptionGroup var common: QueueOptions

    func run() async throws {
        let settings = Settings()
        let logger = try common.bootstrap(settings)
        let name = try common.queueName(settings)
        try await withShards(common, settings, logger: logger) { queues in
            try await controlBackend(queues).setPaused(true)
        }
        StandardOutput.line("Paused \(name): workers take no new items until `workqueue resume`")
    }
}

/// `workqueue resume`: clears pause and cancel; --restore brings the cancelled items back first.
struct Resume: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Let the workers take items again: clears paused and cancelled in NAME:control.",
        discussion: """
            Workers that were paused take again at their next poll (within a second). A \
            cancelled queue's workers have exited (status 4): start new ones. The items a \
            cancel moved aside stay in NAME:cancelled unless --restore moves them back to \
            pending first (as `workqueue cancelled restore` does). With --shards M: every shard.
            """
    )

    @OptionGroup var common: QueueOptions

    @Flag(help: "First move the items a cancel moved aside (NAME:cancelled) back to pending.")
    var restore = false

    func run() async throws {
        let settings = Settings()
        let logger = try common.bootstrap(settings)
        let name = try common.queueName(settings)
        let restored = try await withShards(common, settings, logger: logger) { queues in
            let backend = try controlBackend(queues)
            let restored = restore ? try await restoreAll(backend) : 0
            try await backend.clearCancelled()
            try await backend.setPaused(false)
            return restored
        }
        if restore { StandardOutput.line("Restored \(items(restored)) of \(name) to pending") }
        StandardOutput.line("Resumed \(name)")
    }
}

/// `workqueue cancel`: ends the job.
struct Cancel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "End the job: move pending items aside (NAME:cancelled) and make every worker stop.",
        discussion: """
            Marks the queue cancelled (cancelled in NAME:control) and moves every pending item, \
            then every scheduled retry, to the list NAME:cancelled, in pages of 10,000 (nothing \
            is deleted: `workqueue cancelled list` shows them, `workqueue cancelled restore` \
            moves them back). Workers take nothing more; in-flight handlers are cancelled at \
            their next renewal (CancellationReason.jobCancelled), their items released and \
            moved aside too, and the workers exit with status 4 (cancelled), which a Job's \
            podFailurePolicy can match with FailJob. Running it again moves aside anything that \
            came back meanwhile (an expired lease recovered). `workqueue resume` clears the \
            mark. With --shards M: every shard.
            """
    )

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
    static let configuration = CommandConfiguration(
        abstract: "List the items a cancel moved aside (NAME:cancelled), or restore them to pending.",
        discussion: """
            list prints one item per line (invalid UTF-8 shown as \\xNN), oldest first (with \
            --shards M: shard by shard). restore moves them all to the tail of pending, in \
            order; the queue stays cancelled until `workqueue resume` (or use `resume \
            --restore`, which does both).
            """
    )

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

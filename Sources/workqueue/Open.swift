import ArgumentParser
import WorkQueue

/// `workqueue open`: marks a queue as still being filled, for producers that are not one push.
struct Open: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Mark a queue open (still being filled): its workers wait instead of exiting when they find it empty.",
        discussion: """
            Sets NAME:open with a TTL. Run open again before the TTL passes to keep the queue \
            open, and `workqueue close` once every item is pushed; a producer that dies \
            cannot hold the workers longer than the TTL. A queue whose workers found it \
            drained and exited is refused with exit status 78 unless --reopen. With --shards M \
            every shard is marked, shard 0 first.
            """
    )

    @OptionGroup var common: QueueOptions

    @Option(name: .customLong("ttl-seconds"), help: ArgumentHelp(
        "How long the mark lives unless refreshed by another open (default 300).", valueName: "seconds"))
    var ttlSeconds: Double = 300

    @Flag(help: "Open a queue that was drained and whose workers exited (deletes NAME:drained).")
    var reopen = false

    func validate() throws {
        try Producer.validate(ttlSeconds: ttlSeconds)
    }

    func run() async throws {
        let settings = Settings()
        let logger = try common.bootstrap(settings)
        let name = try common.queueName(settings)
        let producer = Producer.makeID()
        let seconds = Int(ttlSeconds.rounded(.up))
        let count = try await withShards(common, settings, logger: logger) { queues in
            try await Producer.open(queues, producer: producer, ttl: .milliseconds(Int64(ttlSeconds * 1000)), reopen: reopen)
            return queues.count
        }
        let sharding = count > 1 ? " --shards \(count)" : ""
        StandardOutput.line("""
            Opened \(name)\(count > 1 ? " (\(count) shards)" : "") for \(seconds) s (producer \(producer)): its workers wait instead of exiting. \
            Run `workqueue open --queue \(name)\(sharding) --ttl-seconds \(seconds)` again within \(seconds) s to keep it open, \
            and `workqueue close --queue \(name)\(sharding)` once every item is pushed.
            """)
    }
}

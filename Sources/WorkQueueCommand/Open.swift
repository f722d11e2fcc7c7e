import ArgumentParser
import WorkQueue
import WorkQueueRedis

/// `workqueue open`: holds a queue open (still being filled), for producers that are not one push.
struct Open: AsyncParsableCommand {
    static var configuration: CommandConfiguration { CommandConfiguration(
        abstract: "Hold a queue open (still being filled): its workers wait instead of exiting when they find it empty.",
        discussion: """
            Adds a named hold to NAME:holds (default name: operator; --hold NAME for another) that \
            expires after --ttl-seconds. Run open again with the same --hold before the TTL passes \
            to keep it, and `\(ProgramName.current) close` (with the same --hold) once every item is pushed. \
            The queue stays open while any hold lives: each producer's hold is its own (a \
            `push --keep-open` takes one named host:pid:random), so no producer's end ends \
            another's, and a producer that dies cannot hold the workers longer than its TTL. A \
            queue whose workers found it drained and exited is refused with exit status 78 \
            unless --reopen. With --shards M every shard gets the hold, shard 0 first.
            """
    ) }

    @OptionGroup var common: QueueOptions

    @Option(name: Catalog.openTTLSeconds.name, help: Catalog.openTTLSeconds.help)
    var ttlSecondsFlag: Double?

    /// `--ttl-seconds`, else its default.
    var ttlSeconds: Double { ttlSecondsFlag ?? Catalog.openTTLSeconds.defaultSeconds }

    @Option(name: Catalog.openHold.name, help: Catalog.openHold.help)
    var hold: String?

    @Flag(name: Catalog.openReopen.name, help: Catalog.openReopen.help)
    var reopen = false

    func validate() throws {
        try Catalog.openTTLSeconds.check(ttlSecondsFlag)
        try Producer.validate(hold: hold)
    }

    func run() async throws {
        let settings = Settings()
        let logger = try common.bootstrap(settings)
        let name = try common.queueName(settings)
        let producer = hold ?? Producer.operatorHold
        let seconds = Int(ttlSeconds.rounded(.up))
        let (count, others) = try await withProducer(common, settings, logger: logger, options: ProducerOptions(holdName: producer)) {
            // Not kept alive: the hold outlives this command, for its TTL or until `close`.
            try await $0.hold(ttl: Producer.ttl(seconds: ttlSeconds), reopen: reopen, keepAlive: false)
            return ($0.shardNames.count, try await $0.holds().filter { $0.name != producer || $0.isLegacyMark })
        }
        let sharding = count > 1 ? " --shards \(count)" : ""
        let holdFlag = hold.map { " --hold \($0)" } ?? ""
        let otherHolds = others.isEmpty ? "" : " Other holds: " + others.map { Producer.describe($0, queue: name) }.joined(separator: ", ") + "."
        StandardOutput.line("""
            Opened \(name)\(count > 1 ? " (\(count) shards)" : "") for \(seconds) s (hold \(producer)): its workers wait instead of exiting. \
            Run `\(ProgramName.current) open --queue \(name)\(sharding)\(holdFlag) --ttl-seconds \(seconds)` again within \(seconds) s to keep it open, \
            and `\(ProgramName.current) close --queue \(name)\(sharding)\(holdFlag)` once every item is pushed.\(otherHolds)
            """)
    }
}

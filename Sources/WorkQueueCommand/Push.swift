import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import WorkQueue
import WorkQueueRedis
import Logging
import Tracing

/// `workqueue push`: appends items to the tail of a queue.
struct Push: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Append items to a queue (RPUSH, pipelined in chunks) and print how many were pushed.",
        discussion: """
            Items come from the arguments, from --file PATH, or from standard input with `-`: \
            one item per line, the line's raw bytes without its newline (a trailing CR is \
            dropped too); empty lines are skipped. Lines are pushed as they arrive, so a \
            producer can stream for minutes.

            With --keep-open the push holds the queue open for as long as it runs (a hold of its \
            own in NAME:holds, named host:pid:random unless --hold, with a TTL refreshed every \
            third of it): workers wait instead of exiting when they find it empty. Its hold is \
            ended when the push ends, also on an error or SIGTERM; other holds (another \
            push's, an operator's `open`) stay, and the queue stays open while any lives. A \
            producer killed outright holds the workers until its TTL passes. On SIGTERM or \
            SIGINT every line already read is pushed before it exits 143, and stderr says how \
            many were pushed.

            A queue whose workers found it drained and exited (NAME:drained) is refused with \
            exit status 78, since nothing would take the items; --reopen clears the marker \
            and pushes anyway.

            With --shards M the items go round-robin, one by one from a random shard, to \
            {NAME:0} ... {NAME:M-1} (each shard's count differs by at most one), and the line \
            printed gives each shard's count; --keep-open and --reopen act on every shard.

            With --delay DURATION or --not-before TIME the items wait in the scheduled set \
            (NAME:retry, with the retries) and become pending when due; until then they count \
            as scheduled and the workers do not exit 0. With --unique an item equal (byte for \
            byte) to one pushed with --unique within --unique-window (1h) is skipped, whether \
            it is pending, scheduled, in flight or done; a second line says how many were \
            skipped (exit 0 also when all were). See docs/redis.md, "Delayed and unique pushes".
            """
    )

    @OptionGroup var common: QueueOptions

    @Option(name: Catalog.pushFile.name, help: Catalog.pushFile.help)
    var file: String?

    @Flag(name: Catalog.pushKeepOpen.name, help: Catalog.pushKeepOpen.help)
    var keepOpen = false

    @Option(name: Catalog.pushTTLSeconds.name, help: Catalog.pushTTLSeconds.help)
    var ttlSecondsFlag: Double?

    /// `--ttl-seconds`, else its default.
    var ttlSeconds: Double { ttlSecondsFlag ?? Catalog.pushTTLSeconds.defaultSeconds }

    @Option(name: Catalog.pushHold.name, help: Catalog.pushHold.help)
    var hold: String?

    @Flag(name: Catalog.pushReopen.name, help: Catalog.pushReopen.help)
    var reopen = false

    @Option(name: Catalog.waitReplicas.name, help: Catalog.waitReplicas.help)
    var waitReplicas: Int?

    @Option(name: Catalog.waitSeconds.name, help: Catalog.waitSeconds.help)
    var waitSeconds: Double?

    @Option(name: Catalog.pushDelay.name, help: Catalog.pushDelay.help)
    var delay: String?

    @Option(name: Catalog.pushNotBefore.name, help: Catalog.pushNotBefore.help)
    var notBefore: String?

    @Flag(name: Catalog.pushUnique.name, help: Catalog.pushUnique.help)
    var unique = false

    @Option(name: Catalog.pushUniqueWindow.name, help: Catalog.pushUniqueWindow.help)
    var uniqueWindow: String?

    @Argument(help: "Items to push; `-` reads items from standard input, one per line.")
    var items: [String] = []

    /// Items per RPUSH.
    static let chunk = 1000

    func validate() throws {
        try Catalog.pushTTLSeconds.check(ttlSecondsFlag)
        try Producer.validate(hold: hold)
        if hold != nil && !keepOpen { throw ValidationError("--hold names the hold of --keep-open; pass --keep-open too") }
        _ = try schedule()
    }

    /// `--delay`, `--not-before`, `--unique`, `--unique-window`, checked.
    func schedule() throws -> PushSchedule.Request {
        try PushSchedule.request(delay: delay, notBefore: notBefore, unique: unique, uniqueWindow: uniqueWindow)
    }

    func run() async throws {
        let settings = Settings()
        let logger = try common.bootstrap(settings)
        guard !items.isEmpty || file != nil else { throw CommandError.nothingToPush }
        // Traces when the OTEL_* variables ask for them (docs/tracing.md): one span for the
        // command, each push under it, its context stored for the items' spans to link to.
        guard let traces = try TraceExporter.start(environment: settings.environment, logger: logger) else {
            return try await push(settings, logger: logger)
        }
        do {
            let name = try common.queueName(settings)
            try await withSpan("workqueue push \(name)", ofKind: .producer) { span in
                span.attributes["workqueue.queue"] = name
                try await push(settings, logger: logger)
            }
        } catch {
            await traces.finish()
            throw error
        }
        await traces.finish()
    }

    private func push(_ settings: Settings, logger: Logger) async throws {
        let name = try common.queueName(settings)
        let replicas = try settings.integer(waitReplicas, Catalog.waitReplicas)
        let waitTimeout = try settings.seconds(waitSeconds, Catalog.waitSeconds)
        // Opened before connecting: a missing file fails before anything is pushed.
        let fileSource = try file.map { try LineSource(path: $0) }
        if keepOpen { TerminationSignal.install() }
        let options = ProducerOptions(holdName: hold, waitReplicas: replicas, replicaTimeout: waitTimeout, chunkSize: Self.chunk)
        let schedule = try schedule()
        let (pushed, skipped, perShard, names) = try await withProducer(common, settings, logger: logger, options: options) { producer in
            do {
                if keepOpen {
                    try await producer.hold(ttl: Producer.ttl(seconds: ttlSeconds), reopen: reopen)
                } else if reopen {
                    try await producer.reopen()
                }
                let read = try await pushAll(producer, file: fileSource, schedule: schedule)
                if keepOpen { try await producer.release() }
                let count = schedule.isPlain ? read : await producer.pushed
                return (count, await producer.skipped, await producer.pushedPerShard, producer.shardNames)
            } catch {
                if keepOpen { _ = try? await producer.release() }
                throw error
            }
        }
        guard pushed + skipped > 0 else { throw CommandError.nothingToPush }
        if names.count == 1 {
            StandardOutput.line("Pushed \(pushed) item\(pushed == 1 ? "" : "s") to \(name)")
        } else {
            let each = zip(names, perShard).map { "\($0) \($1)" }.joined(separator: ", ")
            StandardOutput.line("Pushed \(pushed) item\(pushed == 1 ? "" : "s") to \(name) over \(names.count) shards: \(each)")
        }
        if let window = schedule.uniqueWindow {
            StandardOutput.line("Skipped \(skipped) item\(skipped == 1 ? "" : "s") already pushed with --unique within "
                                + "\(Self.describe(window))")
        }
        if pushed > 0, let due = schedule.dueMilliseconds {
            StandardOutput.line("Scheduled until \(Workers.iso8601(milliseconds: due)) or later (status shows them as "
                                + "scheduled)")
        }
    }

    /// `1h`, `90s`, `1.5s`: a window as `--unique-window` takes it.
    static func describe(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        guard attoseconds == 0 else { return Settings.format(Double(seconds) + Double(attoseconds) / 1e18) + "s" }
        for (unit, size) in [("d", Int64(86_400)), ("h", 3600), ("m", 60)] where seconds % size == 0 {
            return "\(seconds / size)\(unit)"
        }
        return "\(seconds)s"
    }

    /// Pushes the arguments in order (`-` streams standard input at its place), then the file.
    /// Returns how many items were read.
    private func pushAll(_ producer: QueueProducer, file: LineSource?, schedule: PushSchedule.Request) async throws -> Int {
        var total = 0
        var literal: [WorkItem] = []
        for argument in items {
            if argument == "-" {
                try await Self.push(literal, to: producer, schedule)
                total += literal.count
                literal = []
                total += try await stream(LineSource(), to: producer, schedule)
            } else {
                literal.append(WorkItem(argument))
            }
        }
        try await Self.push(literal, to: producer, schedule)
        total += literal.count
        if let file { total += try await stream(file, to: producer, schedule) }
        return total
    }

    /// One push: plain (`RPUSH` in chunks), or with the options of `--delay`, `--not-before`
    /// and `--unique` (script `push-with-options`, the delay of `--not-before` measured now).
    private static func push(_ items: [WorkItem], to producer: QueueProducer, _ schedule: PushSchedule.Request) async throws {
        if schedule.isPlain {
            try await producer.push(items)
        } else if !items.isEmpty {
            try await producer.push(items, options: schedule.options)
        }
    }

    /// Pushes lines as they arrive, refreshing the hold meanwhile; stops with 143 on
    /// SIGTERM/SIGINT (the caller ends the hold), once every line it had read is pushed.
    private func stream(_ source: LineSource, to producer: QueueProducer, _ schedule: PushSchedule.Request) async throws -> Int {
        var total = 0
        while let lines = try await Self.nextLines(source, producer) {
            // Lines read are pushed even when a signal came meanwhile: they left the input for good.
            try await Self.push(lines, to: producer, schedule)
            total += lines.count
            if keepOpen && TerminationSignal.isFired {
                throw CommandError.stopped(pushed: await producer.pushed, queue: producer.name,
                                           unfinishedLineBytes: source.unfinishedLineBytes)
            }
        }
        return total
    }

    /// The next lines of `source`; a line above the worker's item bound stops the push, naming
    /// the bound and how many items were pushed before it.
    private static func nextLines(_ source: LineSource, _ producer: QueueProducer) async throws -> [WorkItem]? {
        do {
            return try source.next(timeoutMilliseconds: milliseconds(await producer.timeUntilRefresh))
        } catch let error as LineSource.LineTooLong {
            throw CommandError.itemTooLarge(source: error.label, bytes: error.bytes, limit: error.limit,
                                            pushed: await producer.pushed)
        }
    }

    /// A wait of at most 1 s in ms, for the bounded read of the input.
    private static func milliseconds(_ duration: Duration) -> Int32 {
        let (seconds, attoseconds) = duration.components
        return Int32(clamping: max(0, min(seconds * 1000 + attoseconds / 1_000_000_000_000_000, 1000)))
    }

    /// Splits on LF, drops a trailing CR from each line and skips empty lines. Each line is
    /// found with `memchr` and copied once (a generic split walked a long line byte by byte).
    static func lines(_ bytes: [UInt8]) -> [WorkItem] {
        bytes.withUnsafeBufferPointer { buffer in
            var items: [WorkItem] = []
            guard let base = buffer.baseAddress else { return items }
            var start = 0
            while start < buffer.count {
                let found = memchr(base + start, 0x0A, buffer.count - start)
                let end = found.map { UnsafePointer<UInt8>($0.assumingMemoryBound(to: UInt8.self)) - base } ?? buffer.count
                var last = end
                if last > start && buffer[last - 1] == 0x0D { last -= 1 }
                if last > start { items.append(WorkItem(Array(buffer[start..<last]))) }
                start = end + 1
            }
            return items
        }
    }
}

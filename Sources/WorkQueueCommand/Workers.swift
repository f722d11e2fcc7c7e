import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import WorkQueue
import WorkQueueRedis

/// `workqueue workers`: the live workers of a queue (their heartbeat records) and what each holds.
struct Workers: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List a queue's live workers and the items each one holds.",
        discussion: """
            A worker refreshes its record (session, host, handler, start time, items in flight, \
            held, completed, failed) every --heartbeat-seconds (5) in NAME:workers and \
            NAME:worker-info; it is live until three intervals pass without a refresh, and removed \
            when the worker exits cleanly. Under each worker come the items its leases hold \
            (escaped, at most 80 characters each, at most --items of them) with the time left on \
            each lease. Sessions that hold leases without a live record follow: a worker that \
            died (its leases expire and recovery returns the items), one run with \
            --heartbeat-seconds 0, or a rediswq.py worker. --json prints one object: queue, \
            workers (session, host, handler, started_at, started_ms, last_seen_seconds, \
            expires_in_seconds, in_flight, held, completed, failed, leases, items, progress) and \
            unrecorded (session, kind, leases, items); each item is {item, lease_seconds_left}; \
            progress lists what handlers reported (WorkContext.reportProgress), as of the \
            worker's last heartbeat: {item, fraction, note}, at most --items of them.
            """
    )

    @OptionGroup var common: QueueOptions

    @Flag(name: Catalog.workersJSON.name, help: Catalog.workersJSON.help)
    var json = false

    @Option(name: Catalog.workersItems.name, help: Catalog.workersItems.help)
    var itemsFlag: Int?

    /// `--items`, else its default.
    var items: Int { itemsFlag ?? Catalog.workersItems.defaultValue }

    func validate() throws {
        try Catalog.workersItems.check(itemsFlag)
    }

    func run() async throws {
        let settings = Settings()
        let logger = try common.bootstrap(settings)
        let name = try common.queueName(settings)
        try await withShards(common, settings, logger: logger) { queues in
            // A sharded worker keeps its record on the first shard and holds leases on any.
            let live = try await queues[0].liveWorkers()
            var held = try await queues[0].heldLeases(limit: items)
            for queue in queues.dropFirst() { held = Self.merge(held, try await queue.heldLeases(limit: items), limit: items) }
            let report = Self.report(queue: name, live: live, held: held, limit: items)
            StandardOutput.line(json ? try Self.json(report) : Self.text(report))
        }
    }

    /// The `--json` object.
    struct Report: Codable, Equatable {
        struct Item: Codable, Equatable {
            var item: String
            var leaseSecondsLeft: Double?

            enum CodingKeys: String, CodingKey {
                case item
                case leaseSecondsLeft = "lease_seconds_left"
            }
        }

        struct ItemProgress: Codable, Equatable {
            var item: String
            var fraction: Double
            var note: String
        }

        struct Worker: Codable, Equatable {
            var session: String
            var host: String
            var handler: String
            var startedAt: String
            var startedMs: Int64
            var lastSeenSeconds: Double
            var expiresInSeconds: Double
            var inFlight: Int
            var held: Int
            var completed: Int
            var failed: Int
            var leases: Int
            var items: [Item]
            var progress: [ItemProgress]

            enum CodingKeys: String, CodingKey {
                case session, host, handler, held, completed, failed, leases, items, progress
                case startedAt = "started_at", startedMs = "started_ms", lastSeenSeconds = "last_seen_seconds"
                case expiresInSeconds = "expires_in_seconds", inFlight = "in_flight"
            }
        }

        struct Unrecorded: Codable, Equatable {
            var session: String
            var kind: String
            var leases: Int
            var items: [Item]
        }

        var queue: String
        var workers: [Worker]
        var unrecorded: [Unrecorded]
    }

    static func report(queue: String, live: [LiveWorker], held: [RedisQueue.SessionLeases], limit: Int = 10) -> Report {
        var leases: [String: RedisQueue.SessionLeases] = [:]
        for entry in held where entry.kind == .workqueue { leases[entry.session] = entry }
        let workers = live.map { worker in
            let beat = worker.heartbeat
            let own = leases[beat.session]
            return Report.Worker(
                session: beat.session, host: beat.host, handler: beat.handler,
                startedAt: Self.iso8601(milliseconds: beat.startedAtMilliseconds), startedMs: beat.startedAtMilliseconds,
                lastSeenSeconds: worker.lastSeen.roundedSeconds, expiresInSeconds: worker.expiresIn.roundedSeconds,
                inFlight: beat.inFlight, held: beat.held, completed: beat.completed, failed: beat.failed,
                leases: own?.total ?? 0, items: (own?.items ?? []).map(Self.item),
                progress: beat.progress.prefix(limit).map {
                    Report.ItemProgress(item: $0.item, fraction: ($0.fraction * 1000).rounded() / 1000, note: $0.note)
                })
        }
        let recorded = Set(live.map(\.heartbeat.session))
        let unrecorded = held.filter { !($0.kind == .workqueue && recorded.contains($0.session)) }.map {
            Report.Unrecorded(session: $0.session, kind: $0.kind.rawValue, leases: $0.total, items: $0.items.map(Self.item))
        }
        return Report(queue: queue, workers: workers, unrecorded: unrecorded)
    }

    /// One entry per session and kind: the leases a session holds on several shards added up,
    /// at most `limit` items listed.
    static func merge(_ held: [RedisQueue.SessionLeases], _ more: [RedisQueue.SessionLeases], limit: Int) -> [RedisQueue.SessionLeases] {
        var merged = held
        for entry in more {
            if let index = merged.firstIndex(where: { $0.session == entry.session && $0.kind == entry.kind }) {
                merged[index].total += entry.total
                merged[index].items = Array((merged[index].items + entry.items).prefix(limit))
            } else {
                merged.append(entry)
            }
        }
        return merged
    }

    static func json(_ report: Report) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(report), as: UTF8.self)
    }

    static func text(_ report: Report) -> String {
        let count = report.workers.count
        var lines = ["queue \(report.queue): \(count) live worker\(count == 1 ? "" : "s")"]
        for worker in report.workers {
            lines.append("  \(worker.session) on \(Self.printable(worker.host)), handler \(Self.printable(worker.handler)), "
                + "started \(worker.startedAt), last seen \(Progress.fixed(worker.lastSeenSeconds, digits: 1))s ago")
            lines.append("    in flight \(worker.inFlight), held \(worker.held), completed \(worker.completed), "
                + "failed \(worker.failed); \(worker.leases) lease\(worker.leases == 1 ? "" : "s")")
            lines += Self.itemLines(worker.items, total: worker.leases)
            for entry in worker.progress {
                let percent = Progress.fixed(entry.fraction * 100, digits: 0) + "%"
                lines.append("    progress " + percent.padded(to: 4) + " " + Self.printable(entry.item).padded(to: 24)
                    + (entry.note.isEmpty ? "" : "  " + Self.printable(entry.note)))
            }
        }
        if !report.unrecorded.isEmpty {
            lines.append("holding leases without a live record (a dead worker, --heartbeat-seconds 0, or rediswq.py):")
            for entry in report.unrecorded {
                lines.append("  \(entry.session) (\(entry.kind)) holds \(entry.leases) item\(entry.leases == 1 ? "" : "s")")
                lines += Self.itemLines(entry.items, total: entry.leases)
            }
        }
        return lines.joined(separator: "\n")
    }

    private static func itemLines(_ items: [Report.Item], total: Int) -> [String] {
        var lines = items.map { item in
            let left = item.leaseSecondsLeft.map { $0 >= 0 ? "lease \(Progress.fixed($0, digits: 1))s left" : "lease expired" }
            return "    " + item.item.padded(to: 24) + "  " + (left ?? "no deadline")
        }
        if total > items.count { lines.append("    ... and \(total - items.count) more") }
        return lines
    }

    private static func item(_ held: RedisQueue.SessionLeases.Item) -> Report.Item {
        let text = held.item.escaped
        let bounded = text.count > 80 ? String(text.prefix(79)) + "…" : text
        return Report.Item(item: bounded, leaseSecondsLeft: held.expiresIn.map(\.roundedSeconds))
    }

    /// A host or handler name with control characters shown as `\xNN`, for one line of text.
    private static func printable(_ text: String) -> String {
        WorkItem(Array(text.utf8)).escaped
    }


    /// `2026-11-24T03:40:12Z` from ms since the Unix epoch (UTC, civil calendar).
    static func iso8601(milliseconds: Int64) -> String {
        let seconds = milliseconds >= 0 ? milliseconds / 1000 : (milliseconds - 999) / 1000
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        // Howard Hinnant's days-to-civil.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(year)-\(two(month))-\(two(day))T\(two(secondOfDay / 3600)):\(two(secondOfDay / 60 % 60)):\(two(secondOfDay % 60))Z"
    }
}

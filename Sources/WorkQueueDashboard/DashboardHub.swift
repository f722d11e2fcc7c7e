#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging
import NIOHTTP1
import WorkQueueSeam
import WorkQueueRedis

/// The web dashboard's state: one snapshot of every queue, read from Redis at most once per
/// refresh interval (one `EVALSHA_RO` of the dashboard script per queue, or per shard) and served
/// to every viewer from the cache, the recent history behind the chart and the rate, and the
/// actions (retry one dead letter, retry all, purge).
package actor DashboardHub {
    /// One queue shown: its name and its shards (one: the queue itself).
    package struct Queue: Sendable {
        /// The queue's name.
        package var name: String
        /// Its shards (one: the queue itself).
        package var shards: [RedisQueue]

        /// A queue named `name` read from `shards` (one: the queue itself).
        package init(name: String, shards: [RedisQueue]) {
            self.name = name
            self.shards = shards
        }
    }

    /// What the dashboard remembers of one shard between refreshes: its dead letters' first
    /// page (read again only when the dead list's length changes) and their attempts and errors.
    private struct ShardState {
        var deadLengthSeen: Int?
        var deadReadAt: ContinuousClock.Instant?
        var deadPage: [RedisQueue.DeadPreview] = []
        var digests: [String] = []
        var details: [String: (attempts: Int?, error: String?)] = [:]
    }

    /// One sample of the chart.
    struct Sample: Sendable {
        var wallMilliseconds: Int64
        var at: ContinuousClock.Instant
        var done: Int
        var pending: Int
        var inFlight: Int
        var scheduled: Int
        var dead: Int
    }

    let queues: [Queue]
    let interval: Duration
    private let token: [UInt8]?
    private let logger: Logger
    private var shardStates: [[ShardState]]
    private var history: [[Sample]]
    private var cached: (body: [UInt8], at: ContinuousClock.Instant)?
    private var refreshing: Task<[UInt8], Never>?
    private var deadPages: [String: (body: [UInt8], at: ContinuousClock.Instant)] = [:]
    /// The `/api/dead` reads under way, by page: viewers asking for the same page meanwhile
    /// share the one call (single flight).
    private var deadReads: [String: Task<HTTPServer.Response, Never>] = [:]

    /// Samples kept per queue: the chart's span is this many refreshes.
    static let historyLimit = 600
    /// How far back the rate (and so the ETA) looks.
    static let rateWindow: Duration = .seconds(60)
    /// Dead letters per page.
    static let pageSize = 20
    /// The first page is read again at least this often, even when the dead list's length is
    /// unchanged (a retry of one and a new dead letter in the same interval).
    static let deadRereadEvery: Duration = .seconds(30)
    /// The largest dead letter the page's "retry" moves (it reads the letter whole).
    static let retryableBytes = 1 << 20

    /// The name the program calls itself in the hints of the actions' messages (`workqueue`).
    private let programName: String

    /// A hub of `queues`, read at most once per `interval`; `token` enables the actions (nil:
    /// read-only); `programName` is the command named in the actions' hints.
    package init(queues: [Queue], interval: Duration, token: String?, logger: Logger, programName: String = "workqueue") {
        self.queues = queues
        self.programName = programName
        self.interval = interval
        self.token = token.map { Array($0.utf8) }
        self.logger = logger
        shardStates = queues.map { Array(repeating: ShardState(), count: $0.shards.count) }
        history = queues.map { _ in [] }
    }

    /// Whether the actions are enabled (a token was given).
    package var actionsEnabled: Bool { token != nil }

    // MARK: Snapshot

    /// The snapshot's JSON: the cached one while younger than the interval, else a fresh one
    /// (one refresh at a time: viewers arriving during it share its result).
    func snapshot() async -> [UInt8] {
        if let cached, ContinuousClock.now - cached.at < interval { return cached.body }
        if let refreshing { return await refreshing.value }
        let task = Task { await self.refresh() }
        refreshing = task
        let body = await task.value
        refreshing = nil
        cached = (body, .now)
        return body
    }

    /// Drops the cache (after an action) so that the next viewer sees the change at once.
    private func invalidate(queue index: Int) {
        cached = nil
        deadPages = [:]
        for shard in shardStates[index].indices { shardStates[index][shard].deadLengthSeen = nil }
    }

    private func refresh() async -> [UInt8] {
        var reports: [DashboardJSON.Queue] = []
        for index in queues.indices {
            reports.append(await refresh(queue: index))
        }
        let page = DashboardJSON.Snapshot(
            generatedMs: Self.wallMilliseconds(), intervalMs: Int(RedisQueueMilliseconds.of(interval)),
            actions: .init(enabled: actionsEnabled,
                           reason: actionsEnabled ? nil : "actions are disabled: the dashboard was started without --token-file"),
            queues: reports)
        return Self.encode(page)
    }

    private func refresh(queue index: Int) async -> DashboardJSON.Queue {
        let queue = queues[index]
        var snapshots: [RedisQueue.DashboardSnapshot] = []
        do {
            for (shardIndex, shard) in queue.shards.enumerated() {
                var state = shardStates[index][shardIndex]
                var request = RedisQueue.DashboardRequest()
                request.deadPageSize = Self.pageSize
                let stale = state.deadReadAt.map { ContinuousClock.now - $0 > Self.deadRereadEvery } ?? true
                request.deadLengthSeen = stale ? nil : state.deadLengthSeen
                request.deadDigests = state.digests.filter { !$0.isEmpty && state.details[$0] == nil }
                let snapshot = try await shard.dashboardSnapshot(request)
                for (digest, detail) in snapshot.deadDetails { state.details[digest] = detail }
                if let page = snapshot.deadPage {
                    state.deadPage = page
                    state.digests = page.map { $0.knownDigest ?? "" }
                    for (digest, letter) in zip(state.digests, page) where letter.digest != nil {
                        state.details[digest] = (letter.attempts, letter.error)
                    }
                    state.deadLengthSeen = snapshot.counts.dead
                    state.deadReadAt = .now
                    let kept = Set(state.digests)
                    state.details = state.details.filter { kept.contains($0.key) }
                }
                shardStates[index][shardIndex] = state
                snapshots.append(snapshot)
            }
        } catch {
            logger.warning("reading queue \(queue.name) for the dashboard failed: \(error)")
            return DashboardJSON.Queue(name: queue.name, shards: queue.shards.count, error: "\(error)")
        }
        return report(queue: index, snapshots)
    }

    private func report(queue index: Int, _ snapshots: [RedisQueue.DashboardSnapshot]) -> DashboardJSON.Queue {
        let queue = queues[index]
        let counts = QueueCounts(summing: snapshots.map(\.counts))
        var report = DashboardJSON.Queue(name: queue.name, shards: queue.shards.count, error: nil)
        let leased = counts.leased ?? 0
        report.counts = .init(pending: counts.pending, inFlight: leased, expired: max(0, counts.processing - leased),
                              processing: counts.processing, scheduled: counts.scheduled, dead: counts.dead,
                              completed: counts.completed ?? 0, workers: counts.workers ?? 0)
        report.drained = counts.isDrained
        report.workersExited = snapshots.first?.drainedMarker ?? false
        report.holds = (snapshots.first?.holds ?? 0) + ((snapshots.first?.legacyOpen ?? false) ? 1 : 0)
        // Paused or cancelled when any shard is (a pause or cancel sets every shard; a shard
        // left over from one that failed part-way shows too); the items aside of every shard.
        let cancelledAt = snapshots.compactMap(\.cancelledAtMilliseconds).min()
        report.control = .init(paused: snapshots.contains { $0.control.paused }, cancelled: cancelledAt != nil,
                               cancelledAtMs: cancelledAt.map { Int64($0) },
                               cancelledItems: snapshots.reduce(0) { $0 + ($1.control.cancelledItems ?? 0) })

        // History, rate and ETA.
        let now = ContinuousClock.now
        let sample = Sample(wallMilliseconds: Self.wallMilliseconds(), at: now, done: (counts.completed ?? 0) + counts.dead,
                            pending: counts.pending, inFlight: counts.processing, scheduled: counts.scheduled, dead: counts.dead)
        var samples = history[index]
        samples.append(sample)
        if samples.count > Self.historyLimit { samples.removeFirst(samples.count - Self.historyLimit) }
        history[index] = samples
        if let first = samples.last(where: { now - $0.at >= Self.rateWindow }) ?? samples.first, now - first.at > .milliseconds(500) {
            let seconds = Double(RedisQueueMilliseconds.of(now - first.at)) / 1000
            let rate = max(0, Double(sample.done - first.done)) / seconds
            report.ratePerSecond = (rate * 100).rounded() / 100
            let left = counts.pending + counts.processing + counts.scheduled
            if left == 0 {
                report.etaSeconds = 0
            } else if rate > 0 {
                report.etaSeconds = (Double(left) / rate).rounded()
            }
        }
        report.history = samples.map { [$0.wallMilliseconds, Int64($0.done), Int64($0.pending), Int64($0.inFlight),
                                        Int64($0.scheduled), Int64($0.dead)] }

        // Workers, with the leases they hold (a sharded worker keeps its record on shard 0).
        let workers = snapshots.first?.workers ?? []
        var leasesBySession: [String: [DashboardJSON.Lease]] = [:]
        var sessionOrder: [String] = []
        let progressBySession = Dictionary(workers.map { ($0.heartbeat.session, $0.heartbeat.progress) }, uniquingKeysWith: { a, _ in a })
        for (shard, snapshot) in snapshots.enumerated() {
            for lease in snapshot.leases {
                var session = lease.session
                if queue.shards.count > 1, let slash = session.firstIndex(of: "/") { session = String(session[session.index(after: slash)...]) }
                if leasesBySession[session] == nil { sessionOrder.append(session) }
                // The progress its worker's record carries for this item (entries name the item
                // by its escaped label, cut to 80 characters).
                let label = lease.preview.map { WorkerHeartbeat.ItemProgress.label(WorkItem($0)) }
                let progress = label.flatMap { label in progressBySession[session]?.first { $0.item == label } }
                leasesBySession[session, default: []].append(
                    DashboardJSON.Lease(item: DashboardJSON.Item(lease.preview, size: lease.size), secondsLeft: Double(lease.millisecondsLeft) / 1000,
                                        shard: queue.shards.count > 1 ? shard : nil, progress: progress.map(DashboardJSON.Progress.init)))
            }
        }
        report.workers = workers.map { worker in
            let beat = worker.heartbeat
            return DashboardJSON.Worker(
                session: beat.session, host: beat.host, handler: beat.handler, startedMs: beat.startedAtMilliseconds,
                lastSeenSeconds: worker.lastSeen.roundedSeconds, inFlight: beat.inFlight, held: beat.held,
                completed: beat.completed, failed: beat.failed, leases: leasesBySession[beat.session] ?? [],
                progress: beat.progress.map(DashboardJSON.Progress.init))
        }
        let recorded = Set(workers.map(\.heartbeat.session))
        report.unrecorded = sessionOrder.filter { !recorded.contains($0) }.map {
            DashboardJSON.Unrecorded(session: $0, leases: leasesBySession[$0] ?? [])
        }
        report.leasesListed = snapshots.reduce(0) { $0 + $1.leases.count }

        // The dead letters' first page of each shard that has some (at most 16 shards).
        var pages: [DashboardJSON.DeadPage] = []
        for (shard, snapshot) in snapshots.enumerated() where snapshot.counts.dead > 0 && pages.count < 16 {
            pages.append(deadPage(queue: index, shard: shard, total: snapshot.counts.dead))
        }
        report.dead = pages
        // Summed over the shards; nil when a shard's `NAME:results` is not a stream.
        let results = snapshots.map(\.results)
        if results.allSatisfy({ $0 != nil }) {
            let known = results.compactMap { $0 }
            report.results = DashboardJSON.Results(kept: known.reduce(0) { $0 + $1.kept },
                                                   dropped: known.reduce(0) { $0 + $1.dropped })
        }
        return report
    }

    private func deadPage(queue index: Int, shard: Int, total: Int) -> DashboardJSON.DeadPage {
        let state = shardStates[index][shard]
        let letters = state.deadPage.enumerated().map { position, letter in
            let digest = position < state.digests.count ? state.digests[position] : (letter.knownDigest ?? "")
            let detail = state.details[digest]
            return DashboardJSON.DeadLetter(index: position, item: DashboardJSON.Item(letter.bytes, size: letter.size ?? -1), digest: digest,
                                            attempts: detail?.attempts ?? letter.attempts, error: detail?.error ?? letter.error)
        }
        return DashboardJSON.DeadPage(shard: shard, total: total, start: 0, letters: letters,
                                      next: letters.count < total ? letters.count : nil)
    }

    /// A page of a shard's dead letters (the first one also comes with the snapshot), read
    /// from the letters' preview records (one read-only call whatever their sizes), cached per
    /// (queue, shard, start) for one interval whatever the number of viewers, and read once for
    /// viewers asking for the same page at the same time.
    func deadLetters(queue name: String, shard: Int, start: Int) async -> HTTPServer.Response {
        guard let index = queues.firstIndex(where: { $0.name == name }) else {
            return Self.error(.notFound, "no queue named '\(name)' on this dashboard")
        }
        guard queues[index].shards.indices.contains(shard), start >= 0, start <= Int(Int32.max) else {
            return Self.error(.badRequest, "shard must be 0 to \(queues[index].shards.count - 1) and start 0 to \(Int32.max)")
        }
        let key = "\(index)/\(shard)/\(start)"
        if let page = deadPages[key], ContinuousClock.now - page.at < interval { return Self.json(page.body) }
        if let reading = deadReads[key] { return await reading.value }
        let queue = queues[index].shards[shard]
        let task = Task { () -> (HTTPServer.Response, [UInt8]?) in
            do {
                let page = try await queue.deadPreviews(from: start, limit: Self.pageSize)
                let letters = page.letters.enumerated().map { offset, letter in
                    DashboardJSON.DeadLetter(index: start + offset, item: DashboardJSON.Item(letter.bytes, size: letter.size ?? -1),
                                             digest: letter.knownDigest ?? "", attempts: letter.attempts, error: letter.error)
                }
                let body = Self.encode(DashboardJSON.DeadPage(shard: shard, total: page.total, start: start, letters: letters,
                                                              next: page.next))
                return (Self.json(body), body)
            } catch {
                return (Self.error(.serviceUnavailable, "reading the dead letters failed: \(error)"), nil)
            }
        }
        let shared = Task { await task.value.0 }
        deadReads[key] = shared
        let (response, body) = await task.value
        deadReads[key] = nil
        if let body {
            if deadPages.count >= 256 { deadPages = deadPages.filter { ContinuousClock.now - $0.value.at < interval } }
            if deadPages.count < 256 { deadPages[key] = (body, .now) }
        }
        return response
    }

    // MARK: Actions

    /// Why the request may not act (nil: it may): no token configured, or a missing or wrong one.
    func refusal(authorization: String?) -> HTTPServer.Response? {
        guard let token else {
            return Self.error(.forbidden, "actions are disabled: the dashboard was started without --token-file "
                + "(or WORKQUEUE_DASHBOARD_TOKEN_FILE); restart it with a token file to retry, purge, pause or cancel from the page")
        }
        let prefix = "Bearer "
        guard let authorization, authorization.hasPrefix(prefix) else {
            return Self.error(.unauthorized, "this action needs the dashboard's token: enter it on the page (it is the content "
                + "of the dashboard's --token-file)")
        }
        guard Self.constantTimeEqual(Array(authorization.dropFirst(prefix.count).utf8), token) else {
            return Self.error(.unauthorized, "wrong token: enter the content of the dashboard's --token-file")
        }
        return nil
    }

    /// Byte strings compared in time that depends only on their lengths.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count)
        if a.count != b.count { difference |= 1 }
        for index in 0..<max(a.count, b.count) {
            let x = index < a.count ? a[index] : 0
            let y = index < b.count ? b[index] : 0
            difference |= x ^ y
        }
        return difference == 0
    }

    /// Runs one action on a queue (`pause`, `resume`, `cancel`: `POST /api/queue/ACTION` with
    /// `{queue}`), through the same backend operations as `workqueue pause`, `resume` and
    /// `cancel` (every shard with `--shards`).
    func control(_ action: String, body: [UInt8]) async -> HTTPServer.Response {
        guard let request = try? JSONDecoder().decode(DashboardJSON.ActionRequest.self, from: Data(body)) else {
            return Self.error(.badRequest, "the body must be a JSON object with queue")
        }
        guard let index = queues.firstIndex(where: { $0.name == request.queue }) else {
            return Self.error(.notFound, "no queue named '\(request.queue)' on this dashboard")
        }
        let queue = queues[index]
        defer { invalidate(queue: index) }
        do {
            let backend = try controlBackend(queue.shards)
            switch action {
            case "pause":
                try await backend.setPaused(true)
                logger.notice("dashboard: paused \(queue.name)")
                return Self.ok("Paused \(queue.name): workers take no new items until resumed", moved: 0)
            case "resume":
                try await backend.clearCancelled()
                try await backend.setPaused(false)
                logger.notice("dashboard: resumed \(queue.name)")
                let aside = try await backend.control().cancelledItems ?? 0
                return Self.ok("Resumed \(queue.name)" + (aside > 0 ? "; \(aside) item\(aside == 1 ? "" : "s") moved aside stay in "
                    + "\(queue.name):cancelled (`\(programName) cancelled restore` moves them back)" : ""), moved: 0)
            case "cancel":
                let moved = try await cancelAll(backend)
                logger.notice("dashboard: cancelled \(queue.name), moved \(moved) items aside")
                return Self.ok("Cancelled \(queue.name): moved \(moved) item\(moved == 1 ? "" : "s") aside to \(queue.name):cancelled; "
                    + "workers exit with status 4", moved: moved)
            default:
                return Self.error(.notFound, "no action '\(action)': pause, resume or cancel")
            }
        } catch {
            return Self.error(.serviceUnavailable, "the action failed: \(error)")
        }
    }

    /// Runs one action (`retry`, `retry-all`, `purge`) described by the request's JSON body.
    func act(_ action: String, body: [UInt8]) async -> HTTPServer.Response {
        guard let request = try? JSONDecoder().decode(DashboardJSON.ActionRequest.self, from: Data(body)) else {
            return Self.error(.badRequest, "the body must be a JSON object with queue (and, to retry one, shard, index and digest)")
        }
        guard let index = queues.firstIndex(where: { $0.name == request.queue }) else {
            return Self.error(.notFound, "no queue named '\(request.queue)' on this dashboard")
        }
        let queue = queues[index]
        defer { invalidate(queue: index) }
        do {
            switch action {
            case "retry":
                let shard = request.shard ?? 0
                guard queue.shards.indices.contains(shard), let position = request.index, position >= 0,
                      let digest = request.digest else {
                    return Self.error(.badRequest, "retry needs shard, index and digest of the dead letter")
                }
                // Its record first: a letter too large to read in one short call is not retried
                // from the page (its bytes would pass through Redis' script engine).
                let record = try await queue.shards[shard].deadPreviews(from: position, limit: 1).letters.first
                guard let size = record?.size, size <= Self.retryableBytes else {
                    return Self.error(.conflict, "that dead letter is " + (record?.size.map { "\($0) bytes" } ?? "of unknown size")
                        + ": too large to retry from the page (at most \(Self.retryableBytes) bytes); use `\(programName) dead retry`")
                }
                // The item's bytes, read where the page saw it and checked against its digest.
                let page = try await queue.shards[shard].deadLetters(from: position, limit: 1)
                guard let item = page.letters.first?.item.bytes, RedisQueue.digest(item) == digest else {
                    return Self.error(.conflict, "that dead letter is no longer at position \(position): the dead letters changed; "
                        + "the page shows them again now")
                }
                switch try await queue.shards[shard].retryDeadLetter(item, near: position) {
                case .moved:
                    logger.notice("dashboard: moved one dead letter of \(queue.shards[shard].name) back to pending")
                    return Self.ok("Moved the dead letter back to pending", moved: 1)
                case .notFound:
                    return Self.error(.conflict, "that dead letter was moved or deleted meanwhile; the page shows the dead letters again now")
                case .drained:
                    return drained(queue.shards[shard].name)
                }
            case "retry-all":
                var moved = 0
                for shard in queue.shards {
                    guard case let .done(count) = try await shard.retryDeadLetters(reopen: false) else {
                        return moved > 0 ? Self.ok("Moved \(moved) dead letters back to pending; then refused: "
                            + "\(shard.name) was drained", moved: moved) : drained(shard.name)
                    }
                    moved += count
                }
                logger.notice("dashboard: moved \(moved) dead letters of \(queue.name) back to pending")
                return Self.ok("Moved \(moved) dead letter\(moved == 1 ? "" : "s") back to pending", moved: moved)
            case "purge":
                var deleted = 0
                for shard in queue.shards { deleted += try await shard.purgeDeadLetters() }
                logger.notice("dashboard: deleted \(deleted) dead letters of \(queue.name)")
                return Self.ok("Deleted \(deleted) dead letter\(deleted == 1 ? "" : "s")", moved: deleted)
            default:
                return Self.error(.notFound, "no action '\(action)': retry, retry-all or purge")
            }
        } catch {
            return Self.error(.serviceUnavailable, "the action failed: \(error)")
        }
    }

    private func drained(_ name: String) -> HTTPServer.Response {
        Self.error(.conflict, "queue \(name) was drained and its workers have exited: retried items would wait with no worker; "
            + "run `\(programName) dead retry --reopen` and start workers")
    }

    // MARK: JSON


    static func wallMilliseconds() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded())
    }

    static func encode(_ value: some Encodable) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? Array(encoder.encode(value))) ?? Array("{}".utf8)
    }

    static func json(_ body: [UInt8], status: HTTPResponseStatus = .ok) -> HTTPServer.Response {
        HTTPServer.Response(status, contentType: "application/json", body: body, headers: [("Cache-Control", "no-store")])
    }

    static func error(_ status: HTTPResponseStatus, _ message: String) -> HTTPServer.Response {
        json(encode(["error": message]), status: status)
    }

    static func ok(_ message: String, moved: Int) -> HTTPServer.Response {
        json(encode(DashboardJSON.ActionReply(message: message, count: moved)))
    }
}

/// Milliseconds of a duration, for the JSON.
enum RedisQueueMilliseconds {
    static func of(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}

/// The JSON the page reads (`/api/snapshot`, `/api/dead`) and the actions' bodies. Field names
/// are snake_case; a field the page does not know is ignored by it, so one can be added freely.
enum DashboardJSON {
    struct Snapshot: Encodable {
        var generatedMs: Int64
        var intervalMs: Int
        var actions: Actions
        var queues: [Queue]

        enum CodingKeys: String, CodingKey {
            case actions, queues
            case generatedMs = "generated_ms", intervalMs = "interval_ms"
        }
    }

    struct Actions: Encodable {
        var enabled: Bool
        var reason: String?
    }

    struct Counts: Encodable {
        var pending: Int
        var inFlight: Int
        var expired: Int
        var processing: Int
        var scheduled: Int
        var dead: Int
        var completed: Int
        var workers: Int

        enum CodingKeys: String, CodingKey {
            case pending, expired, processing, scheduled, dead, completed, workers
            case inFlight = "in_flight"
        }
    }

    struct Queue: Encodable {
        var name: String
        var shards: Int
        var error: String?
        var counts: Counts?
        var drained = false
        var workersExited = false
        var holds = 0
        var ratePerSecond: Double?
        var etaSeconds: Double?
        /// `[wall ms, done (completed + dead), pending, processing, scheduled, dead]` per refresh.
        var history: [[Int64]] = []
        var workers: [Worker] = []
        var unrecorded: [Unrecorded] = []
        var leasesListed = 0
        var dead: [DeadPage] = []
        /// The pause and cancel marks (badges on the page) and the items a cancel moved aside.
        var control: Control?
        /// The completion records kept in `NAME:results` (`workqueue results` exports them) and
        /// those `--results-max` dropped.
        var results: Results?

        init(name: String, shards: Int, error: String?) {
            self.name = name
            self.shards = shards
            self.error = error
        }

        enum CodingKeys: String, CodingKey {
            case name, shards, error, counts, drained, holds, history, workers, unrecorded, dead, control, results
            case workersExited = "workers_exited", ratePerSecond = "rate_per_s", etaSeconds = "eta_s"
            case leasesListed = "leases_listed"
        }
    }

    struct Control: Encodable {
        var paused: Bool
        var cancelled: Bool
        var cancelledAtMs: Int64?
        var cancelledItems: Int

        enum CodingKeys: String, CodingKey {
            case paused, cancelled
            case cancelledAtMs = "cancelled_at_ms", cancelledItems = "cancelled_items"
        }
    }

    /// The completion records of a queue (summed over its shards).
    struct Results: Encodable {
        var kept: Int
        var dropped: Int
    }

    /// What a handler reported (`WorkContext.reportProgress`), from its worker's heartbeat
    /// record: `fraction` 0 to 1, `note` the handler's text, `item` the item's escaped label.
    struct Progress: Encodable {
        var item: String
        var fraction: Double
        var note: String

        init(_ entry: WorkerHeartbeat.ItemProgress) {
            item = entry.item
            fraction = entry.fraction.isFinite ? min(1, max(0, (entry.fraction * 1000).rounded() / 1000)) : 0
            note = entry.note
        }
    }

    /// An item as the page shows it: its bytes in the lossless escaped form (valid UTF-8 as is,
    /// other bytes and control characters as `\xNN`, a backslash as `\\`), cut to a preview.
    struct Item: Encodable {
        var text: String?
        /// Bytes; -1 when unknown (a large dead letter of an older version, without a record).
        var size: Int
        var cut: Bool

        static let previewBytes = 240

        init(_ bytes: [UInt8]?, size: Int? = nil) {
            let size = size ?? bytes?.count ?? 0
            self.size = size
            guard let bytes else {
                text = nil
                cut = true
                return
            }
            let shown = bytes.prefix(Self.previewBytes)
            text = WorkItem(Array(shown)).escaped
            cut = shown.count < size
        }
    }

    struct Lease: Encodable {
        var item: Item
        var secondsLeft: Double
        var shard: Int?
        /// Its handler's progress, when its worker's record carries one for this item.
        var progress: Progress?

        enum CodingKeys: String, CodingKey {
            case item, shard, progress
            case secondsLeft = "seconds_left"
        }
    }

    struct Worker: Encodable {
        var session: String
        var host: String
        var handler: String
        var startedMs: Int64
        var lastSeenSeconds: Double
        var inFlight: Int
        var held: Int
        var completed: Int
        var failed: Int
        var leases: [Lease]
        /// Every progress entry of its record (also those of items whose lease is not listed).
        var progress: [Progress]

        enum CodingKeys: String, CodingKey {
            case session, host, handler, held, completed, failed, leases, progress
            case startedMs = "started_ms", lastSeenSeconds = "last_seen_s", inFlight = "in_flight"
        }
    }

    struct Unrecorded: Encodable {
        var session: String
        var leases: [Lease]
    }

    struct DeadLetter: Encodable {
        var index: Int
        var item: Item
        var digest: String
        var attempts: Int?
        var error: String?
    }

    struct DeadPage: Encodable {
        var shard: Int
        var total: Int
        var start: Int
        var letters: [DeadLetter]
        var next: Int?
    }

    struct ActionRequest: Decodable {
        var queue: String
        var shard: Int?
        var index: Int?
        var digest: String?
    }

    struct ActionReply: Encodable {
        var message: String
        var count: Int
    }
}

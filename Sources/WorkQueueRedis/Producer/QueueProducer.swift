import Logging
import Tracing
import WorkQueueSeam
import WorkQueueTyped
#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A producer of a Redis work queue, for a Swift program: the rules of `workqueue push`,
/// `open`, `close` and `status` (the command runs this same code).
///
/// ```swift
/// let producer = try await QueueProducer.connect(queue: "job2", url: "redis://redis:6379")
/// try await producer.hold()                            // workers wait instead of exiting
/// try await producer.push(["apple", "banana"])         // raw items
/// try await producer.push(typed: [Square(n: 3)])       // JSON items for a TypedWorkHandler
/// try await producer.release()                         // workers exit once it is drained
/// let counts = try await producer.waitUntilDrained(timeout: .seconds(600))
/// let nine = try await producer.result(Squared.self, for: Square(n: 3))
/// await producer.close()
/// ```
///
/// - Pushes are refused with ``ProducerError/queueDrained(queue:)`` once the queue's workers
///   found it drained and exited (`NAME:drained`), with nothing of the refused chunk pushed:
///   nothing would take the items. ``reopen()`` (or ``hold(ttl:reopen:keepAlive:)`` with
///   `reopen`) clears the marker, for when you start workers for the new items.
/// - A hold (``hold(ttl:reopen:keepAlive:)``) keeps the workers waiting while the queue is
///   being filled: a member of `NAME:holds` named ``holdName``, with its own expiry, refreshed
///   every third of its TTL until ``release()``. Other producers' holds are never touched.
/// - With shards, items go round-robin, one by one from a random shard, to `{NAME:0}` ...
///   `{NAME:M-1}`; holds are taken on every shard, shard 0 first, and ended shard 0 last.
/// - ``ProducerOptions/waitReplicas`` waits after each chunk until that many replicas have it.
///
/// Call ``close()`` when done: it stops the hold's refreshing, ends a hold kept alive, and
/// closes the connections.
public actor QueueProducer {
    /// The queue's name (with shards: the name the shards are made from).
    public nonisolated let name: String
    /// This producer's hold in `NAME:holds` (``ProducerOptions/holdName``, else `host:pid:random`).
    public nonisolated let holdName: String
    /// How it pushes.
    public nonisolated let options: ProducerOptions
    /// The queue itself, or its shards in order.
    package nonisolated let queues: [RedisQueue]

    /// Items pushed to each shard so far, by this producer.
    public private(set) var pushedPerShard: [Int]
    /// The shard the next item goes to.
    private var next: Int
    /// This producer's hold while it lives: its TTL, whether it is refreshed in the
    /// background, and when it was last refreshed.
    private var held: (ttl: Duration, keepAlive: Bool, refreshed: ContinuousClock.Instant)?
    private var refresher: Task<Void, Never>?
    /// Why the background refresh stopped (the queue drained while the hold had lapsed),
    /// thrown by the next push.
    private var refreshFailure: ProducerError?
    private var isClosed = false
    private let clock = ContinuousClock()
    private let logger: Logger
    /// The tracer of pushes (``tracePushes(with:)``); nil: `InstrumentationSystem.tracer`.
    var pushTracer: (any Tracer)?

    /// The names a hold may have: 1 to 200 characters, none a space or a control character
    /// (so that it prints and pastes back into `workqueue close --hold` as it is).
    public static func isValidHoldName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 200
            && !name.unicodeScalars.contains { $0.properties.isWhitespace || $0.properties.generalCategory == .control }
    }

    /// The TTLs a hold may have: 1 s to a day.
    public static let holdTTLRange: ClosedRange<Duration> = .seconds(1) ... .seconds(86_400)

    /// `<host>:<pid>:<random>`, the default ``holdName``.
    public static func makeHoldName() -> String {
        var host = [CChar](repeating: 0, count: 256)
        let hostname = gethostname(&host, host.count - 1) == 0
            ? String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "unknown"
        return "\(hostname):\(getpid()):\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
    }

    /// A producer over connected queues (the queue itself, or its shards in order), which it
    /// closes in ``close()``.
    /// - Throws: `WorkQueueError/invalidConfiguration(_:)` for bad options or no queue.
    package init(queues: [RedisQueue], name: String, options: ProducerOptions = ProducerOptions()) throws {
        guard !queues.isEmpty else { throw WorkQueueError.invalidConfiguration("a producer needs a queue; pass a name such as job2") }
        if let hold = options.holdName, !Self.isValidHoldName(hold) {
            throw WorkQueueError.invalidConfiguration(
                "the hold name '\(hold)' must be 1 to 200 characters without spaces or control characters, e.g. nightly-import")
        }
        guard options.waitReplicas >= 0 else {
            throw WorkQueueError.invalidConfiguration("waitReplicas must be 0 (no wait) or more, not \(options.waitReplicas)")
        }
        guard options.replicaTimeout > .zero else {
            throw WorkQueueError.invalidConfiguration("replicaTimeout must be more than 0, e.g. .seconds(5)")
        }
        guard (1...100_000).contains(options.chunkSize) else {
            throw WorkQueueError.invalidConfiguration("chunkSize must be between 1 and 100000 items, not \(options.chunkSize)")
        }
        self.queues = queues
        self.name = name
        self.options = options
        self.holdName = options.holdName ?? Self.makeHoldName()
        self.logger = queues[0].logger
        pushedPerShard = Array(repeating: 0, count: queues.count)
        next = Int.random(in: 0..<queues.count)
    }

    /// Connects to the queue `queue` (`shards` > 1: to its shards `{queue:0}` ...) on one
    /// server or a Redis Cluster, retrying within `connectBudget`, and checks that its keys have
    /// the right types (nothing is modified when one does not).
    /// - Throws: `WorkQueueError/invalidConfiguration(_:)` for a bad name, shard count or
    ///   option; `WorkQueueError/wrongKeyType(key:actual:expected:)`; ``RedisError`` when Redis
    ///   cannot be reached or refuses the login.
    public static func connect(queue: String, shards: Int = 1, deployment: RedisDeployment,
                               options: ProducerOptions = ProducerOptions(),
                               logger: Logger = Logger(label: "workqueue.producer"),
                               connectBudget: Duration = .seconds(30)) async throws -> QueueProducer {
        let names = try RedisQueue.shardNames(queue, count: shards)
        let queues = try await RedisQueue.connect(names: names, deployment: deployment, logger: logger, connectBudget: connectBudget)
        do {
            for shard in queues { try await shard.validateKeyTypes() }
            return try QueueProducer(queues: queues, name: queue, options: options)
        } catch {
            for shard in queues { await shard.close() }
            throw error
        }
    }

    /// Connects as ``connect(queue:shards:deployment:options:logger:connectBudget:)`` to the
    /// Redis at `url`: `redis://[user:password@]host[:port][/db]`, `rediss://` for TLS (the
    /// system's CAs; set ``RedisConfiguration/tls`` and use a deployment for other files), or
    /// several nodes `redis://h1:p1,h2:p2` for a Redis Cluster (`cluster` makes one node a
    /// cluster seed too).
    public static func connect(queue: String, shards: Int = 1, url: String, cluster: Bool = false,
                               options: ProducerOptions = ProducerOptions(),
                               logger: Logger = Logger(label: "workqueue.producer"),
                               connectBudget: Duration = .seconds(30)) async throws -> QueueProducer {
        guard !url.isEmpty else {
            throw WorkQueueError.invalidConfiguration("the Redis URL is empty; pass one such as redis://redis:6379")
        }
        let deployment = try RedisDeployment.resolve(flag: url, environment: [:], cluster: cluster)
        return try await connect(queue: queue, shards: shards, deployment: deployment, options: options, logger: logger,
                                 connectBudget: connectBudget)
    }

    /// The names of the queues pushed to: `[name]`, or the shards `{name:0}` ... in order.
    public nonisolated var shardNames: [String] { queues.map(\.name) }

    /// Items pushed so far by this producer, over every shard.
    public var pushed: Int { pushedPerShard.reduce(0, +) }

    // MARK: Pushing

    /// Appends `items` to the queue in chunks of ``ProducerOptions/chunkSize`` (with shards:
    /// spread item by item), waiting for replicas after each chunk when asked, and refreshes
    /// this producer's hold when due.
    /// - Throws: ``ProducerError/queueDrained(queue:)`` once the queue (with shards: the shard
    ///   the chunk goes to) is drained: the chunks before it were pushed (``pushedPerShard``),
    ///   nothing of it; ``ProducerError/replicasBehind(queue:pushed:acknowledged:wanted:timeout:)``.
    public func push(_ items: [WorkItem]) async throws {
        try checkOpen()
        if let refreshFailure { throw refreshFailure }
        // With tracing on, a span for this push, whose context is stored for each item.
        let span = startPushSpan(items: items.count)
        let trace = span.flatMap { encodedContext(of: $0) }
        defer { span?.end() }
        if queues.count == 1 {
            try await push(items, to: 0, trace: trace)
        } else {
            var spread = [[WorkItem]](repeating: [], count: queues.count)
            for item in items {
                spread[next].append(item)
                next = (next + 1) % queues.count
            }
            for (index, part) in spread.enumerated() where !part.isEmpty {
                try await push(part, to: index, trace: trace)
            }
        }
        try await refreshIfDue()
    }

    /// Encodes each value as a JSON item (`TypedItem.encode(_:)`, what a `TypedWorkHandler`
    /// decodes) and pushes them as ``push(_:)`` does.
    public func push<Value: Encodable>(typed values: [Value]) async throws {
        try await push(try values.map { try TypedItem.encode($0) })
    }

    /// Pushes `items` with `enqueue` options, later and/or once (script `push-with-options`,
    /// one call per chunk of ``ProducerOptions/chunkSize`` items, at most 1000 so that a
    /// call stays within the script budget), and reports how many were pushed
    /// and how many skipped (also added to ``pushedPerShard`` and ``skipped``), and the pending
    /// count after the last chunk (of the last shard pushed to). Plain options push as
    /// ``push(_:)`` does.
    /// - A delay (`EnqueueOptions.delay`, or `EnqueueOptions(notBefore:uniqueWindow:)`
    ///   for a wall-clock time) keeps the items in the scheduled set (`NAME:retry`) until due
    ///   on the Redis clock: they count as scheduled, so the workers do not exit 0 before they
    ///   ran.
    /// - A uniqueness window (`EnqueueOptions.uniqueWindow`) skips an item whose bytes were
    ///   pushed with a window that has not ended (its SHA-224 is in `NAME:unique`), whether it
    ///   is pending, scheduled, in flight or done; concurrent producers are checked atomically.
    ///   With shards, each such item goes to the shard its SHA-224 picks (not round-robin), so
    ///   equal items always meet on the same shard.
    /// - Throws: as ``push(_:)``.
    @discardableResult
    public func push(_ items: [WorkItem], options enqueue: EnqueueOptions) async throws -> EnqueueReport {
        try checkOpen()
        if let refreshFailure { throw refreshFailure }
        var report = EnqueueReport(pushed: 0, skipped: 0, pending: 0)
        // With tracing on, a span for this push, whose context is stored for each item.
        let span = startPushSpan(items: items.count)
        let trace = span.flatMap { encodedContext(of: $0) }
        defer { span?.end() }
        if queues.count == 1 {
            report = try await push(items, to: 0, options: enqueue, trace: trace)
        } else {
            var spread = [[WorkItem]](repeating: [], count: queues.count)
            for item in items {
                if enqueue.uniqueWindow != nil {
                    spread[Self.shard(of: item, among: queues.count)].append(item)
                } else {
                    spread[next].append(item)
                    next = (next + 1) % queues.count
                }
            }
            for (index, part) in spread.enumerated() where !part.isEmpty {
                let done = try await push(part, to: index, options: enqueue, trace: trace)
                report.pushed += done.pushed
                report.skipped += done.skipped
                report.pending = done.pending
            }
        }
        try await refreshIfDue()
        return report
    }

    /// ``push(_:options:)`` of values encoded as JSON items, as ``push(typed:)``.
    @discardableResult
    public func push<Value: Encodable>(typed values: [Value], options enqueue: EnqueueOptions) async throws -> EnqueueReport {
        try await push(try values.map { try TypedItem.encode($0) }, options: enqueue)
    }

    /// Items skipped so far by this producer's unique pushes, over every shard.
    public private(set) var skipped = 0

    /// The shard a unique item goes to: its SHA-224's first 8 bytes modulo the shard count
    /// (the same for every producer and every run).
    static func shard(of item: WorkItem, among count: Int) -> Int {
        let digest = SHA224.digest(item.bytes)
        let value = digest.prefix(8).reduce(UInt64(0)) { ($0 << 8) | UInt64($1) }
        return Int(value % UInt64(max(1, count)))
    }

    private func push(_ items: [WorkItem], to index: Int, options enqueue: EnqueueOptions,
                      trace: String?) async throws -> EnqueueReport {
        var report = EnqueueReport(pushed: 0, skipped: 0, pending: 0)
        try await inChunks(items, to: index, most: Self.optionsChunk, trace: trace) { queue, chunk in
            guard let done = try await queue.push(chunk, options: enqueue) else { return nil }
            report.pushed += done.pushed
            report.skipped += done.skipped
            report.pending = done.pending
            self.skipped += done.skipped
            return done.pushed
        }
        return report
    }

    /// The most items per `push-with-options` call: a unique or delayed item costs a sorted-set
    /// insert (a few µs of Redis), so a call of 1000 stays far within the 50 ms budget.
    static let optionsChunk = 1000

    private func push(_ items: [WorkItem], to index: Int, trace: String?) async throws {
        try await inChunks(items, to: index, most: .max, trace: trace) { queue, chunk in
            try await queue.push(chunk) != .drained ? chunk.count : nil
        }
    }

    /// Sends `items` to shard `index` a chunk at a time with `send` (which answers how many it
    /// added, nil when the queue refused as drained), waiting for replicas after each chunk.
    /// With `trace` (tracing on), the push's context is stored for the chunk's items first:
    /// a worker never takes one before its link.
    private func inChunks(_ items: [WorkItem], to index: Int, most: Int, trace: String?,
                          _ send: (RedisQueue, [WorkItem]) async throws -> Int?) async throws {
        let queue = queues[index]
        let chunk = min(options.chunkSize, most)
        var start = 0
        while start < items.count {
            let end = min(start + chunk, items.count)
            if let trace { try await queue.storePushTrace(trace, for: Array(items[start..<end])) }
            guard let added = try await send(queue, Array(items[start..<end])) else {
                throw ProducerError.queueDrained(queue: queue.name)
            }
            pushedPerShard[index] += added
            start = end
            if options.waitReplicas > 0 {
                let acknowledged = try await queue.waitForReplicas(options.waitReplicas, timeout: options.replicaTimeout)
                guard acknowledged >= options.waitReplicas else {
                    throw ProducerError.replicasBehind(queue: queue.name, pushed: pushed, acknowledged: acknowledged,
                                                       wanted: options.waitReplicas, timeout: options.replicaTimeout)
                }
            }
        }
    }

    /// Clears the drained marker (`NAME:drained`) on every shard, so that pushes are taken
    /// again after the queue's workers exited; start workers for the new items. Returns
    /// whether any shard was marked.
    @discardableResult
    public func reopen() async throws -> Bool {
        try checkOpen()
        var any = false
        for queue in queues where try await queue.clearDrained() { any = true }
        refreshFailure = nil
        return any
    }

    // MARK: Holding

    /// Takes (or refreshes) this producer's hold on every shard, shard 0 first, for `ttl`:
    /// workers wait instead of exiting when they find the queue empty. With `keepAlive` (the
    /// default) the hold is refreshed every third of `ttl`, by pushes and in the background,
    /// until ``release()`` or ``close()``; without, it lapses after `ttl` unless taken again
    /// (as `workqueue open` does).
    /// - Throws: ``ProducerError/queueDrained(queue:)`` for a drained queue without `reopen`
    ///   (the holds taken on earlier shards are ended); `WorkQueueError/invalidConfiguration(_:)`
    ///   for a TTL outside ``holdTTLRange``.
    public func hold(ttl: Duration = .seconds(30), reopen: Bool = false, keepAlive: Bool = true) async throws {
        try checkOpen()
        guard Self.holdTTLRange.contains(ttl) else {
            throw WorkQueueError.invalidConfiguration("a hold's TTL must be between 1 s and a day, not \(ttl)")
        }
        await stopRefreshing()
        for (index, queue) in queues.enumerated() {
            guard try await queue.open(producer: holdName, ttl: ttl, reopen: reopen) != .drained else {
                for earlier in queues[..<index].reversed() { _ = try? await earlier.close(producer: holdName) }
                held = nil
                throw ProducerError.queueDrained(queue: queue.name)
            }
        }
        refreshFailure = nil
        held = (ttl, keepAlive, clock.now)
        if keepAlive {
            refresher = Task { [weak self] in await self?.refreshInBackground() }
        }
    }

    /// Ends this producer's hold on every shard, the last first and shard 0 last (other holds
    /// stay), and stops refreshing it. Returns what ended on shard 0 and what is left there
    /// (the shard workers check first). Safe to call when not holding.
    @discardableResult
    public func release() async throws -> RedisQueue.HoldsEnded {
        try checkOpen()
        await stopRefreshing()
        held = nil
        return try await endHolds(named: holdName)
    }

    /// Ends the hold `name` on every shard, or with nil every hold, a killed producer's
    /// included (`workqueue close --hold NAME` / `--all`); with `legacyMark`, also a
    /// `NAME:open` mark an older version wrote. Returns what ended on shard 0 and what is left
    /// there.
    @discardableResult
    public func endHolds(named name: String?, legacyMark: Bool = false) async throws -> RedisQueue.HoldsEnded {
        try checkOpen()
        var result = RedisQueue.HoldsEnded(ended: 0, remaining: 0)
        for queue in queues.reversed() {
            let ended = try await queue.endHolds(name, legacyMark: legacyMark)
            result = RedisQueue.HoldsEnded(ended: max(result.ended, ended.ended), remaining: ended.remaining)
        }
        return result
    }

    /// The live holds on shard `shard` (default 0, which workers check first and producers
    /// hold first and release last), the one expiring last last.
    public func holds(shard: Int = 0) async throws -> [RedisQueue.Hold] {
        try checkOpen()
        guard queues.indices.contains(shard) else {
            throw WorkQueueError.invalidConfiguration("shard \(shard) does not exist: \(name) has shards 0 to \(queues.count - 1)")
        }
        return try await queues[shard].holds()
    }

    /// How long until the hold needs refreshing, at most 1 s (1 s without a hold): how long a
    /// caller feeding ``push(_:)`` may block before pushing again, even nothing (`push -`
    /// reads its input within this bound).
    package var timeUntilRefresh: Duration {
        guard let held else { return .seconds(1) }
        let left = (held.refreshed + held.ttl / 3) - clock.now
        return min(max(.zero, left), .seconds(1))
    }

    /// Refreshes the hold once a third of its TTL has passed since the last time. Refused
    /// only if the hold lapsed (the process stalled longer than the TTL) and the workers
    /// drained the queue meanwhile: they have exited, and the hold is ended.
    private func refreshIfDue() async throws {
        guard let current = held, clock.now >= current.refreshed + current.ttl / 3 else { return }
        for queue in queues {
            guard try await queue.open(producer: holdName, ttl: current.ttl, reopen: false) != .drained else {
                held = nil
                for shard in queues.reversed() { _ = try? await shard.close(producer: holdName) }
                refreshFailure = .queueDrained(queue: queue.name)
                throw ProducerError.queueDrained(queue: queue.name)
            }
        }
        if held != nil { held?.refreshed = clock.now }
    }

    /// The background refresh of a kept-alive hold: due every third of its TTL; a Redis error
    /// is logged and tried again soon (the hold lasts its TTL meanwhile).
    private func refreshInBackground() async {
        while !Task.isCancelled, let current = held, current.keepAlive {
            let due = current.refreshed + current.ttl / 3
            do {
                try await clock.sleep(until: due)
                try await refreshIfDue()
            } catch is CancellationError {
                return
            } catch let error as ProducerError {
                logger.error("the producer's hold lapsed", metadata: ["queue": "\(name)", "hold": "\(holdName)", "error": "\(error)"])
                return
            } catch {
                logger.warning("refreshing the producer's hold failed; trying again",
                               metadata: ["queue": "\(name)", "hold": "\(holdName)", "error": "\(error)"])
                try? await clock.sleep(for: min(current.ttl / 10, .seconds(1)))
            }
        }
    }

    /// Cancels the background refresh and waits for it, so that no refresh lands after.
    private func stopRefreshing() async {
        guard let task = refresher else { return }
        refresher = nil
        task.cancel()
        await task.value
    }

    // MARK: Reading

    /// The queue's counts, summed over the shards (`QueueCounts/leased` included).
    public func counts() async throws -> QueueCounts {
        QueueCounts(summing: try await countsByShard())
    }

    /// Each shard's counts, in shard order (one entry for an unsharded queue).
    public func countsByShard() async throws -> [QueueCounts] {
        try checkOpen()
        var all: [QueueCounts] = []
        all.reserveCapacity(queues.count)
        for queue in queues { all.append(try await queue.countsWithLeases()) }
        return all
    }

    /// How long until the soonest scheduled item of any shard (a retry, or an item pushed with
    /// a delay) is due on the Redis clock: zero when one is due now, nil when none is scheduled.
    public func nextDue() async throws -> Duration? {
        try checkOpen()
        var soonest: Duration?
        for queue in queues {
            if let due = try await queue.nextDue() { soonest = min(soonest ?? due, due) }
        }
        return soonest
    }

    /// The record of the `work --on-drained` hook of the last drain (shard 0's
    /// `NAME:on-drained`), or nil when none was claimed.
    public func onDrainedRecord() async throws -> RedisQueue.OnDrainedRecord? {
        try checkOpen()
        return try await queues[0].onDrainedRecord()
    }

    /// Waits until the queue is drained (`QueueCounts/isDrained` over every shard: nothing
    /// pending, in flight or scheduled for a retry), reading the counts every `pollInterval`,
    /// and returns the counts then. Holds do not count: release yours first if you wait for
    /// the workers to exit too.
    /// - Throws: ``ProducerError/notDrained(queue:counts:waited:)`` after `timeout`; a Redis
    ///   error as it comes.
    @discardableResult
    public func waitUntilDrained(timeout: Duration, pollInterval: Duration = .milliseconds(200)) async throws -> QueueCounts {
        let start = clock.now
        let interval = max(pollInterval, .milliseconds(10))
        while true {
            let counts = try await counts()
            if counts.isDrained { return counts }
            let waited = clock.now - start
            guard waited < timeout else { throw ProducerError.notDrained(queue: name, counts: counts, waited: waited) }
            try await clock.sleep(for: min(interval, timeout - waited))
        }
    }

    /// A page of the dead letters (items that ran out of attempts, with their attempts and last
    /// error), at most `limit` (1 to 1000) and about 1 MiB of items, starting at `cursor` (nil:
    /// the first). Pass the page's ``DeadLetterPage/next`` for the next one.
    public func deadLetters(after cursor: DeadLetterPage.Cursor? = nil, limit: Int = 100) async throws -> DeadLetterPage {
        try checkOpen()
        var position = cursor ?? DeadLetterPage.Cursor(shard: 0, index: 0)
        while queues.indices.contains(position.shard) {
            let page = try await queues[position.shard].deadLetters(from: position.index, limit: limit)
            let next = page.next.map { DeadLetterPage.Cursor(shard: position.shard, index: $0) }
                ?? (position.shard + 1 < queues.count ? DeadLetterPage.Cursor(shard: position.shard + 1, index: 0) : nil)
            if !page.letters.isEmpty { return DeadLetterPage(letters: page.letters, next: next) }
            guard let next else { break }
            position = next
        }
        return DeadLetterPage(letters: [], next: nil)
    }

    /// A reader of the queue's completion records (every shard's, merged), oldest first, a page
    /// at a time: one record per completion whose handler returned a result, kept until they
    /// are deleted or the workers' `--results-max` drops the oldest.
    public func completionReader() throws -> CompletionReader {
        try checkOpen()
        return CompletionReader(queues: queues)
    }

    /// The completion records kept now, and how many the workers' `--results-max` dropped so
    /// far (the oldest), summed over the shards.
    public func completionCounts() async throws -> (kept: Int, dropped: Int) {
        try checkOpen()
        var total = (kept: 0, dropped: 0)
        for queue in queues {
            let counts = try await queue.completionCounts()
            total.kept += counts.kept
            total.dropped += counts.dropped
        }
        return total
    }

    /// The latest result a handler returned for each item (nil: none yet, none returned, or
    /// dropped by the workers' `--results-max`), in the order of `items`; results over 4 KiB
    /// are stored cut. Reads every completion record (a page at a time): to read many results,
    /// use ``completionReader()``.
    /// Items match by their exact bytes: an item pushed with other bytes (other spacing, say)
    /// is another item; typed lookups (``result(_:for:)``) compare JSON values instead.
    public func results(for items: [WorkItem]) async throws -> [String?] {
        try await results(for: items.map(\.bytes)) { $0.bytes }
    }

    private func results<Key: Hashable & Sendable>(for wanted: [Key], key: @escaping @Sendable (WorkItem) -> Key?) async throws -> [String?] {
        try checkOpen()
        var found = try await queues[0].results(for: wanted, key: key)
        for queue in queues.dropFirst() where found.contains(nil) {
            for (index, result) in try await queue.results(for: wanted, key: key).enumerated() where found[index] == nil {
                found[index] = result
            }
        }
        return found
    }

    /// The result stored for `item`, as ``results(for:)``.
    public func result(for item: WorkItem) async throws -> String? {
        try await results(for: [item])[0]
    }

    /// The result a `TypedWorkHandler` returned for the typed item `input`, decoded from JSON
    /// as `type`; nil when there is none (yet). Items match by JSON value, not by bytes: an
    /// item another tool pushed with other spacing, key order or number spelling (`1.0` for
    /// `1`) is found too.
    /// - Throws: a `DecodingError` when the result is not `type` as JSON (or was cut at 4 KiB).
    public func result<Input: Encodable, Output: Decodable>(_ type: Output.Type, for input: Input) async throws -> Output? {
        let wanted = TypedItem.canonical(try TypedItem.encode(input)) ?? []
        guard let text = try await results(for: [wanted], key: { TypedItem.canonical($0) })[0] else { return nil }
        return try TypedItem.decodeResult(type, from: text)
    }

    // MARK: Closing

    /// Stops refreshing the hold, ends it if it was kept alive (a hold taken without
    /// `keepAlive` lapses with its TTL, as `workqueue open`'s), and closes the connections.
    /// Later calls throw ``ProducerError/closed(queue:)``. Safe to call more than once.
    public func close() async {
        guard !isClosed else { return }
        await stopRefreshing()
        if let held, held.keepAlive {
            self.held = nil
            for queue in queues.reversed() { _ = try? await queue.close(producer: holdName) }
        }
        isClosed = true
        for queue in queues { await queue.close() }
    }

    private func checkOpen() throws {
        if isClosed { throw ProducerError.closed(queue: name) }
    }
}

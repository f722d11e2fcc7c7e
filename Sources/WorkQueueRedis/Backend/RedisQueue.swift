import Logging
import Synchronization
import WorkQueue

/// The Redis work queue, compatible with the Kubernetes tutorial's `rediswq.py`.
///
/// Keys for a queue named `NAME`:
/// - `NAME` — list: pending items (raw bytes). Producers `RPUSH`; workers take from the head.
/// - `NAME:processing` — list: items taken by some worker (leased, or lease expired and not
///   yet recovered).
/// - `NAME:leased_by_session:<sha224hex>` — string: the session id holding the lease of the
///   item whose bytes have that lowercase hex SHA-224; its TTL is the lease (as `rediswq.py`).
/// - `NAME:dead` — list: dead-lettered items (raw bytes), oldest first.
/// - `NAME:attempts` — hash: sha224hex → failed or abandoned attempts so far.
/// - `NAME:errors` — hash: sha224hex → the last error message.
/// - `NAME:retry` — sorted set: failed items waiting to be retried; score = due time in ms of
///   the Redis server clock (`TIME`); member = 16 hex digits from `NAME:retry:seq`, `:`, then
///   the raw item bytes (so equal items never collapse).
/// - `NAME:retry:seq` — integer: the counter behind the retry-member prefixes.
/// - `NAME:results` — hash: sha224hex → the result a handler returned.
/// - `NAME:completed` — integer: items completed so far.
///
/// Scripts build lease keys from the item hash inside Lua, so this does not work on Redis
/// Cluster.
public final class RedisQueue: WorkQueueBackend, DeadLetterQueue {
    /// Test-only switches that simulate failures.
    public struct FaultInjection: Sendable {
        /// After the take script ran, drop the connection and throw before returning the
        /// leases: the worker "dies" holding items.
        public var dropConnectionAfterTake = false
        public init(dropConnectionAfterTake: Bool = false) { self.dropConnectionAfterTake = dropConnectionAfterTake }
    }

    /// The queue name (the pending list's key).
    public let name: String
    private let client: RedisClient
    private let configuration: RedisConfiguration
    private let logger: Logger
    private let connectBudget: Duration
    private let blocking: BlockingClient
    private let scriptSHAs = Mutex<[String: String]>([:])
    private let leaselessSince = Mutex<[[UInt8]: ContinuousClock.Instant]>([:])
    private let settings: Mutex<(grace: Duration, faults: FaultInjection)> = Mutex((.seconds(2), FaultInjection()))

    /// How long an item must have been seen in processing without a lease before recovery
    /// takes it back (a `rediswq.py` worker sets its lease a moment after taking). Default 2 s.
    public var recoveryGrace: Duration {
        get { settings.withLock { $0.grace } }
        set { settings.withLock { $0.grace = newValue } }
    }

    /// Test-only fault switches.
    public var faultInjection: FaultInjection {
        get { settings.withLock { $0.faults } }
        set { settings.withLock { $0.faults = newValue } }
    }

    private init(name: String, client: RedisClient, configuration: RedisConfiguration, logger: Logger, connectBudget: Duration) {
        self.name = name
        self.client = client
        self.configuration = configuration
        self.logger = logger
        self.connectBudget = connectBudget
        self.blocking = BlockingClient(configuration: configuration, logger: logger, budget: connectBudget)
    }

    /// Connects (retrying within `connectBudget`) to the queue `name`.
    public static func connect(name: String, configuration: RedisConfiguration,
                               logger: Logger = Logger(label: "workqueue.redis"),
                               connectBudget: Duration = .seconds(30)) async throws -> RedisQueue {
        guard !name.isEmpty else { throw WorkQueueError.invalidConfiguration("the queue name is empty; pass a name such as job2") }
        let client = try await RedisClient.connect(configuration, logger: logger, budget: connectBudget)
        return RedisQueue(name: name, client: client, configuration: configuration, logger: logger, connectBudget: connectBudget)
    }

    // MARK: Keys

    var processingKey: String { name + ":processing" }
    var deadKey: String { name + ":dead" }
    var attemptsKey: String { name + ":attempts" }
    var errorsKey: String { name + ":errors" }
    var retryKey: String { name + ":retry" }
    var retrySeqKey: String { name + ":retry:seq" }
    var resultsKey: String { name + ":results" }
    var completedKey: String { name + ":completed" }
    var leasePrefix: String { name + ":leased_by_session:" }
    func leaseKey(_ item: WorkItem) -> String { leasePrefix + SHA224.hex(item.bytes) }

    /// Every key the queue uses (other than lease keys) with the type it must hold.
    var typedKeys: [(String, String)] {
        [(name, "list"), (processingKey, "list"), (deadKey, "list"), (attemptsKey, "hash"), (errorsKey, "hash"),
         (retryKey, "zset"), (retrySeqKey, "string"), (resultsKey, "hash"), (completedKey, "string")]
    }

    /// Throws ``WorkQueueError/wrongKeyType(key:actual:expected:)`` for the first queue key that
    /// exists with the wrong type.
    public func validateKeyTypes() async throws {
        let keys = typedKeys
        let replies = try await client.pipeline(keys.map { ["TYPE", RESPArgument($0.0)] })
        for (reply, (key, expected)) in zip(replies, keys) {
            guard let actual = reply.string else { throw RedisError.unexpectedReply("TYPE \(key) -> \(reply)") }
            if actual != "none" && actual != expected {
                throw WorkQueueError.wrongKeyType(key: key, actual: actual, expected: expected)
            }
        }
    }

    /// Closes both connections.
    public func close() async {
        await client.close()
        await blocking.close()
    }

    // MARK: Scripts

    private func run(_ script: String, keys: [String], args: [RESPArgument]) async throws -> RESPValue {
        let tail: [RESPArgument] = [RESPArgument(keys.count)] + keys.map { RESPArgument($0) } + args
        if let sha = scriptSHAs.withLock({ $0[script] }) {
            do {
                return try await mapErrors { try await self.client.send(["EVALSHA", RESPArgument(sha)] + tail) }
            } catch RedisError.server(let message) where message.hasPrefix("NOSCRIPT") {
                // Redis restarted: fall through and load it again.
            }
        }
        let loaded = try await client.send(["SCRIPT", "LOAD", RESPArgument(script)])
        guard let sha = loaded.string else { throw RedisError.unexpectedReply("SCRIPT LOAD -> \(loaded)") }
        scriptSHAs.withLock { $0[script] = sha }
        return try await mapErrors { try await self.client.send(["EVALSHA", RESPArgument(sha)] + tail) }
    }

    private func mapErrors(_ body: () async throws -> RESPValue) async throws -> RESPValue {
        do {
            return try await body()
        } catch RedisError.server(let message) {
            let parts = message.split(separator: "\t", omittingEmptySubsequences: false)
            if parts.count >= 4, parts[0].hasSuffix("WQTYPE") {
                throw WorkQueueError.wrongKeyType(key: String(parts[1]), actual: String(parts[2]), expected: String(parts[3]))
            }
            throw RedisError.server(message)
        }
    }

    /// SHA-224 computed by the Lua implementation the scripts use (for tests).
    public func luaSHA224(_ bytes: [UInt8]) async throws -> String {
        let reply = try await run(RedisScripts.sha, keys: [], args: [RESPArgument(bytes)])
        guard let hex = reply.string else { throw RedisError.unexpectedReply("sha224 -> \(reply)") }
        return hex
    }

    static func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return max(0, Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000))
    }

    // MARK: WorkQueueBackend

    @discardableResult
    public func enqueue(_ items: [WorkItem]) async throws -> Int {
        if items.isEmpty {
            return try await client.send(["LLEN", RESPArgument(name)]).int ?? 0
        }
        do {
            let reply = try await client.send(["RPUSH", RESPArgument(name)] + items.map { RESPArgument($0.bytes) })
            return reply.int ?? 0
        } catch RedisError.server(let message) where message.hasPrefix("WRONGTYPE") {
            let actual = try await client.send(["TYPE", RESPArgument(name)]).string ?? "unknown"
            throw WorkQueueError.wrongKeyType(key: name, actual: actual, expected: "list")
        }
    }

    public func lease(max: Int, session: String, duration: Duration) async throws -> [Lease] {
        guard max > 0 else { return [] }
        let reply = try await run(RedisScripts.lease, keys: [name, processingKey, attemptsKey],
                                  args: [RESPArgument(max), RESPArgument(session),
                                         RESPArgument(Swift.max(1, Self.milliseconds(duration))), RESPArgument(leasePrefix)])
        guard let flat = reply.array, flat.count % 2 == 0 else { throw RedisError.unexpectedReply("lease -> \(reply)") }
        if faultInjection.dropConnectionAfterTake {
            await client.dropConnection()
            throw RedisError.connectionClosed(configuration.endpoint)
        }
        var leases: [Lease] = []
        for index in stride(from: 0, to: flat.count, by: 2) {
            guard let bytes = flat[index].bytes else { throw RedisError.unexpectedReply("lease item -> \(flat[index])") }
            leases.append(Lease(item: WorkItem(bytes), session: session, attempt: (flat[index + 1].int ?? 0) + 1))
        }
        return leases
    }

    public func waitForWork(timeout: Duration) async throws {
        let ms = Self.milliseconds(timeout)
        guard ms > 0 else { return }
        let seconds = "\(ms / 1000)." + String(String(1000 + ms % 1000).dropFirst())
        _ = try await blocking.send(["BLMOVE", RESPArgument(name), RESPArgument(name), "RIGHT", "RIGHT", RESPArgument(seconds)],
                                    timeout: timeout + configuration.commandTimeout)
    }

    /// One script call per session (the runner has one): every lease key in KEYS.
    public func renew(_ leases: [Lease], duration: Duration) async throws -> [Bool] {
        guard !leases.isEmpty else { return [] }
        var results = [Bool](repeating: false, count: leases.count)
        let milliseconds = RESPArgument(Swift.max(1, Self.milliseconds(duration)))
        let bySession = Dictionary(grouping: leases.indices, by: { leases[$0].session })
        for (session, indices) in bySession {
            let reply = try await run(RedisScripts.renew, keys: indices.map { leaseKey(leases[$0].item) },
                                      args: [RESPArgument(session), milliseconds])
            let owned = reply.array ?? []
            for (position, index) in indices.enumerated() where position < owned.count {
                results[index] = owned[position].int == 1
            }
        }
        return results
    }

    public func complete(_ lease: Lease, result: String?) async throws -> SettleOutcome {
        let hash = SHA224.hex(lease.item.bytes)
        let reply = try await run(
            RedisScripts.complete,
            keys: [processingKey, leasePrefix + hash, attemptsKey, errorsKey, resultsKey, completedKey],
            args: [RESPArgument(lease.item.bytes), RESPArgument(lease.session), RESPArgument(hash),
                   result == nil ? "0" : "1", RESPArgument(result ?? "")])
        return reply.int == 1 ? .settled : .leaseLost
    }

    public func fail(_ lease: Lease, error: String, disposition: FailureDisposition) async throws -> SettleOutcome {
        let hash = SHA224.hex(lease.item.bytes)
        let mode: RESPArgument
        let delay: Int
        switch disposition {
        case let .retry(after): mode = "retry"; delay = Self.milliseconds(after)
        case .deadLetter: mode = "dead"; delay = 0
        }
        let reply = try await run(
            RedisScripts.fail,
            keys: [processingKey, leasePrefix + hash, attemptsKey, errorsKey, retryKey, deadKey, retrySeqKey],
            args: [RESPArgument(lease.item.bytes), RESPArgument(lease.session), RESPArgument(hash),
                   RESPArgument(error), mode, RESPArgument(delay)])
        return reply.int == 1 ? .settled : .leaseLost
    }

    public func release(_ lease: Lease) async throws -> SettleOutcome {
        let reply = try await run(RedisScripts.release, keys: [processingKey, leaseKey(lease.item), name],
                                  args: [RESPArgument(lease.item.bytes), RESPArgument(lease.session)])
        return reply.int == 1 ? .settled : .leaseLost
    }

    public func counts() async throws -> QueueCounts {
        let reply = try await run(RedisScripts.counts, keys: [name, processingKey, retryKey, deadKey, completedKey], args: [])
        guard let values = reply.array?.compactMap(\.int), values.count == 5 else {
            throw RedisError.unexpectedReply("counts -> \(reply)")
        }
        return QueueCounts(pending: values[0], processing: values[1], leased: nil, scheduled: values[2],
                           dead: values[3], completed: values[4])
    }

    /// The distinct items in `NAME:processing`, read in pages.
    private func processingItems() async throws -> [[UInt8]] {
        var items: [[UInt8]] = []
        var seen = Set<[UInt8]>()
        let chunk = 1000
        var start = 0
        while true {
            let reply = try await client.send(["LRANGE", RESPArgument(processingKey), RESPArgument(start), RESPArgument(start + chunk - 1)])
            let page = reply.array ?? []
            for value in page { if let bytes = value.bytes, seen.insert(bytes).inserted { items.append(bytes) } }
            if page.count < chunk { break }
            start += chunk
        }
        return items
    }

    /// ``counts()`` with ``QueueCounts/leased`` filled in: how many items in processing hold a
    /// live lease (the rest wait for recovery). It reads the whole processing list, so the
    /// runner's frequent drain checks use ``counts()`` instead.
    public func countsWithLeases() async throws -> QueueCounts {
        var counts = try await counts()
        let items = try await processingItems()
        let exists = try await client.pipeline(items.map { ["EXISTS", RESPArgument(leasePrefix + SHA224.hex($0))] })
        counts.leased = exists.filter { $0.int == 1 }.count
        return counts
    }

    public func recoverExpiredLeases(maxAttempts: Int) async throws -> RecoveryReport {
        let items = try await processingItems()
        var report = RecoveryReport()
        guard !items.isEmpty else {
            leaselessSince.withLock { $0.removeAll() }
            return report
        }
        let exists = try await client.pipeline(items.map { ["EXISTS", RESPArgument(leasePrefix + SHA224.hex($0))] })
        let now = ContinuousClock.now
        let grace = recoveryGrace
        var due: [[UInt8]] = []
        leaselessSince.withLock { since in
            var next: [[UInt8]: ContinuousClock.Instant] = [:]
            for (item, reply) in zip(items, exists) where reply.int == 0 {
                let first = since[item] ?? now
                if now - first >= grace { due.append(item) } else { next[item] = first }
            }
            since = next
        }
        for item in due {
            let hash = SHA224.hex(item)
            let reply = try await run(
                RedisScripts.recover,
                keys: [processingKey, leasePrefix + hash, attemptsKey, errorsKey, name, deadKey],
                args: [RESPArgument(item), RESPArgument(hash), RESPArgument(maxAttempts),
                       "lease expired %d times; the worker processing it died or stalled (poison item?)"])
            switch reply.int {
            case 1: report.requeued += 1
            case 2: report.deadLettered += 1
            default: break
            }
        }
        if report.requeued + report.deadLettered > 0 {
            logger.info("recovered expired leases", metadata: ["queue": "\(name)", "requeued": "\(report.requeued)", "deadLettered": "\(report.deadLettered)"])
        }
        return report
    }

    public func promoteDueRetries() async throws -> Int {
        try await run(RedisScripts.promote, keys: [retryKey, name], args: []).int ?? 0
    }

    // MARK: DeadLetterQueue

    public func deadLetters() async throws -> [DeadLetter] {
        let reply = try await client.send(["LRANGE", RESPArgument(deadKey), "0", "-1"])
        let items = (reply.array ?? []).compactMap(\.bytes)
        guard !items.isEmpty else { return [] }
        var commands: [[RESPArgument]] = []
        for item in items {
            let hash = SHA224.hex(item)
            commands.append(["HGET", RESPArgument(errorsKey), RESPArgument(hash)])
            commands.append(["HGET", RESPArgument(attemptsKey), RESPArgument(hash)])
        }
        let details = try await client.pipeline(commands)
        return items.enumerated().map { index, item in
            DeadLetter(item: WorkItem(item), lastError: details[2 * index].string, attempts: details[2 * index + 1].int)
        }
    }

    public func retryDeadLetters() async throws -> Int {
        try await run(RedisScripts.retryDead, keys: [deadKey, name, attemptsKey, errorsKey], args: []).int ?? 0
    }

    public func purgeDeadLetters() async throws -> Int {
        try await run(RedisScripts.purgeDead, keys: [deadKey], args: []).int ?? 0
    }
}

/// The dedicated connection for blocking commands (BLMOVE), opened on first use.
actor BlockingClient {
    private let configuration: RedisConfiguration
    private let logger: Logger
    private let budget: Duration
    private var client: RedisClient?

    init(configuration: RedisConfiguration, logger: Logger, budget: Duration) {
        self.configuration = configuration
        self.logger = logger
        self.budget = budget
    }

    func send(_ command: [RESPArgument], timeout: Duration) async throws -> RESPValue {
        let current: RedisClient
        if let client {
            current = client
        } else {
            current = try await RedisClient.connect(configuration, logger: logger, budget: budget)
            client = current
        }
        return try await current.send(command, timeout: timeout)
    }

    func close() async {
        await client?.close()
        client = nil
    }
}

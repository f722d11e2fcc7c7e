import Logging
import Synchronization
import WorkQueueSeam

/// The Redis work queue, compatible with the Kubernetes tutorial's `rediswq.py`.
///
/// `NAME` and `NAME:processing` are lists of raw item bytes, as the tutorial has them; every
/// other key is listed in `RedisKeys` and docs/redis.md. A take is one atomic script call that
/// moves items from `NAME` to `NAME:processing` and records a lease per item under a fencing
/// token (`<session>:<n>`) in `NAME:leases` (deadline) and `NAME:lease-items` (the item). No
/// script hashes an item: SHA-224s (for attempts, errors and the tutorial's lease keys)
/// are computed here, in the worker, and only where needed.
public final class RedisQueue: WorkQueueBackend, DeadLetterQueue {
    /// Test-only switches that simulate failures (`@_spi(Testing) import WorkQueueRedis`).
    @_spi(Testing) public struct FaultInjection: Sendable {
        /// After the take script ran, drop the connection and throw before returning the
        /// leases: the worker "dies" holding items.
        public var dropConnectionAfterTake = false
        /// The reply of the n-th script call of ``exchange(_:lease:session:duration:)`` from now
        /// (1: the next) is lost: the call takes effect, then the connection drops and the
        /// exchange throws. One-shot.
        public var loseExchangeReply: Int?
        /// No fault unless one is asked for.
        public init(dropConnectionAfterTake: Bool = false, loseExchangeReply: Int? = nil) {
            self.dropConnectionAfterTake = dropConnectionAfterTake
            self.loseExchangeReply = loseExchangeReply
        }
    }

    /// At most this many settlements go into one script call; ``exchange(_:lease:session:duration:)``
    /// sends more in several calls, so that no call holds Redis for long (a few µs each: 1000
    /// plain completions take Redis about 5 ms). As many as the most a call takes, so that a
    /// worker's full buffer settles in one round trip.
    public static let settlementsPerCall = 1000

    /// The default `replyByteBudget`: 1 MiB.
    public static let defaultReplyByteBudget = 1 << 20

    /// Items up to this size travel inside a take's reply; a larger one is read afterwards
    /// with a plain `HMGET` (moving bytes through Lua costs Redis about 3 ms per MiB; a plain
    /// read, a copy).
    static let inlineItemBytes = 64 << 10

    /// What one script call may move of item bytes: a take stops once its items reach it, a
    /// call's settlements carry at most this much of their items, and the expired leases,
    /// `NAME:processing` and the dead letters are read in pages of about this size (each after
    /// at least one item). A script holds Redis about 3 ms per MiB of items it touches, so this
    /// bounds the Redis time of every call; and replies stay far below the client's bound of
    /// 512 MiB. Default ``defaultReplyByteBudget``; tests lower it (``Options/replyByteBudget``).
    package var replyByteBudget: Int { options.replyByteBudget }

    /// The largest ``maxItemBytes`` accepted: 256 MiB, so that a take's reply (at most
    /// ``defaultReplyByteBudget`` plus one item) fits the client's bound of 512 MiB per reply.
    public static let maxItemBytesLimit = 256 << 20

    /// The default ``maxItemBytes``: 4 MiB.
    public static let defaultMaxItemBytes = 4 << 20

    /// The queue name (the pending list's key).
    public let name: String
    let keys: RedisKeys
    /// One server's client, or a cluster's (routing by slot).
    let client: any RedisCommandExecuting
    let configuration: RedisConfiguration
    let logger: Logger
    /// How this queue behaves, as given at connect (normalized: every value in its range).
    public let options: Options
    private let blocking: BlockingClient
    private let faults = Mutex(FaultInjection())
    /// The next token and call numbers of this process, and what failed exchanges used: a
    /// reply may have been lost after the call took effect, so the next exchange of that
    /// session asks for the same tokens (the script returns that take again instead of taking
    /// more) and carries the same call number (the script answers settlements it already
    /// applied with their recorded outcomes).
    private let tokens = Mutex(TokenState())
    /// Failed takes remembered at most (a worker has at most two calls outstanding; a sharded
    /// one, two per shard).
    static let maxFailedTakes = 8

    private struct TokenState {
        var next = 1
        var nextCall = 1
        /// The failed calls that took, oldest first (at most ``maxFailedTakes``): their tokens
        /// and call numbers. Several, because a worker keeps two calls outstanding (the
        /// runner's pipelining) and both may fail at once.
        var failedTakes: [(session: String, first: Int, count: Int, call: Int)] = []
        /// The last failed call that settled: its call number. A record of its own, so that
        /// two calls of one session failing at once (a sharded worker's settle-only call and
        /// its take on the same shard) do not overwrite each other's.
        var failedSettle: (session: String, call: Int)?
    }

    /// How long an item must have been seen in processing with no lease at all before recovery
    /// takes it back: ``Options/recoveryGrace``.
    public var recoveryGrace: Duration { options.recoveryGrace }

    /// Items longer than this are never handed to a worker: ``Options/maxItemBytes``.
    public var maxItemBytes: Int { options.maxItemBytes }

    /// At most this many completion records are kept in `NAME:results`: ``Options/resultsMax``.
    public var resultsMax: Int? { options.resultsMax }

    /// Test-only fault switches: unlike ``options``, these change while the queue is in use.
    @_spi(Testing) public var faultInjection: FaultInjection {
        get { faults.withLock { $0 } }
        set { faults.withLock { $0 = newValue } }
    }

    init(name: String, client: any RedisCommandExecuting, options: Options, logger: Logger, blocking: BlockingClient) {
        self.name = name
        self.options = options.normalized
        self.keys = RedisKeys(name)
        self.client = client
        self.configuration = client.configuration
        self.logger = logger
        self.blocking = blocking
    }

    /// Connects (retrying within `connectBudget`) to the queue `name` on one server; the
    /// queue keeps `options` for its life.
    public static func connect(name: String, configuration: RedisConfiguration, options: Options = Options(),
                               logger: Logger = Logger(label: "workqueue.redis"),
                               connectBudget: Duration = .seconds(30)) async throws -> RedisQueue {
        try await connect(name: name, deployment: .standalone(configuration), options: options, logger: logger,
                          connectBudget: connectBudget)
    }

    /// Connects (retrying within `connectBudget`) to the queue `name` on one server or a Redis
    /// Cluster. In a cluster a name whose keys would span slots (no hash tag) is refused with
    /// `WorkQueueError/invalidConfiguration(_:)` (see ``clusterNameProblem(_:)``). The queue
    /// keeps `options` for its life.
    public static func connect(name: String, deployment: RedisDeployment, options: Options = Options(),
                               logger: Logger = Logger(label: "workqueue.redis"),
                               connectBudget: Duration = .seconds(30)) async throws -> RedisQueue {
        guard !name.isEmpty else { throw WorkQueueError.invalidConfiguration("the queue name is empty; pass a name such as job2") }
        // Every new connection (reconnects too, and every cluster node) loads the scripts first,
        // in the same round trip as its login: EVALSHA then finds them, and NOSCRIPT stays for a
        // server that was flushed or swapped behind an open connection.
        let setup = RedisScript.all.map { RESPCommand(["SCRIPT", "LOAD", $0.source]) }
        switch deployment {
        case let .standalone(configuration):
            // One TLS context (files read once) for both connections and all their reconnects.
            let tls = try RedisTLSContext.make(for: configuration)
            let client = try await RedisClient.connect(configuration, tls: tls, logger: logger, budget: connectBudget, setup: setup)
            let blocking = BlockingClient {
                try await RedisClient.connect(configuration, tls: tls, logger: logger, budget: connectBudget)
            }
            return RedisQueue(name: name, client: client, options: options, logger: logger, blocking: blocking)
        case let .cluster(seeds):
            if let problem = clusterNameProblem(name) { throw WorkQueueError.invalidConfiguration(problem) }
            let home = HashSlot.of(name)
            let client = try await RedisClusterClient.connect(seeds: seeds, logger: logger, budget: connectBudget, setup: setup,
                                                              homeSlot: home)
            let blocking = BlockingClient {
                try await RedisClusterClient.connect(seeds: seeds, logger: logger, budget: connectBudget, homeSlot: home)
            }
            return RedisQueue(name: name, client: client, options: options, logger: logger, blocking: blocking)
        }
    }

    /// Why the queue `name` cannot live in a Redis Cluster, or nil when it can: every key of a
    /// queue must be in one slot (its scripts touch them together), which takes a hash tag,
    /// e.g. `{job2}`: only the part in braces is hashed.
    public static func clusterNameProblem(_ name: String) -> String? {
        let keys = RedisKeys(name)
        let slot = HashSlot.of(name)
        let all = keys.typed.map(\.key) + [keys.tutorialLease([])]
        guard let stray = all.first(where: { HashSlot.of($0) != slot }) else { return nil }
        let suggestion = "{" + name.filter { $0 != "{" && $0 != "}" } + "}"
        return "queue name '\(name)' has no usable hash tag: in a Redis Cluster its keys would be in different slots "
            + "('\(name)' in slot \(slot), '\(stray)' in slot \(HashSlot.of(stray))), and one script must reach them all. "
            + "Use a name with a hash tag, e.g. \(suggestion): only the part in braces decides the slot, so every key of the "
            + "queue lands in one"
    }

    /// Throws `WorkQueueError/wrongKeyType(key:actual:expected:)` for the first queue key that
    /// exists with the wrong type. The scripts read before they write, so a key whose type
    /// changes later fails a call with nothing modified, and this names it.
    public func validateKeyTypes() async throws {
        let typed = keys.typed
        let replies = try await client.pipeline(typed.map { ["TYPE", RESPArgument($0.key)] })
        for (reply, (key, expected)) in zip(replies, typed) {
            if case let .error(message) = reply { throw await classified(RedisError.server(message)) }
            guard let actual = reply.string else { throw RedisError.unexpectedReply("TYPE \(key) -> \(reply)") }
            if key == keys.results && actual == "hash" {
                throw WorkQueueError.backendRefused(Self.oldResultsHash(key))
            }
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

    /// Runs a script by its SHA-1, loading it when the server does not know it (first use on a
    /// server, or after a restart), with the keys it declares (``RedisScript/keys``, then
    /// `given`: see ``RedisScript/given``). A WRONGTYPE error names the key.
    func run(_ script: RedisScript, given: [String] = [], args: [RESPArgument]) async throws -> RESPValue {
        var command = command(script, given: given, capacity: args.reduce(0) { $0 + $1.bytes.count + 16 })
        for argument in args { command.append(argument) }
        return try await run(script, command)
    }

    /// `EVALSHA <sha1> <keys>` with this queue's keys the script declares, then `given`.
    /// Only a registered script (``RedisScript/all``) is ever loaded, so only one can run.
    func command(_ script: RedisScript, given: [String] = [], capacity: Int, readOnly: Bool = false) -> RESPCommand {
        assert(RedisScript.registered.contains(script.sha1), "script \(script.name) is not in RedisScript.all")
        return Self.command(script, keys: keys.of(script) + given, capacity: capacity, readOnly: readOnly)
    }

    /// `EVALSHA <sha1> <keys>` (`EVALSHA_RO` when `readOnly`: Redis then refuses any write
    /// the script tries, and a replica may run it), ready for the script's ARGV to be appended.
    private static func command(_ script: RedisScript, keys: [String], capacity: Int, readOnly: Bool = false) -> RESPCommand {
        var command = RESPCommand(capacity: 64 + script.sha1.utf8.count + keys.reduce(0) { $0 + $1.utf8.count + 16 } + capacity)
        command.append(readOnly ? "EVALSHA_RO" : "EVALSHA")
        command.append(script.sha1)
        command.append(keys.count)
        for key in keys { command.append(key) }
        return command
    }

    /// Sends a script call built by ``command(_:keys:capacity:)``; `timeout` overrides the
    /// configuration's reply timeout.
    func run(_ script: RedisScript, _ command: RESPCommand, timeout: Duration? = nil) async throws -> RESPValue {
        do {
            do {
                let reply = try await client.send(command, timeout: timeout)
                if case let .error(message) = reply { throw RedisError.server(message) }
                return reply
            } catch RedisError.server(let message) where message.hasPrefix("NOSCRIPT") {
                let replies = try await client.pipeline(RedisScript.all.map { RESPCommand(["SCRIPT", "LOAD", $0.source]) } + [command])
                if let failed = replies.dropLast().first(where: { if case .error = $0 { true } else { false } }) {
                    throw RedisError.unexpectedReply("SCRIPT LOAD -> \(failed)")
                }
                guard let reply = replies.last else { throw RedisError.unexpectedReply("no reply to \(script.name)") }
                if case let .error(message) = reply { throw RedisError.server(message) }
                return reply
            }
        } catch RedisError.server(let message) where message.contains("WRONGTYPE") {
            try await validateKeyTypes()
            throw WorkQueueError.backendRefused(RedisError.server(message).explained(queue: name))
        } catch let error as RedisError {
            throw await classified(error)
        }
    }

    /// A permanent error as `WorkQueueError/backendRefused(_:)` (the runner stops at once,
    /// with the hint); READONLY and LOADING drop the connection first (the retry reconnects,
    /// possibly to the new primary); anything else as it is (retried).
    func classified(_ error: RedisError) async -> any Error {
        switch error.kind {
        case .permanent:
            return WorkQueueError.backendRefused(error.explained(queue: name))
        case .reconnect:
            await client.dropConnection()
            return error
        case .backOff, .transient:
            return error
        }
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

    public func exchange(_ settlements: [Settlement], lease max: Int, session: String, duration: Duration) async throws -> ExchangeResult {
        let (first, max, call) = tokens.withLock { state -> (Int, Int, Int) in
            var max = Swift.max(0, Swift.min(max, 1000))
            var first: Int?
            var call: Int?
            // The settlements' call number from the failed call that carried them; the tokens
            // from that call's take if it took, else from the oldest failed take (with its call
            // number when there are no settlements). A take handed back to another call than
            // the one that lost it is still handed out once.
            if let failed = state.failedSettle, failed.session == session, !settlements.isEmpty {
                state.failedSettle = nil
                call = failed.call
            }
            let retried = call.flatMap { call in state.failedTakes.firstIndex { $0.session == session && $0.call == call } }
                ?? state.failedTakes.firstIndex { $0.session == session }
            if let retried {
                let failed = state.failedTakes.remove(at: retried)
                first = failed.first
                max = failed.count
                if call == nil { call = failed.call }
            }
            if first == nil {
                first = max > 0 ? state.next : 0
                state.next += max
            }
            if call == nil {
                call = state.nextCall
                state.nextCall += 1
            }
            return (first ?? 0, max, call ?? 0)
        }
        // The call id names this logical call and what it settles: a retry of the same call
        // matches the session's record, a different call never does.
        let callID = "\(call)/\(settlements.count)/\(settlements.first?.lease.token ?? "")"
        let budget = replyByteBudget
        var outcomes: [SettleOutcome] = []
        outcomes.reserveCapacity(settlements.count)
        var offset = 0
        do {
            // Settlements in calls of at most settlementsPerCall and about `budget` bytes of
            // items; the take rides on the last with what is left of the budget, or goes alone.
            while true {
                let (end, bytes) = Self.page(from: offset, count: settlements.count, most: Self.settlementsPerCall,
                                             budget: budget) { settlements[$0].lease.item.bytes.count }
                let isLast = end == settlements.count
                let takes = isLast && (bytes < budget || end == offset)
                let part = try await exchangeCall(
                    settlements[offset..<end], offset: offset, callID: callID, lease: takes ? max : 0, first: first,
                    takeBudget: budget - bytes, session: session, duration: duration)
                outcomes += part.outcomes
                offset = end
                if takes || (isLast && max == 0) {
                    return ExchangeResult(outcomes: outcomes, leases: part.leases, counts: part.counts, control: part.control,
                                          retryAfter: part.retryAfter)
                }
            }
        } catch {
            tokens.withLock { state in
                if max > 0 {
                    if state.failedTakes.count >= Self.maxFailedTakes { state.failedTakes.removeFirst() }
                    state.failedTakes.append((session, first, max, call))
                }
                if !settlements.isEmpty { state.failedSettle = (session, call) }
            }
            throw error
        }
    }

    /// One script call of ``exchange(_:lease:session:duration:)``.
    private func exchangeCall(_ settlements: ArraySlice<Settlement>, offset: Int, callID: String, lease max: Int, first: Int,
                              takeBudget: Int, session: String, duration: Duration) async throws -> ExchangeResult {
        var command = command(.exchange, capacity: 200 + settlements.count * 128)
        command.append(Swift.max(1, Self.milliseconds(duration)))
        command.append(max)
        command.append(session + ":")
        command.append(first)
        command.append(maxItemBytes)
        command.append(Swift.max(1, takeBudget))
        command.append(Self.inlineItemBytes)
        command.append(options.rateLimit.map { String($0.intervalMicroseconds) } ?? "0")
        command.append(options.rateLimit?.burst ?? 1)
        command.append(callID)
        command.append(offset)
        command.append(resultsMax.map(String.init) ?? "")
        command.append(settlements.count)
        for settlement in settlements { Self.append(settlement, to: &command) }
        let reply = try await run(.exchange, command)
        guard let parts = reply.array, parts.count >= 7, let outcomes = parts[0].byteBuffer, outcomes.readableBytes == settlements.count,
              let taken = parts[1].array, let numbers = parts[2].array, numbers.isEmpty || numbers.count == taken.count,
              let extras = parts[3].array, extras.count % 3 == 0, let counts = parts[5].array?.compactMap(\.int), counts.count == 3,
              let marks = parts[6].array?.compactMap(\.int), marks.count == 3 else {
            throw RedisError.unexpectedReply("exchange -> \(reply)")
        }
        let faults = self.faults.withLock { state -> FaultInjection in
            defer { if let n = state.loseExchangeReply { state.loseExchangeReply = n > 1 ? n - 1 : nil } }
            return state
        }
        if (faults.dropConnectionAfterTake && !taken.isEmpty) || faults.loseExchangeReply == 1 {
            // As if the reply had been lost: the call happened, the caller never learns of it.
            await client.dropConnection()
            throw RedisError.connectionClosed(configuration.endpoint)
        }
        for size in parts[4].array ?? [] {
            logger.error("""
                dead-lettered an item of \(size.int ?? 0) bytes without handing it to a worker: it is above the item size \
                limit of \(maxItemBytes) bytes (--max-item-bytes); it is in \(keys.dead)
                """, metadata: ["queue": "\(name)"])
        }
        // Attempts so far and checkpoint, only of the items that have either (by position).
        var carried: [Int: (attempts: Int, checkpoint: [UInt8]?)] = [:]
        for index in stride(from: 0, to: extras.count, by: 3) {
            guard let position = extras[index].int, position >= 1, position <= taken.count, let attempts = extras[index + 1].int else {
                throw RedisError.unexpectedReply("exchange attempts -> \(extras[index]) \(extras[index + 1])")
            }
            carried[position - 1] = (attempts, extras[index + 2].bytes)
        }
        // A take's tokens are the session's prefix and first, first + 1, ...; a retried take
        // that found some leases gone lists each item's number.
        let prefix = session + ":"
        var leases: [Lease] = []
        leases.reserveCapacity(taken.count)
        var large: [(index: Int, token: String, size: Int)] = []
        for (position, value) in taken.enumerated() {
            let number: Int
            if numbers.isEmpty {
                number = first + position
            } else if let listed = numbers[position].int {
                number = listed
            } else {
                throw RedisError.unexpectedReply("exchange token number -> \(numbers[position])")
            }
            let token = prefix + String(number)
            let extra = carried[position]
            let attempt = (extra?.attempts ?? 0) + 1
            switch value {
            case let .bulkString(buffer?):
                leases.append(Lease(item: WorkItem(Array(buffer.readableBytesView)), session: session, attempt: attempt, token: token,
                                    checkpoint: extra?.checkpoint))
            case let .integer(size):
                // Too large to travel through the script: read below.
                large.append((leases.count, token, size))
                leases.append(Lease(item: WorkItem([]), session: session, attempt: attempt, token: token, checkpoint: extra?.checkpoint))
            default:
                throw RedisError.unexpectedReply("exchange item -> \(value)")
            }
        }
        if !large.isEmpty {
            let items = try await leaseItems(large.map { ($0.token, $0.size) })
            var gone: Set<Int> = []
            for (entry, item) in zip(large, items) {
                if let item {
                    leases[entry.index] = Lease(item: WorkItem(item), session: session, attempt: leases[entry.index].attempt,
                                                token: entry.token, checkpoint: leases[entry.index].checkpoint)
                } else {
                    // Its lease ended between the take and this read (it expired and was
                    // recovered): the item is back in the queue, not ours.
                    gone.insert(entry.index)
                }
            }
            if !gone.isEmpty { leases = leases.enumerated().filter { !gone.contains($0.offset) }.map(\.element) }
        }
        return ExchangeResult(
            outcomes: outcomes.readableBytesView.map { $0 == UInt8(ascii: "1") ? .settled : .leaseLost },
            leases: leases,
            counts: QueueCounts(pending: counts[0], processing: counts[1], scheduled: counts[2], dead: 0),
            control: QueueControl(paused: marks[0] == 1, cancelled: marks[1] == 1),
            retryAfter: marks[2] > 0 ? .milliseconds(marks[2]) : nil)
    }

    /// The items of leases by token, read with plain `HMGET`s of at most about
    /// `replyByteBudget` each (`size` is each item's length); nil where the lease is gone.
    func leaseItems(_ entries: [(token: String, size: Int)]) async throws -> [[UInt8]?] {
        var items: [[UInt8]?] = []
        items.reserveCapacity(entries.count)
        let budget = replyByteBudget
        var start = 0
        while start < entries.count {
            let end = Self.page(from: start, count: entries.count, most: 1000, budget: budget) { entries[$0].size }.end
            let reply = try await client.send(["HMGET", RESPArgument(keys.leaseItems)] + entries[start..<end].map { RESPArgument($0.token) })
            guard let values = reply.array, values.count == end - start else {
                throw RedisError.unexpectedReply("HMGET \(keys.leaseItems) -> \(reply)")
            }
            items += values.map(\.bytes)
            start = end
        }
        return items
    }

    /// The end of the page that starts at `start` of `count` elements: at most `most` elements
    /// whose sizes add up to at most `budget`, but always at least one; and those sizes' sum.
    static func page(from start: Int, count: Int, most: Int, budget: Int, size: (Int) -> Int) -> (end: Int, bytes: Int) {
        var end = start
        var bytes = 0
        while end < count, end - start < most, end == start || bytes + size(end) <= budget {
            bytes += size(end)
            end += 1
        }
        return (end, bytes)
    }

    /// The ``RedisScript/exchangeFields`` script arguments of one settlement (see
    /// ``RedisScript/exchange``), each a field of its own; a plain completion (no result to
    /// record, no attempts to clear) sends its kind `p` and its token alone
    /// (``RedisScript/plainCompletionFields``). A completion sends the item's hash
    /// only when it clears attempts (a retried item, or one with a checkpoint), and its attempt
    /// only when it has a result to record. A release or a failure carries the copy's latest
    /// checkpoint (`lease.checkpoint`: the worker puts the one its handler saved last there),
    /// stored for that copy's redelivery.
    private static func append(_ settlement: Settlement, to command: inout RESPCommand) {
        switch settlement {
        case let .complete(lease, result):
            // A checkpoint (handed over or saved) is deleted with the attempts.
            let clearsAttempts = lease.attempt > 1 || lease.checkpoint != nil
            if !clearsAttempts && result == nil {
                command.append("p")
                command.append(lease.token)
                return
            }
            command.append("c")
            command.append(lease.token)
            command.append(clearsAttempts ? SHA224.hex(lease.item.bytes) : "")
            command.append(result.map(StoredText.bounded) ?? "")
            command.append(result == nil ? "" : String(lease.attempt))
            command.append("")
            command.append("")
            command.append("")
        case let .fail(lease, error, disposition):
            command.append("f")
            command.append(lease.token)
            command.append(SHA224.hex(lease.item.bytes))
            command.append(StoredText.bounded(error))
            command.append("")
            switch disposition {
            case .deadLetter: command.append("")
            case let .retry(after): command.append(milliseconds(after))
            }
            appendCheckpoint(of: lease, to: &command)
        case let .release(lease):
            command.append("r")
            command.append(lease.token)
            command.append("")
            command.append("")
            command.append("")
            command.append("")
            appendCheckpoint(of: lease, to: &command)
        }
    }

    /// A settlement's last two fields: whether it carries a checkpoint (`1` or empty), and the
    /// checkpoint's bytes.
    private static func appendCheckpoint(of lease: Lease, to command: inout RESPCommand) {
        if let checkpoint = lease.checkpoint {
            command.append("1")
            command.append(bytes: checkpoint)
        } else {
            command.append("")
            command.append("")
        }
    }

    public func waitForWork(timeout: Duration) async throws {
        let ms = Self.milliseconds(timeout)
        guard ms > 0 else { return }
        let seconds = "\(ms / 1000)." + String(String(1000 + ms % 1000).dropFirst())
        _ = try await blocking.send(["BLMOVE", RESPArgument(name), RESPArgument(name), "RIGHT", "RIGHT", RESPArgument(seconds)],
                                    timeout: timeout + configuration.commandTimeout)
    }

    /// One script call per 2,000 leases (a few ms of Redis time each), each bounded by the
    /// request's timeout (default: the connection's command timeout); the checkpoints ride in
    /// the same script calls (a call carries at most about `replyByteBudget` bytes of them). A
    /// lease without a token (never issued) is not owned.
    public func renew(_ request: RenewRequest) async throws -> [Bool] {
        try await renewReadingControl(request).owned
    }

    /// ``renew(_:)``, with the pause and cancel marks of `NAME:control` read by the same
    /// script call (the last one's, when the leases take several); nil marks when there was
    /// no lease to renew.
    public func renewReadingControl(_ request: RenewRequest) async throws -> RenewReply {
        let leases = request.leases
        let checkpoints = request.checkpoints
        let duration = request.duration
        let timeout = request.timeout ?? configuration.commandTimeout
        let issued = leases.indices.filter { !leases[$0].token.isEmpty }
        guard !issued.isEmpty else { return RenewReply(owned: leases.map { _ in false }, control: nil) }
        var flags: [Bool] = []
        var control: QueueControl?
        flags.reserveCapacity(issued.count)
        var start = 0
        while start < issued.count {
            // At most 2,000 leases per call, and about `replyByteBudget` bytes of checkpoints.
            var end = start
            var bytes = 0
            while end < issued.count, end - start < 2000, end == start || bytes < replyByteBudget {
                let position = issued[end]
                if checkpoints.indices.contains(position) { bytes += checkpoints[position]?.count ?? 0 }
                end += 1
            }
            let chunk = issued[start..<end]
            let saves = chunk.enumerated().compactMap { offset, position -> (Int, [UInt8])? in
                guard checkpoints.indices.contains(position), let bytes = checkpoints[position] else { return nil }
                return (offset + 1, bytes)
            }
            start = end
            var command = command(.renew, capacity: chunk.count * 48 + saves.reduce(0) { $0 + $1.1.count + 16 })
            command.append(Swift.max(1, Self.milliseconds(duration)))
            command.append(chunk.count)
            for position in chunk { command.append(leases[position].token) }
            for (index, bytes) in saves {
                command.append(index)
                command.append(bytes: bytes)
            }
            let reply = try await run(.renew, command, timeout: timeout)
            guard let parts = reply.array, parts.count == 2, let values = parts[0].array,
                  let marks = parts[1].array?.compactMap(\.int), marks.count == 2 else {
                throw RedisError.unexpectedReply("renew -> \(reply)")
            }
            flags += (0..<chunk.count).map { index in values.indices.contains(index) && values[index].int == 1 }
            control = QueueControl(paused: marks[0] == 1, cancelled: marks[1] == 1)
        }
        var owned = flags.makeIterator()
        return RenewReply(owned: leases.map { $0.token.isEmpty ? false : owned.next() ?? false }, control: control)
    }

    public func counts() async throws -> QueueCounts {
        let values = try await rawCounts()
        return QueueCounts(pending: values[0], processing: values[1], leased: nil, scheduled: values[2],
                           dead: values[3], completed: values[4], workers: values[7])
    }

    /// The counts script's nine values (see ``RedisScript/counts``).
    func rawCounts() async throws -> [Int] {
        let reply = try await run(.counts, args: [])
        guard let values = reply.array?.compactMap(\.int), values.count == 9 else {
            throw RedisError.unexpectedReply("counts -> \(reply)")
        }
        return values
    }
}

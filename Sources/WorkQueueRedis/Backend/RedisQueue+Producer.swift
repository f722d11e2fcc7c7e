import WorkQueueSeam

/// The safe producer: `NAME:holds` (producers still filling the queue: one named hold each,
/// expiring on its own), `NAME:open` (the single mark of earlier versions, still honored, and
/// kept as a mirror of the holds for older workers) and `NAME:drained` (the Job's workers found
/// the queue drained and exited). Workers do not exit while any hold lives; pushes into a
/// drained queue are refused.
extension RedisQueue {
    /// What ``open(producer:ttl:reopen:)``, ``push(_:)`` and ``retryDeadLetters(reopen:)`` answer.
    public enum ProducerOutcome: Sendable, Equatable {
        /// Done; for a push, the pending count afterwards; for a retry, how many items moved.
        case done(Int)
        /// Refused: `NAME:drained` is set (the workers have exited); nothing was changed.
        case drained
    }

    /// One live hold on the queue, as ``holds()`` reads it.
    public struct Hold: Sendable, Equatable {
        /// The hold's name (`open --hold NAME`; a `push --keep-open`'s `host:pid:random`), or
        /// for a legacy mark the value an older version wrote (its producer id).
        public var name: String
        /// How long until it expires, in ms of the Redis clock (nil: a legacy mark without a TTL).
        public var millisecondsLeft: Int?
        /// True for a `NAME:open` mark written by an older version (not a mirror of the holds).
        public var isLegacyMark: Bool

        /// A hold as `NAME:holds` (or a legacy `NAME:open` mark) records it.
        public init(name: String, millisecondsLeft: Int?, isLegacyMark: Bool = false) {
            self.name = name
            self.millisecondsLeft = millisecondsLeft
            self.isLegacyMark = isLegacyMark
        }
    }

    /// What ``endHolds(_:legacyMark:)`` did.
    public struct HoldsEnded: Sendable, Equatable {
        /// Live holds ended (a legacy mark counting as one).
        public var ended: Int
        /// Live holds left (a legacy mark of an older version counting as one).
        public var remaining: Int

        /// How many holds a close ended, and how many others remain.
        public init(ended: Int, remaining: Int) {
            self.ended = ended
            self.remaining = remaining
        }
    }

    /// The worker's exit-0 decision, atomically: true (and `NAME:drained` set) when pending,
    /// processing and scheduled retries are empty and no producer holds the queue open (no
    /// live hold, no legacy `NAME:open`).
    public func finishIfDrained(session: String) async throws -> Bool {
        let reply = try await run(.finishIfDrained,
                                  args: [RESPArgument(session)])
        guard let value = reply.int else { throw RedisError.unexpectedReply("finish-if-drained -> \(reply)") }
        return value == 1
    }

    /// Adds or refreshes the hold named `producer` for `ttl`; other holds are not touched.
    /// With `reopen`, a drained queue's marker is deleted first; without, a drained queue is
    /// refused.
    public func open(producer: String, ttl: Duration, reopen: Bool) async throws -> ProducerOutcome {
        let reply = try await run(.open,
                                  args: [RESPArgument(producer), RESPArgument(Swift.max(1, Self.milliseconds(ttl))),
                                         RESPArgument(reopen ? "1" : "0")])
        guard let value = reply.int else { throw RedisError.unexpectedReply("open -> \(reply)") }
        return value == 1 ? .done(1) : .drained
    }

    /// Ends the hold named `producer` (and a legacy `NAME:open` whose value is that name), or
    /// with nil every hold and any legacy mark. Returns whether a live hold was ended.
    @discardableResult
    public func close(producer: String?) async throws -> Bool {
        try await endHolds(producer).ended > 0
    }

    /// Ends the hold named `name` (nil: every hold and any legacy mark); with `legacyMark`,
    /// also a `NAME:open` mark an older version wrote, whatever its value. The other holds stay.
    @discardableResult
    public func endHolds(_ name: String?, legacyMark: Bool = false) async throws -> HoldsEnded {
        let reply = try await run(.close,
                                  args: [RESPArgument(name ?? ""), RESPArgument(legacyMark ? "1" : "0")])
        guard let parts = reply.array, parts.count == 2, let ended = parts[0].int, let remaining = parts[1].int else {
            throw RedisError.unexpectedReply("close -> \(reply)")
        }
        return HoldsEnded(ended: ended, remaining: remaining)
    }

    /// The live holds, the one expiring last last; a legacy mark of an older version last of all.
    public func holds() async throws -> [Hold] {
        let reply = try await run(.holds, args: [])
        guard let parts = reply.array, parts.count == 3, let live = parts[0].array else {
            throw RedisError.unexpectedReply("holds -> \(reply)")
        }
        var holds: [Hold] = []
        var index = 0
        while index + 1 < live.count {
            guard let name = live[index].string, let left = live[index + 1].int else {
                throw RedisError.unexpectedReply("holds -> \(reply)")
            }
            holds.append(Hold(name: name, millisecondsLeft: left))
            index += 2
        }
        if let legacy = parts[1].string {
            let ttl = parts[2].int ?? -1
            holds.append(Hold(name: legacy, millisecondsLeft: ttl >= 0 ? ttl : nil, isLegacyMark: true))
        }
        return holds
    }

    /// Appends items to pending unless the queue was drained, in one step.
    public func push(_ items: [WorkItem]) async throws -> ProducerOutcome {
        guard !items.isEmpty else { return .done(try await client.send(["LLEN", RESPArgument(name)]).int ?? 0) }
        let reply = try await run(.guardedPush, args: items.map { RESPArgument($0.bytes) })
        guard let value = reply.int else { throw RedisError.unexpectedReply("guarded-push -> \(reply)") }
        return value < 0 ? .drained : .done(value)
    }

    /// Deletes `NAME:drained` (for `push --reopen`). Returns whether it was set.
    @discardableResult
    public func clearDrained() async throws -> Bool {
        try await client.send(["DEL", RESPArgument(keys.drained)]).int == 1
    }

    /// The producer marks: one producer holding the queue open (the hold expiring last; nil:
    /// nobody; ``holds()`` lists them all) and who found it drained.
    public func producerMarks() async throws -> (open: String?, drained: String?) {
        let holds = try await holds()
        let drained = try await client.send(["GET", RESPArgument(keys.drained)]).string
        let named = holds.filter { !$0.isLegacyMark }
        return ((named.last ?? holds.last)?.name, drained)
    }

    /// Waits until `replicas` replicas have acknowledged every write sent so far on the
    /// queue's connection (`WAIT`; in a cluster, the connection to the queue's master), at most
    /// `timeout`. Returns how many replicas did: fewer than asked means a failover now could
    /// lose those writes (Redis replicates asynchronously).
    public func waitForReplicas(_ replicas: Int, timeout: Duration) async throws -> Int {
        let milliseconds = Swift.max(1, Self.milliseconds(timeout))
        let reply: RESPValue
        do {
            // On the connection that pushed: in a cluster, the master of this queue's slot.
            reply = try await client.send(RESPCommand(["WAIT", RESPArgument(replicas), RESPArgument(milliseconds)]),
                                          routedBy: name, timeout: timeout + configuration.commandTimeout)
        } catch let error as RedisError {
            throw await classified(error)
        }
        guard let count = reply.int else { throw RedisError.unexpectedReply("WAIT -> \(reply)") }
        return count
    }
}

// MARK: Delayed and unique pushes

extension RedisQueue: EnqueueingWithOptions {
    /// Pushes `items` with `options` unless the queue was drained, in one step (script
    /// `push-with-options`): with a uniqueness window, an item whose SHA-224 is in `NAME:unique`
    /// with a window still running is skipped, the others are recorded there until `now +
    /// window`; with a delay, the items are added to the scheduled items (`NAME:retry`, due
    /// `now + delay` on the Redis clock, the delay rounded up to whole ms), else appended to
    /// pending. Returns nil when refused (`NAME:drained` is set; nothing was written).
    /// One call for all of `items`: send at most a few thousand at a time.
    public func push(_ items: [WorkItem], options: EnqueueOptions) async throws -> EnqueueReport? {
        var args: [RESPArgument] = []
        args.reserveCapacity(3 + items.count * (options.uniqueWindow == nil ? 1 : 2))
        var fields: [(String, Int)] = []
        if options.delay > .zero { fields.append(("delay", Self.millisecondsRoundedUp(options.delay))) }
        if let window = options.uniqueWindow { fields.append(("unique", Swift.max(1, Self.millisecondsRoundedUp(window)))) }
        args.append(RESPArgument(fields.count))
        for (option, value) in fields {
            args.append(RESPArgument(option))
            args.append(RESPArgument(value))
        }
        for item in items {
            if options.uniqueWindow != nil { args.append(RESPArgument(SHA224.digest(item.bytes))) }
            args.append(RESPArgument(item.bytes))
        }
        let reply = try await run(.pushWithOptions, args: args)
        guard let parts = reply.array, parts.count == 3, let pending = parts[0].int, let pushed = parts[1].int,
              let skipped = parts[2].int else {
            throw RedisError.unexpectedReply("push-with-options -> \(reply)")
        }
        return pending < 0 ? nil : EnqueueReport(pushed: pushed, skipped: skipped, pending: pending)
    }

    /// ``push(_:options:)`` for the seam: a drained queue throws
    /// ``ProducerError/queueDrained(queue:)`` (nothing was written).
    public func enqueue(_ items: [WorkItem], options: EnqueueOptions) async throws -> EnqueueReport {
        guard let report = try await push(items, options: options) else { throw ProducerError.queueDrained(queue: name) }
        return report
    }

    /// How long until the soonest scheduled item (a retry or a delayed push) is due, on the
    /// Redis clock: zero when one is due now, nil when nothing is scheduled (script `next-due`).
    public func nextDue() async throws -> Duration? {
        let reply = try await run(.nextDue, args: [])
        guard let value = reply.int else { return nil }
        return .milliseconds(Swift.max(0, value))
    }

    /// `duration` in whole ms, rounded up: a delay is never cut short.
    static func millisecondsRoundedUp(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        let whole = Int(clamping: seconds) &* 1000 &+ Int(attoseconds / 1_000_000_000_000_000)
        return Swift.max(0, attoseconds % 1_000_000_000_000_000 > 0 ? whole &+ 1 : whole)
    }
}

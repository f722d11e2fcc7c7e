import ArgumentParser
import WorkQueue
import WorkQueueRedis
#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One producer of a queue: pushes with the drained check, and (with keep-open) holds the
/// queue open with a hold of its own (`NAME:holds`), refreshing it every third of its TTL and
/// ending it when done; the other producers' holds are never touched.
final class Producer {
    /// The hold `open` and `close` take and end without --hold.
    static let operatorHold = "operator"

    /// Checks a hold name (`--hold`): 1 to 200 characters, none of them a space or a control
    /// character, so that it prints and pastes back into `close --hold` as it is.
    static func validate(hold: String?) throws {
        guard let hold else { return }
        guard !hold.isEmpty, hold.count <= 200,
              !hold.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.properties.generalCategory == .control })
        else {
            throw ValidationError("--hold must be 1 to 200 characters without spaces or control characters, e.g. --hold nightly-import")
        }
    }

    /// Checks `--ttl-seconds` (open, push --keep-open): 1 s to a day.
    static func validate(ttlSeconds: Double) throws {
        guard ttlSeconds.isFinite, ttlSeconds >= 1, ttlSeconds <= 86_400 else {
            throw ValidationError("--ttl-seconds must be between 1 and 86400")
        }
    }

    /// The queue's shards: one (the queue itself) unless `--shards`.
    let queues: [RedisQueue]
    let name: String
    /// The name of this producer's hold (`NAME:holds`): `--hold`, else `host:pid:random`.
    let id: String
    let ttl: Duration
    let keepsOpen: Bool
    /// `push --wait-replicas`: after each chunk, how many replicas must acknowledge it, and how
    /// long to wait for them (nil: no wait).
    var replicaWait: (replicas: Int, timeout: Duration)?
    /// Items pushed to each shard so far.
    private(set) var pushed: [Int]
    /// The shard the next item goes to: items go round-robin from a random shard.
    private var next: Int
    private let clock = ContinuousClock()
    private var lastRefresh: ContinuousClock.Instant
    private var holdsMark = false

    init(queues: [RedisQueue], name: String, ttl: Duration, keepsOpen: Bool, hold: String? = nil) {
        self.queues = queues
        self.name = name
        self.ttl = ttl
        self.keepsOpen = keepsOpen
        self.id = hold ?? Self.makeID()
        pushed = Array(repeating: 0, count: queues.count)
        next = Int.random(in: 0..<max(1, queues.count))
        lastRefresh = clock.now
    }

    /// `<host>:<pid>:<random>`, so that `status` (or `redis-cli zrange NAME:holds 0 -1`) tells
    /// who holds the queue.
    static func makeID() -> String {
        var host = [CChar](repeating: 0, count: 256)
        let hostname = gethostname(&host, host.count - 1) == 0
            ? String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "unknown"
        return "\(hostname):\(getpid()):\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
    }

    /// Adds or refreshes the hold `producer` on every shard, shard 0 first (workers check shard 0
    /// first, so a queue being opened is seen there). A drained shard refuses: the holds set so
    /// far are ended and ``CommandError/queueDrained(_:)`` names that shard.
    static func open(_ queues: [RedisQueue], producer: String, ttl: Duration, reopen: Bool) async throws {
        for (index, queue) in queues.enumerated() {
            guard try await queue.open(producer: producer, ttl: ttl, reopen: reopen) != .drained else {
                for earlier in queues[..<index].reversed() { _ = try? await earlier.close(producer: producer) }
                throw CommandError.queueDrained(queue.name)
            }
        }
    }

    /// Ends the hold `producer` (nil: every hold) on every shard, the last shard first and shard
    /// 0 last; with `legacyMark`, also a `NAME:open` mark an older version wrote. Returns what
    /// ended on shard 0 and what is left there (the shard the workers check first).
    @discardableResult
    static func close(_ queues: [RedisQueue], producer: String?, legacyMark: Bool = false) async throws -> RedisQueue.HoldsEnded {
        var result = RedisQueue.HoldsEnded(ended: 0, remaining: 0)
        for queue in queues.reversed() {
            let ended = try await queue.endHolds(producer, legacyMark: legacyMark)
            result = RedisQueue.HoldsEnded(ended: max(result.ended, ended.ended), remaining: ended.remaining)
        }
        return result
    }

    /// `operator (expires in 42 s)`, for messages; `queue` names a legacy mark's key.
    static func describe(_ hold: RedisQueue.Hold, queue: String) -> String {
        let expiry = hold.millisecondsLeft.map { "expires in \(($0 + 999) / 1000) s" } ?? "no expiry"
        return "\(hold.name) (\(hold.isLegacyMark ? "\(queue):open of an older version, " : "")\(expiry))"
    }

    /// Before the first item: takes its hold (with keep-open), or clears the drained
    /// marker (with reopen only). Throws ``CommandError/queueDrained(_:)`` for a drained queue
    /// without reopen.
    func begin(reopen: Bool) async throws {
        if keepsOpen {
            try await Self.open(queues, producer: id, ttl: ttl, reopen: reopen)
            holdsMark = true
            lastRefresh = clock.now
        } else if reopen {
            for queue in queues { try await queue.clearDrained() }
        }
    }

    /// Pushes `items` in chunks, spread item by item over the shards; refused once the queue
    /// (with shards: the shard the chunk goes to) is drained, with nothing of that chunk pushed.
    func push(_ items: [WorkItem], chunk: Int) async throws {
        if queues.count == 1 {
            try await push(items, to: 0, chunk: chunk)
        } else {
            var spread = [[WorkItem]](repeating: [], count: queues.count)
            for item in items {
                spread[next].append(item)
                next = (next + 1) % queues.count
            }
            for (index, part) in spread.enumerated() where !part.isEmpty {
                try await push(part, to: index, chunk: chunk)
            }
        }
        try await refreshIfDue()
    }

    private func push(_ items: [WorkItem], to index: Int, chunk: Int) async throws {
        var start = 0
        while start < items.count {
            let end = min(start + chunk, items.count)
            guard try await queues[index].push(Array(items[start..<end])) != .drained else {
                throw CommandError.queueDrained(queues[index].name)
            }
            pushed[index] += end - start
            start = end
            if let (replicas, timeout) = replicaWait {
                let acknowledged = try await queues[index].waitForReplicas(replicas, timeout: timeout)
                guard acknowledged >= replicas else {
                    let (seconds, attoseconds) = timeout.components
                    throw CommandError.replicasBehind(queue: queues[index].name, pushed: pushed.reduce(0, +), acknowledged: acknowledged, wanted: replicas,
                                                      seconds: Settings.format(Double(seconds) + Double(attoseconds) / 1e18))
                }
            }
        }
    }

    /// How long until the hold needs refreshing, for a bounded wait on input (1 s without one).
    var millisecondsUntilRefresh: Int32 {
        guard holdsMark else { return 1000 }
        let left = (lastRefresh + ttl / 3) - clock.now
        let milliseconds = left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000
        return Int32(clamping: max(0, min(milliseconds, 1000)))
    }

    /// Refreshes the hold once a third of its TTL has passed since the last time.
    func refreshIfDue() async throws {
        guard holdsMark, clock.now >= lastRefresh + ttl / 3 else { return }
        // Refused only if the hold expired (this process stalled longer than the TTL) and the
        // workers drained the queue meanwhile: they have exited.
        for queue in queues {
            guard try await queue.open(producer: id, ttl: ttl, reopen: false) != .drained else {
                holdsMark = false
                _ = try? await Self.close(queues, producer: id)
                throw CommandError.queueDrained(queue.name)
            }
        }
        lastRefresh = clock.now
    }

    /// Ends this producer's hold (another producer's stay). Safe to call more than once.
    func end() async throws {
        guard holdsMark else { return }
        holdsMark = false
        try await Self.close(queues, producer: id)
    }
}

import ArgumentParser
import WorkQueue
import WorkQueueRedis
#if canImport(Glibc)
import Glibc
#endif

/// One producer of a queue: pushes with the drained check, and (with keep-open) holds the
/// queue's open mark, refreshing it every third of its TTL and removing it when done.
final class Producer {
    /// Checks `--ttl-seconds` (open, push --keep-open): 1 s to a day.
    static func validate(ttlSeconds: Double) throws {
        guard ttlSeconds.isFinite, ttlSeconds >= 1, ttlSeconds <= 86_400 else {
            throw ValidationError("--ttl-seconds must be between 1 and 86400")
        }
    }

    /// The queue's shards: one (the queue itself) unless `--shards`.
    let queues: [RedisQueue]
    let name: String
    /// The value of `NAME:open` while this producer holds it.
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

    init(queues: [RedisQueue], name: String, ttl: Duration, keepsOpen: Bool) {
        self.queues = queues
        self.name = name
        self.ttl = ttl
        self.keepsOpen = keepsOpen
        self.id = Self.makeID()
        pushed = Array(repeating: 0, count: queues.count)
        next = Int.random(in: 0..<max(1, queues.count))
        lastRefresh = clock.now
    }

    /// `<host>:<pid>:<random>`, so that `redis-cli get NAME:open` tells who holds the queue.
    static func makeID() -> String {
        var host = [CChar](repeating: 0, count: 256)
        let hostname = gethostname(&host, host.count - 1) == 0
            ? String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "unknown"
        return "\(hostname):\(getpid()):\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
    }

    /// Marks every shard open, shard 0 first (workers check shard 0 first, so a queue being
    /// opened is seen there). A drained shard refuses: the marks set so far are removed and
    /// ``CommandError/queueDrained(_:)`` names that shard.
    static func open(_ queues: [RedisQueue], producer: String, ttl: Duration, reopen: Bool) async throws {
        for (index, queue) in queues.enumerated() {
            guard try await queue.open(producer: producer, ttl: ttl, reopen: reopen) != .drained else {
                for earlier in queues[..<index].reversed() { _ = try? await earlier.close(producer: producer) }
                throw CommandError.queueDrained(queue.name)
            }
        }
    }

    /// Removes the open marks of `producer` (nil: whichever), the last shard first and shard 0
    /// last. Returns whether any mark was removed.
    @discardableResult
    static func close(_ queues: [RedisQueue], producer: String?) async throws -> Bool {
        var removed = false
        for queue in queues.reversed() where try await queue.close(producer: producer) { removed = true }
        return removed
    }

    /// Before the first item: takes the open mark (with keep-open), or clears the drained
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

    /// How long until the mark needs refreshing, for a bounded wait on input (1 s without a mark).
    var millisecondsUntilRefresh: Int32 {
        guard holdsMark else { return 1000 }
        let left = (lastRefresh + ttl / 3) - clock.now
        let milliseconds = left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000
        return Int32(clamping: max(0, min(milliseconds, 1000)))
    }

    /// Refreshes the open marks once a third of their TTL has passed since the last time.
    func refreshIfDue() async throws {
        guard holdsMark, clock.now >= lastRefresh + ttl / 3 else { return }
        // Refused only if the mark expired (this process stalled longer than the TTL) and the
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

    /// Removes this producer's marks (another producer's stay). Safe to call more than once.
    func end() async throws {
        guard holdsMark else { return }
        holdsMark = false
        try await Self.close(queues, producer: id)
    }
}

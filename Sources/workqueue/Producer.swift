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

    let queue: RedisQueue
    let name: String
    /// The value of `NAME:open` while this producer holds it.
    let id: String
    let ttl: Duration
    let keepsOpen: Bool
    /// `push --wait-replicas`: after each chunk, how many replicas must acknowledge it, and how
    /// long to wait for them (nil: no wait).
    var replicaWait: (replicas: Int, timeout: Duration)?
    /// Items pushed so far by this producer.
    private(set) var pushed = 0
    private let clock = ContinuousClock()
    private var lastRefresh: ContinuousClock.Instant
    private var holdsMark = false

    init(queue: RedisQueue, name: String, ttl: Duration, keepsOpen: Bool) {
        self.queue = queue
        self.name = name
        self.ttl = ttl
        self.keepsOpen = keepsOpen
        self.id = Self.makeID()
        lastRefresh = clock.now
    }

    /// `<host>:<pid>:<random>`, so that `redis-cli get NAME:open` tells who holds the queue.
    static func makeID() -> String {
        var host = [CChar](repeating: 0, count: 256)
        let hostname = gethostname(&host, host.count - 1) == 0
            ? String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "unknown"
        return "\(hostname):\(getpid()):\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
    }

    /// Before the first item: takes the open mark (with keep-open), or clears the drained
    /// marker (with reopen only). Throws ``CommandError/queueDrained(_:)`` for a drained queue
    /// without reopen.
    func begin(reopen: Bool) async throws {
        if keepsOpen {
            guard try await queue.open(producer: id, ttl: ttl, reopen: reopen) != .drained else {
                throw CommandError.queueDrained(name)
            }
            holdsMark = true
            lastRefresh = clock.now
        } else if reopen {
            try await queue.clearDrained()
        }
    }

    /// Pushes `items` in chunks; refused (with nothing of this call pushed) once the queue is
    /// drained.
    func push(_ items: [WorkItem], chunk: Int) async throws {
        var start = 0
        while start < items.count {
            let end = min(start + chunk, items.count)
            guard try await queue.push(Array(items[start..<end])) != .drained else { throw CommandError.queueDrained(name) }
            pushed += end - start
            start = end
            if let (replicas, timeout) = replicaWait {
                let acknowledged = try await queue.waitForReplicas(replicas, timeout: timeout)
                guard acknowledged >= replicas else {
                    let (seconds, attoseconds) = timeout.components
                    throw CommandError.replicasBehind(queue: name, pushed: pushed, acknowledged: acknowledged, wanted: replicas,
                                                      seconds: Settings.format(Double(seconds) + Double(attoseconds) / 1e18))
                }
            }
        }
        try await refreshIfDue()
    }

    /// How long until the mark needs refreshing, for a bounded wait on input (1 s without a mark).
    var millisecondsUntilRefresh: Int32 {
        guard holdsMark else { return 1000 }
        let left = (lastRefresh + ttl / 3) - clock.now
        let milliseconds = left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000
        return Int32(clamping: max(0, min(milliseconds, 1000)))
    }

    /// Refreshes the open mark once a third of its TTL has passed since the last time.
    func refreshIfDue() async throws {
        guard holdsMark, clock.now >= lastRefresh + ttl / 3 else { return }
        // Refused only if the mark expired (this process stalled longer than the TTL) and the
        // workers drained the queue meanwhile: they have exited.
        guard try await queue.open(producer: id, ttl: ttl, reopen: false) != .drained else {
            holdsMark = false
            throw CommandError.queueDrained(name)
        }
        lastRefresh = clock.now
    }

    /// Removes this producer's mark (another producer's stays). Safe to call more than once.
    func end() async throws {
        guard holdsMark else { return }
        holdsMark = false
        try await queue.close(producer: id)
    }
}

/// An operator's hold on a queue (`workqueue pause`, `workqueue cancel`), as the backend read
/// it: the take reads it in the same atomic step, so a worker learns of it with its next call.
public struct QueueControl: Sendable, Hashable, Codable {
    /// `pause`: no worker takes new items; items in flight finish and renew; workers stay up.
    public var paused: Bool
    /// `cancel`: the job is ended: nothing is taken, pending items were moved aside (see
    /// ``QueueControlling/cancelPage(max:mark:)``), in-flight handlers are cancelled with
    /// `CancellationReason.jobCancelled` and workers stop with `WorkerStopReason.cancelled`.
    public var cancelled: Bool
    /// Items moved aside by a cancel, waiting to be restored (nil where not read).
    public var cancelledItems: Int?

    /// A control state; the default is a queue running normally.
    public init(paused: Bool = false, cancelled: Bool = false, cancelledItems: Int? = nil) {
        self.paused = paused
        self.cancelled = cancelled
        self.cancelledItems = cancelledItems
    }

    /// Whether the take hands out nothing (paused or cancelled).
    public var holdsTakes: Bool { paused || cancelled }
}

/// What one page of a cancel or a restore did (``QueueControlling/cancelPage(max:mark:)``,
/// ``QueueControlling/restorePage(max:clearCancel:hold:)``). A page is bounded by count and by
/// bytes, so a short page does not mean the end: page while ``remaining`` is above zero.
public struct ControlPage: Sendable, Hashable {
    /// Items the page moved.
    public var moved: Int
    /// Items still to move: for a cancel, pending items and scheduled retries; for a restore,
    /// the items still aside.
    public var remaining: Int
    /// Whether the queue is marked cancelled after the page.
    public var cancelled: Bool

    /// A page that moved `moved` items and left `remaining`, the mark as given.
    public init(moved: Int, remaining: Int, cancelled: Bool) {
        self.moved = moved
        self.remaining = remaining
        self.cancelled = cancelled
    }
}

/// A fleet-wide limit on how many items the workers of a queue start: `--rate-limit N/s` or
/// `N/m`. The backend enforces it inside the take (GCRA, see ``RateLimiter``).
public struct RateLimit: Sendable, Hashable, CustomStringConvertible {
    /// Items allowed per second (a per-minute limit is divided by 60).
    public let perSecond: Double
    /// How the limit was written (`200/s`, `30/m`).
    public let text: String

    /// A limit of `perSecond` items per second; nil when not positive or not finite.
    public init?(perSecond: Double) {
        guard perSecond.isFinite, perSecond > 0 else { return nil }
        self.perSecond = perSecond
        self.text = "\(perSecond)/s"
    }

    /// Parses `N/s`, `N/m` (also `N/sec`, `N/min`, `N/second`, `N/minute`) with N a positive
    /// number; nil for anything else.
    public init?(parsing text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let count = Double(parts[0].trimmingSpaces), count.isFinite, count > 0 else { return nil }
        let seconds: Double
        switch parts[1].trimmingSpaces.lowercased() {
        case "s", "sec", "second": seconds = 1
        case "m", "min", "minute": seconds = 60
        default: return nil
        }
        self.perSecond = count / seconds
        self.text = text
    }

    /// The time between two items at the limit, in microseconds.
    public var intervalMicroseconds: Double { 1_000_000 / perSecond }

    /// How many items may start at once after an idle spell: a tenth of a second's worth, at
    /// least 1. It bounds how far the rate over a short window can exceed the limit.
    public var burst: Int { Swift.max(1, Int((perSecond / 10).rounded(.down))) }

    /// This limit divided among `parts` (the shards of a queue, each enforcing its share).
    public func divided(by parts: Int) -> RateLimit {
        RateLimit(perSecond: perSecond / Double(Swift.max(1, parts))) ?? self
    }

    /// How the limit was written.
    public var description: String { text }
}

extension Substring {
    fileprivate var trimmingSpaces: Substring {
        var text = self
        while text.first == " " { text.removeFirst() }
        while text.last == " " { text.removeLast() }
        return text
    }
}

/// The arithmetic of the fleet-wide rate limit, written once in Swift: the generic cell rate
/// algorithm (GCRA) over a batch. The in-memory fake calls it; the Redis take script does the
/// same in Lua on `NAME:rate` (it runs inside Redis, atomic with the take), and
/// `RateLimitAgreementTests` checks that both agree on a table of inputs.
public enum RateLimiter {
    /// What one take may start.
    public struct Grant: Sendable, Hashable {
        /// Items the take may start now (at most what it asked for).
        public var allowed: Int
        /// When nothing is allowed: microseconds until one item is.
        public var waitMicroseconds: Double
    }

    /// How many of `want` items may start at `now` (microseconds) with the theoretical arrival
    /// time `tat` (nil for none yet), `interval` microseconds between items and `burst` items
    /// at once at most.
    public static func grant(tat: Double?, now: Double, interval: Double, burst: Int, want: Int) -> Grant {
        let start = Swift.max(tat ?? now, now)
        let tolerance = interval * Double(Swift.max(1, burst) - 1)
        let ahead = start - now
        guard ahead <= tolerance else { return Grant(allowed: 0, waitMicroseconds: ahead - tolerance) }
        let room = Int(((tolerance - ahead) / interval).rounded(.down)) + 1
        let allowed = Swift.max(0, Swift.min(want, room))
        return Grant(allowed: allowed, waitMicroseconds: allowed > 0 ? 0 : interval)
    }

    /// The theoretical arrival time after `taken` items started at `now`.
    public static func advance(tat: Double?, now: Double, interval: Double, taken: Int) -> Double {
        Swift.max(tat ?? now, now) + Double(taken) * interval
    }

    /// After a take the limit cut short (items still pending): milliseconds until the next item
    /// may start, at least 1, with `tat` the theoretical arrival time after that take.
    public static func waitMilliseconds(tat: Double, now: Double, interval: Double, burst: Int) -> Int {
        let tolerance = interval * Double(Swift.max(1, burst) - 1)
        return Swift.max(1, Int(((tat - tolerance - now) / 1000).rounded(.up)))
    }
}

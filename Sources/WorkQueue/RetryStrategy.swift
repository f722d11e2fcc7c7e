/// How long to wait before retrying a failed item.
public struct RetryStrategy: Sendable {
    private let delayForAttempt: @Sendable (_ failedAttempt: Int) -> Duration

    /// A strategy from a function of the attempt that just failed (1-based).
    public init(_ delayForAttempt: @escaping @Sendable (_ failedAttempt: Int) -> Duration) {
        self.delayForAttempt = delayForAttempt
    }

    /// The delay after `failedAttempt` failed. Never negative.
    public func delay(afterAttempt failedAttempt: Int) -> Duration {
        max(.zero, delayForAttempt(failedAttempt))
    }

    /// `base * 2^(attempt-1)`, capped at `maxDelay`, then scaled by a random factor in
    /// `[1 - jitter, 1]` so that workers failing together do not retry together.
    public static func exponentialJitter(
        base: Duration = .seconds(1),
        maxDelay: Duration = .seconds(300),
        jitter: Double = 0.5
    ) -> RetryStrategy {
        let jitter = min(max(jitter, 0), 1)
        return RetryStrategy { attempt in
            let exponent = min(max(attempt - 1, 0), 62)
            let seconds = min(base.seconds * Double(UInt64(1) << UInt64(exponent)), maxDelay.seconds)
            let factor = jitter == 0 ? 1 : Double.random(in: (1 - jitter)...1)
            return .nanoseconds(Int64((seconds * factor * 1e9).rounded()))
        }
    }

    /// The same delay after every failure.
    public static func constant(_ delay: Duration) -> RetryStrategy {
        RetryStrategy { _ in delay }
    }

    /// Retry at once.
    public static var immediate: RetryStrategy { .constant(.zero) }
}

extension Duration {
    /// The duration in seconds, as a `Double`.
    public var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }
}

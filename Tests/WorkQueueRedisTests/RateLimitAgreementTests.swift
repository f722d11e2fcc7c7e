import Logging
import Testing
import TestSupport
import WorkQueue
@testable import WorkQueueRedis

/// The fleet-wide rate limit's arithmetic is written once in Swift (`RateLimiter`, which the
/// in-memory fake calls) and once in Lua inside the Redis take (it must run in Redis, atomic
/// with the take). Both must agree: for each row of a table, the row's theoretical arrival
/// time is stored in `NAME:rate` relative to Redis's clock, a take asks for `want` items of
/// `pending`, and what the Lua granted (items, the advised wait, the new arrival time) is
/// compared with `RateLimiter`'s answer for the same inputs. The rows keep every boundary at
/// least 15 ms away from the inputs, so the time between setting the state and the take
/// (a local round trip) cannot change the count.
@Suite struct RateLimitAgreementTests {
    struct Row: Sendable, CustomTestStringConvertible {
        /// The limit, as `--rate-limit` takes it.
        var rate: String
        /// The stored arrival time, ms from Redis's now (nil: no state yet, an idle queue).
        var aheadMilliseconds: Int?
        var want: Int
        var pending: Int
        var testDescription: String {
            "\(rate), state \(aheadMilliseconds.map { "\($0) ms ahead" } ?? "none"), want \(want) of \(pending)"
        }
    }

    static let rows: [Row] = [
        Row(rate: "10/s", aheadMilliseconds: nil, want: 5, pending: 10),     // burst 1, cut: wait a full interval
        Row(rate: "200/s", aheadMilliseconds: nil, want: 100, pending: 100), // the burst (20), cut
        Row(rate: "200/s", aheadMilliseconds: nil, want: 3, pending: 100),   // less than the burst: all of it
        Row(rate: "200/s", aheadMilliseconds: nil, want: 50, pending: 2),    // fewer pending than allowed: no wait
        Row(rate: "10/s", aheadMilliseconds: -5000, want: 5, pending: 10),   // a state in the past counts as now
        Row(rate: "10/s", aheadMilliseconds: 50, want: 5, pending: 10),      // ahead of the tolerance: nothing
        Row(rate: "20/s", aheadMilliseconds: 25, want: 5, pending: 10),      // burst 2, half a slot used: one
        Row(rate: "30/s", aheadMilliseconds: 17, want: 5, pending: 10),      // burst 3: two
        Row(rate: "20/s", aheadMilliseconds: 75, want: 5, pending: 10),      // past the tolerance: nothing
    ]

    /// Stores the arrival time `ahead` µs after Redis's now and returns that now (µs), in one step.
    static let setState = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
        redis.call('SET', KEYS[1], string.format('%.0f', now + tonumber(ARGV[1])), 'PX', 60000)
        return tostring(now)
        """

    @Test(arguments: rows)
    func theLuaTakeAgreesWithRateLimiter(_ row: Row) async throws {
        try await LocalRedis.with { server in
            let limit = try #require(RateLimit(parsing: row.rate))
            try await server.cli(["rpush", "agree"] + (0..<row.pending).map { "i\($0)" })
            let queue = try await RedisQueue.connect(name: "agree", configuration: server.configuration,
                                                     options: .init(rateLimit: limit))
            let raw = try await RedisClient.connect(server.configuration, logger: Logger(label: "test"))
            do {
                var tat: Double?
                var now: Double?
                if let ahead = row.aheadMilliseconds {
                    let reply = try await raw.send(["EVAL", RESPArgument(Self.setState), "1", "agree:rate",
                                                    RESPArgument(String(ahead * 1000))])
                    let redisNow: Double = try #require(reply.string.flatMap(Double.init))
                    now = redisNow
                    tat = redisNow + Double(ahead * 1000)
                }
                let result = try await queue.exchange([], lease: row.want, session: "s", duration: .seconds(30))
                // Swift's answer for the same inputs (an idle queue: the take's own now).
                let at = now ?? 0
                let grant = RateLimiter.grant(tat: tat ?? at, now: at, interval: limit.intervalMicroseconds, burst: limit.burst,
                                              want: row.want)
                let taken = Swift.min(grant.allowed, row.pending)
                #expect(result.leases.count == taken, "items granted")
                let stored = try await raw.send(["GET", "agree:rate"]).string.flatMap(Double.init)
                if taken > 0 {
                    let expected = RateLimiter.advance(tat: tat ?? at, now: at, interval: limit.intervalMicroseconds, taken: taken)
                    let value = try #require(stored)
                    if let tat, tat > at {
                        // A state ahead of now: advanced from itself, exactly (the Lua stores whole µs).
                        #expect(abs(value - expected) <= 1, "arrival time \(value) vs \(expected)")
                    } else if now != nil {
                        // From the take's own now, a little after ours.
                        #expect(value >= expected - 1 && value <= expected + 15_000, "arrival time \(value) vs \(expected)")
                    }
                }
                let cut = grant.allowed < row.want && taken == grant.allowed && row.pending > taken
                if cut {
                    let after = RateLimiter.advance(tat: tat ?? at, now: at, interval: limit.intervalMicroseconds, taken: taken)
                    let wait = RateLimiter.waitMilliseconds(tat: after, now: at, interval: limit.intervalMicroseconds, burst: limit.burst)
                    let advised = try #require(result.retryAfter, "a take the limit cut says how long to wait")
                    if tat == nil || (tat ?? 0) <= at {
                        // The arrival time and the wait come from the same now: exact.
                        #expect(advised == .milliseconds(wait), "wait \(advised) vs \(wait) ms")
                    } else {
                        // The take ran a little after our now: the wait is that much shorter.
                        #expect(advised <= .milliseconds(wait) && advised >= .milliseconds(Swift.max(1, wait - 15)),
                                "wait \(advised) vs \(wait) ms")
                    }
                } else {
                    #expect(result.retryAfter == nil, "no wait when the limit did not cut the take")
                }
            } catch {
                await raw.close()
                await queue.close()
                throw error
            }
            await raw.close()
            await queue.close()
        }
    }
}

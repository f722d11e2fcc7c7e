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
/// compared with `RateLimiter`'s answer for the same inputs. The take's own clock reading
/// lies between two readings taken just before and just after it; the answer is compared
/// when `RateLimiter` gives the same count for both ends (else the row is tried again, at
/// most twenty times: on a loaded machine the window may hold a boundary of the limit).
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
        Row(rate: "1/s", aheadMilliseconds: 500, want: 5, pending: 10),      // ahead of the tolerance: nothing
        Row(rate: "1/s", aheadMilliseconds: -500, want: 5, pending: 10),     // just in the past: one
        Row(rate: "20/s", aheadMilliseconds: 25, want: 5, pending: 10),      // burst 2, half a slot used: one
        Row(rate: "30/s", aheadMilliseconds: 17, want: 5, pending: 10),      // burst 3: two
        Row(rate: "20/s", aheadMilliseconds: 75, want: 5, pending: 10),      // past the tolerance: nothing
    ]

    /// Stores the arrival time `ahead` µs after Redis's now (none when `ahead` is empty) and
    /// returns that now (µs), in one step.
    static let setState = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
        if ARGV[1] ~= '' then
          redis.call('SET', KEYS[1], string.format('%.0f', now + tonumber(ARGV[1])), 'PX', 60000)
        end
        return string.format('%.0f', now)
        """

    /// Returns Redis's now (µs) and the stored arrival time (nil when none), in one step.
    static let readState = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
        return { string.format('%.0f', now), redis.call('GET', KEYS[1]) }
        """

    @Test(arguments: rows)
    func theLuaTakeAgreesWithRateLimiter(_ row: Row) async throws {
        try await LocalRedis.with { server in
            let limit = try #require(RateLimit(parsing: row.rate))
            let interval = limit.intervalMicroseconds
            let raw = try await RedisClient.connect(server.configuration, logger: Logger(label: "test"))
            do {
                var compared = false
                for attempt in 0..<20 where !compared {
                    let name = "agree\(attempt)"
                    try await server.cli(["rpush", name] + (0..<row.pending).map { "i\($0)" })
                    let queue = try await RedisQueue.connect(name: name, configuration: server.configuration,
                                                             options: .init(rateLimit: limit))
                    let ahead = row.aheadMilliseconds.map { String($0 * 1000) } ?? ""
                    let before = try #require(try await raw.send(["EVAL", RESPArgument(Self.setState), "1", RESPArgument(name + ":rate"),
                                                                  RESPArgument(ahead)]).string.flatMap(Double.init))
                    let result: ExchangeResult
                    do {
                        result = try await queue.exchange([], lease: row.want, session: "s", duration: .seconds(30))
                    } catch {
                        await queue.close()
                        throw error
                    }
                    await queue.close()
                    // The clock and the state in one step (the state expires a second after it
                    // is in the past: a window longer than that cannot be compared).
                    let reading = try await raw.send(["EVAL", RESPArgument(Self.readState), "1", RESPArgument(name + ":rate")]).array ?? []
                    let after = try #require(reading.first?.string.flatMap(Double.init))
                    let stored = reading.count > 1 ? reading[1].string.flatMap(Double.init) : nil
                    guard after - before < 500_000 else { continue }
                    let tat = row.aheadMilliseconds.map { before + Double($0 * 1000) }
                    // RateLimiter at both ends of the window in which the take read its clock.
                    let early = RateLimiter.grant(tat: tat, now: before, interval: interval, burst: limit.burst, want: row.want)
                    let late = RateLimiter.grant(tat: tat, now: after, interval: interval, burst: limit.burst, want: row.want)
                    guard early.allowed == late.allowed else { continue }
                    compared = true
                    let taken = Swift.min(early.allowed, row.pending)
                    #expect(result.leases.count == taken, "items granted")
                    let low = RateLimiter.advance(tat: tat, now: before, interval: interval, taken: taken)
                    let high = RateLimiter.advance(tat: tat, now: after, interval: interval, taken: taken)
                    if taken > 0 {
                        let value = try #require(stored, "the take stored its arrival time")
                        #expect(value >= low - 1 && value <= high + 1, "arrival time \(value) in \(low)...\(high)")
                    } else {
                        #expect(stored == tat.map { $0.rounded() }, "a take that started nothing leaves the state as it was")
                    }
                    let cut = early.allowed < row.want && taken == early.allowed && row.pending > taken
                    if cut {
                        let most = RateLimiter.waitMilliseconds(tat: high, now: before, interval: interval, burst: limit.burst)
                        let least = RateLimiter.waitMilliseconds(tat: low, now: after, interval: interval, burst: limit.burst)
                        let advised = try #require(result.retryAfter, "a take the limit cut says how long to wait")
                        #expect(advised >= .milliseconds(least) && advised <= .milliseconds(most),
                                "wait \(advised) in \(least)...\(most) ms")
                    } else {
                        #expect(result.retryAfter == nil, "no wait when the limit did not cut the take")
                    }
                }
                #expect(compared, "twenty windows in a row held a boundary of the limit")
            } catch {
                await raw.close()
                throw error
            }
            await raw.close()
        }
    }
}

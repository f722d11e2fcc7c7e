import Foundation
import Testing
import TestSupport

/// `status --watch` rides out Redis errors, showing them, within its own budget.
@Suite struct StatusWatchTests {
    @Test func aRedisRestartIsShownAndTheWatchGoesOn() async throws {
        try await LocalRedis.with { redis in
            try await redis.cli("rpush", "watched", "a")
            let wq = try Workqueue(redis)
            let watch = try wq.start(["status", "--queue", "watched", "--watch", "--interval", "0.1"])
            #expect(try await watch.waitForStdout(containing: "..."), "\(watch.stdout)")
            await redis.stop()
            #expect(try await watch.waitForStdout(containing: "Redis error, retrying"), "\(watch.stdout)\n\(watch.stderr)")
            #expect(watch.poll() == nil, "the watch ended on a transient error: \(watch.stderr)")
            // The restarted server is empty: the queue is drained, and the watch ends with 0.
            try await redis.restart()
            #expect(try await watch.wait(timeout: .seconds(20)) == .exited(0), "\(watch.stdout)\n\(watch.stderr)")
        }
    }

    @Test func theWatchGivesUpAfterItsRetryBudget() async throws {
        try await LocalRedis.with { redis in
            try await redis.cli("rpush", "watched", "a")
            let wq = try Workqueue(redis)
            let watch = try wq.start(["status", "--queue", "watched", "--watch", "--interval", "0.1", "--retry-seconds", "1"])
            #expect(try await watch.waitForStdout(containing: "..."), "\(watch.stdout)")
            await redis.stop()
            let clock = ContinuousClock()
            let started = clock.now
            #expect(try await watch.wait(timeout: .seconds(30)) == .exited(1), "\(watch.stderr)")
            #expect(clock.now - started < .seconds(15))
            #expect(watch.stdout.contains("Redis error, retrying"))
        }
    }
}

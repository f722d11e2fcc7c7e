import Synchronization
import Testing
import WorkQueue
import WorkQueueTesting

@Suite struct TestClockTests {
    @Test func startsAtZeroAndAdvances() async {
        let clock = TestClock()
        #expect(clock.now == WorkInstant(sinceOrigin: .zero))
        await clock.advance(by: .seconds(3))
        #expect(clock.now == WorkInstant(sinceOrigin: .seconds(3)))
        await clock.advance(to: WorkInstant(sinceOrigin: .seconds(10)))
        #expect(clock.now == WorkInstant(sinceOrigin: .seconds(10)))
        await clock.advance(to: WorkInstant(sinceOrigin: .seconds(1)))
        #expect(clock.now == WorkInstant(sinceOrigin: .seconds(10)), "time never goes backwards")
    }

    @Test func sleepReturnsAtOnceForPastDeadline() async throws {
        let clock = TestClock()
        await clock.advance(by: .seconds(5))
        try await clock.sleep(until: WorkInstant(sinceOrigin: .seconds(5)))
        try await clock.sleep(until: WorkInstant(sinceOrigin: .seconds(1)))
        #expect(clock.sleeperCount == 0)
    }

    @Test func sleeperResumesOnlyWhenDeadlinePasses() async throws {
        let clock = TestClock()
        let woke = Mutex(false)
        let sleeper = Task {
            try await clock.sleep(for: .seconds(10))
            woke.withLock { $0 = true }
        }
        #expect(await clock.waitForSleepers(atLeast: 1))
        await clock.advance(by: .seconds(9))
        #expect(!woke.withLock { $0 })
        #expect(clock.sleeperCount == 1)
        await clock.advance(by: .seconds(1))
        try await sleeper.value
        #expect(woke.withLock { $0 })
        #expect(clock.sleeperCount == 0)
    }

    @Test func sleepersResumeInDeadlineOrder() async throws {
        let clock = TestClock()
        let order = Recorder()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, seconds) in [30, 10, 20].enumerated() {
                group.addTask {
                    try await clock.sleep(until: WorkInstant(sinceOrigin: .seconds(seconds)))
                    order.values.withLock { $0.append(seconds) }
                }
                #expect(await clock.waitForSleepers(atLeast: index + 1))
            }
            // One deadline at a time: each advance wakes exactly the sleepers due by then (the
            // order in which tasks woken together run is the scheduler's, not the clock's).
            for (step, expected) in [(15, [10]), (10, [10, 20]), (35, [10, 20, 30])] {
                await clock.advance(by: .seconds(step))
                for _ in 0..<5_000 where order.values.withLock({ $0 }) != expected {
                    try await Task.sleep(for: .milliseconds(1))
                }
                #expect(order.values.withLock { $0 } == expected)
            }
            try await group.waitForAll()
        }
    }

    @Test func cancellationThrowsPromptlyAndRemovesTheSleeper() async throws {
        let clock = TestClock()
        let sleeper = Task { try await clock.sleep(for: .seconds(100)) }
        #expect(await clock.waitForSleepers(atLeast: 1))
        sleeper.cancel()
        await #expect(throws: CancellationError.self) { try await sleeper.value }
        #expect(clock.sleeperCount == 0)
    }

    @Test func alreadyCancelledTaskThrowsWithoutParking() async throws {
        let clock = TestClock()
        let sleeper = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await clock.sleep(for: .seconds(100))
        }
        await #expect(throws: CancellationError.self) { try await sleeper.value }
        #expect(clock.sleeperCount == 0)
    }

    @Test func waitForSleepersGivesUpWhenNeverReached() async {
        let clock = TestClock()
        #expect(await clock.waitForSleepers(atLeast: 1, maxYields: 20) == false)
    }
}

/// Records wake-up order across tasks.
private final class Recorder: Sendable {
    let values = Mutex<[Int]>([])
}

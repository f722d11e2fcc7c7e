import Synchronization
import Testing
import WorkQueue
import WorkQueueTesting

/// Pause, resume, cancel and the rate limit: the limiter's arithmetic as a pure function, the
/// fake's take on a test clock, and the runner's reaction, all without wall-clock assertions.
@Suite struct QueueControlTests {
    // MARK: The limiter's arithmetic

    @Test func rateLimitsParseAndBadOnesAreRefused() {
        #expect(RateLimit(parsing: "200/s")?.perSecond == 200)
        #expect(RateLimit(parsing: "30/m")?.perSecond == 0.5)
        #expect(RateLimit(parsing: "1.5/sec")?.perSecond == 1.5)
        #expect(RateLimit(parsing: "120/minute")?.perSecond == 2)
        for bad in ["200", "0/s", "-5/s", "fast", "200/h", "/s", "200/", "nan/s", "inf/s", "1/s/s"] {
            #expect(RateLimit(parsing: bad) == nil, "\(bad)")
        }
        #expect(RateLimit(parsing: "200/s")?.burst == 20)
        #expect(RateLimit(parsing: "5/s")?.burst == 1)
        #expect(RateLimit(parsing: "200/s")?.divided(by: 4).perSecond == 50)
        #expect(RateLimit(parsing: "200/s")?.intervalMicroseconds == 5000)
    }

    @Test func aBurstIsBoundedThenOneItemPerInterval() {
        let interval = 5000.0  // 200/s
        // Idle: the whole burst at once, no more.
        var grant = RateLimiter.grant(tat: nil, now: 1_000_000, interval: interval, burst: 20, want: 100)
        #expect(grant.allowed == 20)
        var tat = RateLimiter.advance(tat: nil, now: 1_000_000, interval: interval, taken: 20)
        #expect(tat == 1_100_000)
        // At once again: nothing; the wait is one interval.
        grant = RateLimiter.grant(tat: tat, now: 1_000_000, interval: interval, burst: 20, want: 100)
        #expect(grant.allowed == 0)
        #expect(grant.waitMicroseconds == 5000)
        // Two intervals later: two items.
        grant = RateLimiter.grant(tat: tat, now: 1_010_000, interval: interval, burst: 20, want: 100)
        #expect(grant.allowed == 2)
        tat = RateLimiter.advance(tat: tat, now: 1_010_000, interval: interval, taken: 2)
        #expect(tat == 1_110_000)
        // Asked for fewer than allowed: what was asked.
        grant = RateLimiter.grant(tat: nil, now: 0, interval: interval, burst: 20, want: 3)
        #expect(grant.allowed == 3)
    }

    @Test func overAnyWindowTheLimiterStartsAtMostRateTimesTimePlusTheBurst() {
        // Greedy takers asking every 0.7 ms for 10 s of simulated time at 200/s, burst 20.
        let interval = 5000.0
        var tat: Double?
        var starts: [Double] = []
        var now = 0.0
        while now < 10_000_000 {
            let grant = RateLimiter.grant(tat: tat, now: now, interval: interval, burst: 20, want: 50)
            if grant.allowed > 0 {
                tat = RateLimiter.advance(tat: tat, now: now, interval: interval, taken: grant.allowed)
                starts += Array(repeating: now, count: grant.allowed)
            }
            now += 700
        }
        // 10 s at 200/s plus the first burst; and the sustained rate is the limit.
        #expect(starts.count <= 2000 + 20)
        #expect(starts.count >= 1990)
        for window in stride(from: 0.0, to: 9_000_000, by: 250_000) {
            let inWindow = starts.filter { $0 >= window && $0 < window + 1_000_000 }.count
            #expect(inWindow <= 200 + 20, "window at \(window) µs: \(inWindow)")
        }
    }

    // MARK: The fake's take on a test clock

    @Test func theFakeTakesAtMostTheLimitAndSaysHowLongToWait() async throws {
        let clock = TestClock()
        let items = (0..<100).map { WorkItem("\($0)") }
        let queue = InMemoryQueue(items: items, clock: clock, rateLimit: RateLimit(parsing: "100/s"))
        // 100/s: a burst of 10, then one item per 10 ms.
        var first = try await queue.exchange([], lease: 50, session: "s", duration: .seconds(30))
        #expect(first.leases.count == 10)
        #expect(first.retryAfter == .milliseconds(10))
        first = try await queue.exchange([], lease: 50, session: "s", duration: .seconds(30))
        #expect(first.leases.isEmpty)
        #expect(first.retryAfter == .milliseconds(10))
        await clock.advance(by: .milliseconds(30))
        #expect(try await queue.exchange([], lease: 50, session: "s", duration: .seconds(30)).leases.count == 3)
        // However long it was idle, no more than the burst at once.
        await clock.advance(by: .seconds(60))
        let later = try await queue.exchange([], lease: 50, session: "s", duration: .seconds(30))
        #expect(later.leases.count == 10)
        #expect(later.retryAfter != nil)
        // Without a limit, everything at once and no hint.
        let free = InMemoryQueue(items: items, clock: clock)
        let all = try await free.exchange([], lease: 50, session: "s", duration: .seconds(30))
        #expect(all.leases.count == 50 && all.retryAfter == nil)
    }

    // MARK: The runner

    @Test func aPausedWorkerFinishesItsItemTakesNothingAndStaysUpUntilResumed() async throws {
        let clock = TestClock()
        let items: [WorkItem] = ["a", "b", "c", "d", "e", "f"]
        let queue = InMemoryQueue(items: items, clock: clock)
        let gate = Gate()
        let log = WorkerTests.EventLog()
        let worker = try Worker(backend: queue, handler: GatedHandler(gate: gate),
                                options: WorkerTests.options { $0.prefetch = 1 }, clock: clock, events: log.append)
        let running = WorkerTests.Running(worker)
        try await WorkerTests.settle { log.count { if case .leased = $0 { true } else { false } } == 1 }
        try await queue.setPaused(true)
        gate.open()
        // What was taken before the pause completes; then nothing moves however long we wait.
        try await WorkerTests.drive(clock) { try await queue.counts().processing == 0 }
        let pending = try await queue.counts().pending
        #expect(pending > 0 && pending < items.count)
        for _ in 0..<30 {
            await clock.advance(by: .seconds(1))
            try await Task.sleep(for: .milliseconds(2))
        }
        let counts = try await queue.counts()
        #expect(counts.pending == pending && counts.processing == 0, "a paused worker took items: \(counts)")
        #expect(!running.isFinished, "a paused worker exited")
        try await queue.setPaused(false)
        try await WorkerTests.drive(clock) { running.isFinished }
        let summary = try await running.task.value
        #expect(summary.stopReason == .drained)
        #expect(summary.completed == items.count)
    }

    @Test func aCancelCancelsTheHandlerMovesEverythingAsideAndStopsTheWorker() async throws {
        let clock = TestClock()
        let queue = InMemoryQueue(items: ["a", "b", "c"], clock: clock)
        let reasons = Mutex<[CancellationReason]>([])
        let log = WorkerTests.EventLog()
        let handler = ClosureHandler { _, context in
            for _ in 0..<20_000 where !context.isCancelled { try? await Task.sleep(for: .milliseconds(1)) }
            if let reason = context.cancellation.reason { reasons.withLock { $0.append(reason) } }
            try context.checkCancellation()
            return "finished"
        }
        let worker = try Worker(backend: queue, handler: handler, options: WorkerTests.options { $0.prefetch = 1 },
                                clock: clock, events: log.append)
        let running = WorkerTests.Running(worker)
        try await WorkerTests.settle { log.count { if case .leased = $0 { true } else { false } } == 1 }
        #expect(try await queue.cancel(max: 100) >= 1)
        // The next renewal (a third of the 30 s lease) finds the cancel.
        try await WorkerTests.drive(clock) { running.isFinished }
        let summary = try await running.task.value
        #expect(summary.stopReason == .cancelled)
        #expect(reasons.withLock { $0 } == [.jobCancelled])
        #expect(summary.completed == 0)
        let counts = try await queue.counts()
        #expect(counts.pending == 0 && counts.processing == 0)
        #expect(Set(try await queue.cancelledItems(offset: 0, limit: 10)) == ["a", "b", "c"])
        #expect(try await queue.control().cancelled)
    }

    /// A backend whose renewal reads the marks in the same step (as Redis does) and that
    /// counts separate ``QueueControlling/control()`` reads.
    final class OneStepRenewal: ForwardingBackend, Sendable {
        let inner: InMemoryQueue
        private let reads = Mutex((renewals: 0, controls: 0))
        init(_ inner: InMemoryQueue) { self.inner = inner }
        var renewals: Int { reads.withLock { $0.renewals } }
        var controls: Int { reads.withLock { $0.controls } }
        func renewReadingControl(_ request: RenewRequest) async throws -> RenewReply {
            reads.withLock { $0.renewals += 1 }
            return try await inner.renewReadingControl(request)
        }
        func control() async throws -> QueueControl {
            reads.withLock { $0.controls += 1 }
            return try await inner.control()
        }
    }

    @Test func aCancelReachesALongHandlerThroughTheRenewalAloneOneCallPerBeat() async throws {
        let clock = TestClock()
        let queue = InMemoryQueue(items: ["a"], clock: clock)
        let backend = OneStepRenewal(queue)
        let handler = ClosureHandler { _, context in
            for _ in 0..<20_000 where !context.isCancelled { try? await Task.sleep(for: .milliseconds(1)) }
            try context.checkCancellation()
            return "finished"
        }
        let log = WorkerTests.EventLog()
        let worker = try Worker(backend: backend, handler: handler, options: WorkerTests.options { $0.prefetch = 1 },
                                clock: clock, events: log.append)
        let running = WorkerTests.Running(worker)
        try await WorkerTests.settle { log.count { if case .leased = $0 { true } else { false } } == 1 }
        #expect(try await queue.cancel(max: 100) >= 0)
        try await WorkerTests.drive(clock) { running.isFinished }
        let summary = try await running.task.value
        #expect(summary.stopReason == .cancelled)
        #expect(backend.renewals >= 1)
        #expect(backend.controls == 0, "the renewal beat read the marks itself: no second round trip")
    }

    @Test func aRateLimitedWorkerWaitsForTheHintAndStillDrains() async throws {
        let clock = TestClock()
        let items = (0..<30).map { WorkItem("\($0)") }
        let queue = InMemoryQueue(items: items, clock: clock, rateLimit: RateLimit(parsing: "100/s"))
        let worker = try Worker(backend: queue, handler: ClosureHandler { _, _ in nil },
                                options: WorkerTests.options { $0.concurrency = 4 }, clock: clock)
        let running = WorkerTests.Running(worker)
        try await WorkerTests.drive(clock, step: .milliseconds(10)) { running.isFinished }
        let summary = try await running.task.value
        #expect(summary.completed == 30)
        // 30 items at 100/s with a burst of 10 take at least 0.2 s of the test clock.
        #expect(clock.now - WorkInstant(sinceOrigin: .zero) >= .milliseconds(200))
    }
}

import Synchronization
import Testing
import WorkQueue
import WorkQueueContract
import WorkQueueTesting

/// A sharded queue of in-memory fakes on one manual clock.
struct ShardedInMemoryFixture: ContractFixture {
    static var offers: Set<ContractNeed> { Set(ContractNeed.allCases).subtracting([.lostReply, .boundedResults, .enqueueOptions, .pushTraces]) }
    let clock = TestClock()
    let queues: [InMemoryQueue]
    let sharded: ShardedBackend<InMemoryQueue>

    init(shards: Int, firstShard: Int? = nil, batchesPerTurn: Int = 1) throws {
        let clock = self.clock
        queues = (0..<shards).map { _ in InMemoryQueue(clock: clock) }
        sharded = try ShardedBackend(shards: queues, firstShard: firstShard, batchesPerTurn: batchesPerTurn)
    }

    var backend: any WorkQueueBackend & DeadLetterQueue { sharded }
    var shortLease: Duration { .seconds(10) }

    func advance(by duration: Duration) async throws { await clock.advance(by: duration) }
}

/// The backend contract holds for a sharded queue as for one queue (each enqueue goes to one
/// shard, in order, so FIFO and release-to-head hold for what one call enqueued).
@Test(arguments: BackendContract.cases(for: ShardedInMemoryFixture.self))
func shardedInMemoryContract(_ contractCase: ContractCase) async throws {
    try await contractCase.run(try ShardedInMemoryFixture(shards: 3))
}

@Test(arguments: BackendContract.cases(for: ShardedInMemoryFixture.self))
func oneShardInMemoryContract(_ contractCase: ContractCase) async throws {
    try await contractCase.run(try ShardedInMemoryFixture(shards: 1))
}

@Test(.disabled(BackendContract.skipReason(for: ShardedInMemoryFixture.self)),
      arguments: BackendContract.skippedCases(for: ShardedInMemoryFixture.self))
func shardedInMemoryContractSkipped(_ contractCase: ContractCase) async throws {
    try await contractCase.run(try ShardedInMemoryFixture(shards: 3))
}

@Suite struct ShardedBackendTests {
    static func fill(_ fixture: ShardedInMemoryFixture, perShard: Int) async throws {
        for (index, queue) in fixture.queues.enumerated() {
            try await queue.enqueue((0..<perShard).map { WorkItem("s\(index)-\($0)") })
        }
    }

    @Test func shardCountIsValidated() throws {
        #expect(throws: WorkQueueError.self) { try ShardedBackend<InMemoryQueue>(shards: []) }
        let many = (0...ShardedBackend<InMemoryQueue>.maxShards).map { _ in InMemoryQueue() }
        #expect(throws: WorkQueueError.self) { try ShardedBackend(shards: many) }
        #expect(try ShardedBackend(shards: Array(many.prefix(ShardedBackend<InMemoryQueue>.maxShards))).shards.count == 1024)
    }

    /// Each batch goes to the next shard: with items everywhere, three batches take one from each.
    @Test(arguments: [1, 2, 8])
    func batchesGoRoundRobinOverTheShards(batchesPerTurn: Int) async throws {
        let fixture = try ShardedInMemoryFixture(shards: 3, firstShard: 1, batchesPerTurn: batchesPerTurn)
        try await Self.fill(fixture, perShard: 100)
        var order: [Int] = []
        for _ in 0..<(9 * batchesPerTurn) {
            let leases = try await fixture.sharded.lease(max: 2, session: "s", duration: .seconds(60))
            try #require(leases.count == 2)
            let shards = Set(leases.compactMap { fixture.sharded.shardIndex(of: $0) })
            try #require(shards.count == 1, "one batch, one shard: \(leases.map(\.token))")
            order.append(shards.first ?? -1)
        }
        let turns = [1, 2, 0, 1, 2, 0, 1, 2, 0].flatMap { Array(repeating: $0, count: batchesPerTurn) }
        #expect(order == turns)
        for queue in fixture.queues { #expect(queue.pendingItems.count == 100 - 6 * batchesPerTurn) }
    }

    /// A shard refilled all the time does not keep the others waiting: every shard's turn comes
    /// within shards x batchesPerTurn batches.
    @Test(arguments: [1, 8])
    func noShardStarves(batchesPerTurn: Int) async throws {
        let fixture = try ShardedInMemoryFixture(shards: 3, firstShard: 0, batchesPerTurn: batchesPerTurn)
        try await fixture.queues[2].enqueue(["lonely"])
        var seen = false
        for round in 0..<(2 * batchesPerTurn + 1) {
            try await fixture.queues[0].enqueue((0..<4).map { WorkItem("busy-\(round)-\($0)") })
            try await fixture.queues[1].enqueue((0..<4).map { WorkItem("busy1-\(round)-\($0)") })
            let leases = try await fixture.sharded.lease(max: 4, session: "s", duration: .seconds(60))
            if leases.contains(where: { $0.item == "lonely" }) { seen = true; break }
        }
        #expect(seen, "the item of shard 2 was not leased within \(2 * batchesPerTurn + 1) batches while shards 0 and 1 were refilled")
    }

    /// A shard that came up short is skipped while others have items, probed again later, and
    /// asked whenever the others cannot fill a batch.
    @Test func aShortShardIsSkippedThenProbedAgain() async throws {
        let fixture = try ShardedInMemoryFixture(shards: 2, firstShard: 1)
        try await fixture.queues[0].enqueue((0..<100).map { WorkItem("a\($0)") })
        // Shard 1 is empty: the first batch asks it, comes up short, and fills from shard 0.
        let first = try await fixture.sharded.lease(max: 3, session: "s", duration: .seconds(60))
        #expect(first.count == 3)
        #expect(first.allSatisfy { fixture.sharded.shardIndex(of: $0) == 0 })
        try await fixture.queues[1].enqueue(["b"])
        var batches = 0
        var found = false
        while batches < 10 && !found {
            batches += 1
            found = try await fixture.sharded.lease(max: 3, session: "s", duration: .seconds(60)).contains { $0.item == "b" }
        }
        #expect(found)
        #expect(batches <= 8, "the short shard should be probed within eight batches")
    }

    /// Fewer items than asked means every shard was asked: none is left pending.
    @Test func aShortBatchMeansEveryShardIsEmpty() async throws {
        let fixture = try ShardedInMemoryFixture(shards: 4, firstShard: 0)
        try await fixture.queues[3].enqueue(["x", "y"])
        try await fixture.queues[1].enqueue(["z"])
        let leases = try await fixture.sharded.lease(max: 10, session: "s", duration: .seconds(60))
        #expect(Set(leases.map(\.item)) == ["x", "y", "z"])
        for queue in fixture.queues { #expect(queue.pendingItems.isEmpty) }
        #expect(try await fixture.sharded.counts().processing == 3)
    }

    /// With more shards than it waits on at once, a wait still ends at its timeout, and each
    /// wait covers the next window of shards (a push into a shard of it wakes the wait).
    @Test func waitForWorkWithMoreShardsThanItsFanout() async throws {
        let fixture = try ShardedInMemoryFixture(shards: 10, firstShard: 0)
        let timedOut = Task { try await fixture.sharded.waitForWork(timeout: .seconds(1)) }
        #expect(await fixture.clock.waitForSleepers(atLeast: 8))
        await fixture.clock.advance(by: .seconds(1))
        try await timedOut.value
        // The next window is shards 8, 9, 0, ..., 5: a push into shard 9 wakes it.
        let woken = Task { try await fixture.sharded.waitForWork(timeout: .seconds(3600)) }
        #expect(await fixture.clock.waitForSleepers(atLeast: 8))
        try await fixture.queues[9].enqueue(["wake"])
        try await woken.value
        // Cancelling a wait ends it.
        _ = try await fixture.queues[9].lease(max: 1, session: "s", duration: .seconds(60))
        let cancelled = Task { try await fixture.sharded.waitForWork(timeout: .seconds(3600)) }
        #expect(await fixture.clock.waitForSleepers(atLeast: 8))
        cancelled.cancel()
        await #expect(throws: CancellationError.self) { try await cancelled.value }
    }

    /// complete, fail, release and renew act on the shard the lease came from.
    @Test func settlementsGoToTheShardTheItemCameFrom() async throws {
        let fixture = try ShardedInMemoryFixture(shards: 3, firstShard: 0)
        for (index, queue) in fixture.queues.enumerated() { try await queue.enqueue(["same", WorkItem("only-\(index)")]) }
        var held: [Lease] = []
        for _ in 0..<3 { held += try await fixture.sharded.lease(max: 2, session: "s", duration: .seconds(60)) }
        try #require(held.count == 6)
        let onShard1 = held.filter { fixture.sharded.shardIndex(of: $0) == 1 }
        try #require(onShard1.map(\.item) == ["same", "only-1"])
        #expect(try await fixture.sharded.complete(onShard1[0], result: "from 1") == .settled)
        #expect(fixture.queues[1].result(for: "same") == "from 1")
        #expect(fixture.queues[0].result(for: "same") == nil)
        #expect(fixture.queues[2].result(for: "same") == nil)
        #expect(try await fixture.sharded.fail(onShard1[1], error: "bad", disposition: .deadLetter) == .settled)
        #expect(fixture.queues[1].deadItems == ["only-1"])
        #expect(try await fixture.sharded.renew(held, duration: .seconds(60)) == [true, true, false, false, true, true])
        // One batch settling items of every shard: each outcome in its place.
        let rest = held.filter { fixture.sharded.shardIndex(of: $0) != 1 }
        let result = try await fixture.sharded.exchange(
            [.complete(rest[0], result: nil), .release(rest[1]), .complete(onShard1[0], result: nil), .complete(rest[3], result: "r")],
            lease: 0, session: "s", duration: .seconds(60))
        #expect(result.outcomes == [.settled, .settled, .leaseLost, .settled])
        #expect(fixture.queues[0].pendingItems == [rest[1].item])
        // A lease this backend never issued settles nothing.
        #expect(try await fixture.sharded.complete(Lease(item: "x", session: "s", attempt: 1, token: "s:1"), result: nil) == .leaseLost)
        #expect(try await fixture.sharded.complete(Lease(item: "x", session: "s", attempt: 1, token: "7/s:1"), result: nil) == .leaseLost)
    }

    /// Expired leases come back on every shard, and maintain runs every shard's upkeep.
    @Test func recoveryRunsOnEveryShard() async throws {
        let fixture = try ShardedInMemoryFixture(shards: 3, firstShard: 0)
        try await Self.fill(fixture, perShard: 2)
        let crashed = try await fixture.sharded.lease(max: 6, session: "crashed", duration: .seconds(5))
        #expect(crashed.count == 6)
        #expect(Set(crashed.compactMap { fixture.sharded.shardIndex(of: $0) }) == [0, 1, 2])
        await fixture.clock.advance(by: .seconds(6))
        let report = try await fixture.sharded.maintain(maxAttempts: 5, interval: .seconds(5), session: "w")
        #expect(report == RecoveryReport(requeued: 6, deadLettered: 0))
        for queue in fixture.queues {
            #expect(queue.pendingItems.count == 2)
            #expect(queue.processingItems.isEmpty)
        }
    }

    /// A worker over the shards drains them all, whichever shard holds the items, and exits
    /// only then.
    @Test func aWorkerDrainsEveryShardThenExits() async throws {
        let fixture = try ShardedInMemoryFixture(shards: 3)
        try await fixture.queues[2].enqueue((0..<20).map { WorkItem("late-\($0)") })
        try await fixture.queues[0].enqueue(["early"])
        let handled = Mutex<[WorkItem]>([])
        let worker = try Worker(backend: fixture.sharded, handler: ClosureHandler { item, _ in
            handled.withLock { $0.append(item) }
            return nil
        }, options: WorkerTests.options(), clock: fixture.clock)
        let running = WorkerTests.Running(worker)
        try await WorkerTests.drive(fixture.clock) { running.isFinished }
        let summary = try await running.task.value
        #expect(summary.stopReason == .drained)
        #expect(summary.completed == 21)
        #expect(handled.withLock { $0.count } == 21)
        for queue in fixture.queues { #expect(try await queue.counts().isDrained) }
    }

    /// An item another worker holds on one shard keeps a worker whose shards are empty waiting.
    @Test func anEmptyShardDoesNotEndTheJobWhileAnotherHoldsAnItem() async throws {
        let fixture = try ShardedInMemoryFixture(shards: 3, firstShard: 0)
        try await fixture.queues[2].enqueue(["held"])
        let held = try #require(try await fixture.queues[2].lease(max: 1, session: "other", duration: .seconds(600)).first)
        #expect(try await fixture.sharded.finishIfDrained(session: "w") == false)
        let worker = try Worker(backend: fixture.sharded, handler: ClosureHandler { _, _ in nil },
                                options: WorkerTests.options(), clock: fixture.clock)
        let running = WorkerTests.Running(worker)
        for _ in 0..<50 {
            await fixture.clock.advance(by: .milliseconds(100))
            try await Task.sleep(for: .milliseconds(1))
        }
        #expect(!running.isFinished, "the worker exited while shard 2 still had an item in processing")
        #expect(try await fixture.queues[2].complete(held, result: nil) == .settled)
        try await WorkerTests.drive(fixture.clock) { running.isFinished }
        #expect(try await running.task.value.stopReason == .drained)
        #expect(try await fixture.sharded.finishIfDrained(session: "w"))
    }

    /// Shards that record "drained" get their record withdrawn when a later shard is not drained.
    @Test func drainedRecordsAreWithdrawnWhenALaterShardIsNotDrained() async throws {
        let clock = TestClock()
        let shards = (0..<3).map { _ in MarkingQueue(InMemoryQueue(clock: clock)) }
        let sharded = try ShardedBackend(shards: shards)
        try await shards[2].inner.enqueue(["x"])
        #expect(try await sharded.finishIfDrained(session: "w") == false)
        #expect(shards.map(\.marked) == [false, false, false])
        let lease = try #require(try await sharded.lease(max: 1, session: "w", duration: .seconds(60)).first)
        #expect(try await sharded.complete(lease, result: nil) == .settled)
        #expect(try await sharded.finishIfDrained(session: "w"))
        #expect(shards.map(\.marked) == [true, true, true])
    }

    /// When one shard fails in the middle of a batch, what the other shards did is not lost:
    /// the retried batch reports their settlements as settled and hands out their items.
    @Test func aBatchRetriedAfterOneShardFailedRepeatsNothing() async throws {
        let clock = TestClock()
        let shards = (0..<2).map { _ in FailingQueue(InMemoryQueue(clock: clock)) }
        let sharded = try ShardedBackend(shards: shards, firstShard: 0, batchesPerTurn: 1)
        try await shards[0].inner.enqueue(["a0", "b0"])
        try await shards[1].inner.enqueue(["a1", "b1", "c1"])
        let first = try await sharded.lease(max: 1, session: "s", duration: .seconds(60))
        let second = try await sharded.lease(max: 1, session: "s", duration: .seconds(60))
        try #require(first.map(\.item) == ["a0"] && second.map(\.item) == ["a1"])
        // Settle a0 (shard 0) and a1 (shard 1) while leasing; shard 1 fails once.
        shards[1].failNext()
        await #expect(throws: FailingQueue.Failure.self) {
            try await sharded.exchange([.complete(first[0], result: nil), .complete(second[0], result: nil)],
                                       lease: 2, session: "s", duration: .seconds(60))
        }
        let retried = try await sharded.exchange([.complete(first[0], result: nil), .complete(second[0], result: nil)],
                                                 lease: 2, session: "s", duration: .seconds(60))
        #expect(retried.outcomes == [.settled, .settled], "the retry re-sent settlements that had taken effect")
        // b0, taken from shard 0 by the failed batch, was released back to shard 0 at once; the
        // retry asks shard 1 (which failed) first, for c1, then shard 0 for b0 again. b1 stays
        // leased by the lost reply of shard 1 (Redis would hand it out again too).
        #expect(retried.leases.map(\.item) == ["c1", "b0"])
        #expect(retried.leases.last?.attempt == 1, "releasing b0 counted an attempt")
        let total = try await sharded.counts()
        #expect(total.completed == 2)
        #expect(total.pending == 0)
        #expect(total.processing == 3)
    }

    /// A batch that failed because one shard is down gives the items the other shards handed
    /// it back at once, released with no attempt counted: the sharded backend holds nothing on
    /// the worker's behalf, so a worker stopped (SIGTERM) or out of retries while the shard
    /// stays down leaves nothing in processing (which would come back only through recovery,
    /// with an attempt counted).
    @Test func aFailedBatchGivesBackWhatTheOtherShardsGaveIt() async throws {
        let clock = TestClock()
        let shards = (0..<2).map { _ in FailingQueue(InMemoryQueue(clock: clock)) }
        let sharded = try ShardedBackend(shards: shards, firstShard: 0, batchesPerTurn: 1)
        try await shards[0].inner.enqueue(["a0", "b0"])
        try await shards[1].inner.enqueue(["a1"])
        shards[1].setDown(true)
        for _ in 0..<3 {
            await #expect(throws: FailingQueue.Failure.self) {
                try await sharded.exchange([], lease: 4, session: "s", duration: .seconds(60))
            }
            let zero = try await shards[0].inner.counts()
            #expect(zero.processing == 0 && zero.pending == 2, "shard 0 still holds items for the failed batch: \(zero)")
        }
        // A stopping worker's last call asks for nothing: nothing is handed out, nothing held.
        let last = try await sharded.exchange([], lease: 0, session: "s", duration: .seconds(60))
        #expect(last.leases.isEmpty)
        #expect(try await shards[0].inner.counts().processing == 0)
        // Shard 1 back: the items come in order, first delivery each.
        shards[1].setDown(false)
        let leases = try await sharded.exchange([], lease: 4, session: "s", duration: .seconds(60)).leases
        #expect(Set(leases.map(\.item)) == ["a0", "b0", "a1"])
        #expect(leases.filter { sharded.shardIndex(of: $0) == 0 }.map(\.item) == ["a0", "b0"])
        #expect(leases.allSatisfy { $0.attempt == 1 }, "\(leases.map(\.attempt))")

        // When shard 0 does not take its items back either, they are not forgotten: the next
        // exchange hands them out (as every failed batch's were before).
        for lease in leases { #expect(try await sharded.complete(lease, result: nil) == .settled) }
        try await shards[0].inner.enqueue(["c0", "d0"])
        let fresh = try ShardedBackend(shards: shards, firstShard: 0, batchesPerTurn: 1)
        shards[1].setDown(true)
        shards[0].setRefusingReleases(true)
        await #expect(throws: FailingQueue.Failure.self) {
            try await fresh.exchange([], lease: 4, session: "s", duration: .seconds(60))
        }
        #expect(try await shards[0].inner.counts().processing == 2)
        shards[1].setDown(false)
        shards[0].setRefusingReleases(false)
        let carried = try await fresh.exchange([], lease: 4, session: "s", duration: .seconds(60)).leases
        #expect(carried.map(\.item) == ["c0", "d0"])
        for lease in carried { #expect(try await fresh.complete(lease, result: nil) == .settled) }
        #expect(try await fresh.counts().isDrained)
    }
}

/// An in-memory shard that records its drained state, like `NAME:drained`.
final class MarkingQueue: ForwardingBackend, DrainedMarker, Sendable {
    let inner: InMemoryQueue
    private let mark = Mutex<String?>(nil)
    init(_ inner: InMemoryQueue) { self.inner = inner }
    var marked: Bool { mark.withLock { $0 != nil } }

    func finishIfDrained(session: String) async throws -> Bool {
        guard try await inner.counts().isDrained else { return false }
        mark.withLock { if $0 == nil { $0 = session } }
        return true
    }

    func withdrawDrained(session: String) async throws {
        mark.withLock { if $0 == session { $0 = nil } }
    }
}

/// An in-memory shard whose next lease-taking exchange fails once, after it took effect (a
/// reply lost on the way back); or that is down (every exchange fails before doing anything),
/// or refuses releases.
final class FailingQueue: ForwardingBackend, Sendable {
    struct Failure: Error {}
    let inner: InMemoryQueue
    private let failing = Mutex(false)
    private let down = Mutex(false)
    private let refusingReleases = Mutex(false)
    init(_ inner: InMemoryQueue) { self.inner = inner }
    func failNext() { failing.withLock { $0 = true } }
    func setDown(_ isDown: Bool) { down.withLock { $0 = isDown } }
    func setRefusingReleases(_ refusing: Bool) { refusingReleases.withLock { $0 = refusing } }

    func exchange(_ settlements: [Settlement], lease max: Int, session: String, duration: Duration) async throws -> ExchangeResult {
        if down.withLock({ $0 }) { throw Failure() }
        let releasing = settlements.contains { if case .release = $0 { true } else { false } }
        if releasing, refusingReleases.withLock({ $0 }) { throw Failure() }
        let result = try await inner.exchange(settlements, lease: max, session: session, duration: duration)
        if max > 0, failing.withLock({ let fail = $0; $0 = false; return fail }) {
            // The settlements and the take happened; the caller never learns of it. Give the
            // items back as a real backend's lost reply would leave them: leased. Tell nothing.
            throw Failure()
        }
        return result
    }
}

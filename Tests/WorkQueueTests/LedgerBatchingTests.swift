import Synchronization
import Testing
@testable import WorkQueue
import WorkQueueTesting

/// How the ledger sizes its pipelined calls: a large capacity is asked for in halves, so that
/// the second call has room while the first is on its way, and no call carries more than
/// ``ItemLedger/settlementsPerCall`` settlements (a Redis backend would page the rest into a
/// second round trip).
@Suite struct LedgerBatchingTests {
    static func ledger(concurrency: Int = 1, prefetch: Int) -> ItemLedger {
        var options = WorkerOptions()
        options.concurrency = concurrency
        options.prefetch = prefetch
        options.retry = .immediate
        return ItemLedger(options: options)
    }

    static func demand(_ step: ItemLedger.FetchStep) -> Int? {
        if case let .exchange(call) = step { return call.demand }
        return nil
    }

    @Test func aLargeCapacityIsAskedForInHalvesSoASecondCallFitsBesideTheFirst() {
        var ledger = Self.ledger(prefetch: 32)
        #expect(Self.demand(ledger.nextCall()) == 16)
        // Nothing buffered yet: the second call asks for the other half at once.
        #expect(Self.demand(ledger.nextCall()) == 16)
        #expect(ledger.nextCall() == .awaitReply)
    }

    @Test func aSmallCapacityIsAskedForWhole() {
        var ledger = Self.ledger(prefetch: ItemLedger.splitCallsFrom - 1)
        #expect(Self.demand(ledger.nextCall()) == ItemLedger.splitCallsFrom - 1)
        #expect(ledger.nextCall() == .awaitReply)
    }

    @Test func aCallCarriesAtMostSettlementsPerCallAndTheRestGoInTheNext() {
        let count = ItemLedger.settlementsPerCall + 500
        var ledger = Self.ledger(concurrency: 2, prefetch: 1000)
        let leases = (0..<count).map { Lease(item: WorkItem("i\($0)"), session: "s", attempt: 1, token: "s:\($0)") }
        let now = WorkInstant(sinceOrigin: .seconds(0))
        _ = ledger.leased(leases, at: now, leasedAt: ContinuousClock.now)
        for _ in 0..<count {
            guard case let .run(id) = ledger.slotReady(0, mayPark: false) else {
                Issue.record("slot 0 found nothing to run")
                return
            }
            _ = ledger.finished(id, .returned(nil), checkpoint: nil, seconds: 0.000_001)
        }
        guard case let .exchange(first) = ledger.nextCall() else {
            Issue.record("no call for \(count) finished items")
            return
        }
        #expect(first.settlements.count == ItemLedger.settlementsPerCall)
        #expect(first.settlements.map(\.lease.token) == leases.prefix(ItemLedger.settlementsPerCall).map(\.token), "the first finished first")
        let counts = QueueCounts(pending: 10, processing: 1, scheduled: 0, dead: 0)
        let result = ExchangeResult(outcomes: first.settlements.map { _ in .settled }, leases: [], counts: counts)
        _ = ledger.exchanged(first, result, seconds: 0.001, at: now, leasedAt: ContinuousClock.now)
        guard case let .exchange(second) = ledger.nextCall() else {
            Issue.record("the other 500 finished items were left unsettled")
            return
        }
        #expect(second.settlements.map(\.lease.token) == leases.suffix(500).map(\.token))
    }
}

/// Two calls in flight reach the backend in the order they were made: a backend that takes at
/// the call's start and answers after a random delay (as Redis takes in the order the calls
/// are written) hands one slot the items in their queue order.
@Suite struct PipelinedCallOrderTests {
    /// The mechanism: a flight's call starts before its initializer returns, so the fetcher
    /// cannot make the next call before this one reached the backend (with a plain `Task`,
    /// the call starts later, on another thread, and two calls race to the connection).
    @Test func aFlightsCallStartsBeforeTheNextCallCanBeMade() async throws {
        let started = Mutex(false)
        let gate = AsyncStream<Void>.makeStream()
        let call = ItemLedger.Exchange(ids: [], settlements: [], leasedAt: [], demand: 1)
        let counts = QueueCounts(pending: 0, processing: 0, scheduled: 0, dead: 0)
        let flight = ExchangeFlight(call: call, started: WorkInstant(sinceOrigin: .zero), startedAt: ContinuousClock.now) { _ in
            started.withLock { $0 = true }
            for await _ in gate.stream { break }
            return ExchangeResult(outcomes: [], leases: [], counts: counts)
        } done: {}
        #expect(started.withLock { $0 }, "the call had not started when the flight was made")
        gate.continuation.finish()
        await flight.task.value
        #expect(flight.take() != nil)
    }

    @Test func twoCallsInFlightTakeInTheOrderTheyWereMade() async throws {
        let items = (0..<3000).map { WorkItem("\($0)") }
        let queue = InMemoryQueue(items: items)
        let backend = SlowAnsweringBackend(queue)
        let seen = Mutex<[String]>([])
        var options = WorkerOptions()
        options.prefetch = 64  // a capacity of 64: asked for in halves, two calls in flight
        options.idlePollInterval = .milliseconds(5)
        let worker = try Worker(backend: backend, handler: ClosureHandler { item, _ in
            seen.withLock { $0.append(item.string) }
            return nil
        }, options: options)
        let summary = try await worker.runUntilStopped()
        #expect(summary.completed == items.count)
        let order = seen.withLock { $0 }
        let expected = items.map(\.string)
        let firstOut = order.indices.first { $0 >= expected.count || order[$0] != expected[$0] }
        #expect(firstOut == nil, "out of queue order from position \(firstOut ?? -1)")
        #expect(backend.overlapped > 0, "never two calls in flight: the test proves nothing")
    }
}

/// Takes (and settles) on the inner queue as soon as a call arrives, then answers after a
/// random delay of up to 2 ms.
final class SlowAnsweringBackend: ForwardingBackend, Sendable {
    let inner: InMemoryQueue
    private let state = Mutex((inFlight: 0, overlapped: 0))
    init(_ inner: InMemoryQueue) { self.inner = inner }
    var overlapped: Int { state.withLock { $0.overlapped } }

    func exchange(_ settlements: [Settlement], lease max: Int, session: String, duration: Duration) async throws -> ExchangeResult {
        state.withLock {
            $0.inFlight += 1
            if $0.inFlight > 1 { $0.overlapped += 1 }
        }
        defer { state.withLock { $0.inFlight -= 1 } }
        let result = try await inner.exchange(settlements, lease: max, session: session, duration: duration)
        try await Task.sleep(for: .microseconds(Int.random(in: 0...2000)))
        return result
    }
}

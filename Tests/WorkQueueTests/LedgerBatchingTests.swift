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

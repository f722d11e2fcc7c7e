import Synchronization
import Testing
@testable import WorkQueue
import WorkQueueTesting

/// How many items a worker holds: fixed by `prefetch`, or adapted to handler speed, round-trip
/// time, the lease and the queue's depth.
@Suite struct BatchSizerTests {
    static func sizer(_ change: (inout WorkerOptions) -> Void = { _ in }) -> BatchSizer {
        var options = WorkerOptions()
        change(&options)
        return BatchSizer(options: options)
    }

    @Test func aFixedPrefetchHoldsThatManyPerSlot() {
        let sizer = Self.sizer { $0.concurrency = 4; $0.prefetch = 3 }
        #expect(sizer.capacity(handlerSeconds: nil, pending: 1000) == 12)
        #expect(sizer.capacity(handlerSeconds: 1e-6, pending: 1000) == 12)
    }

    @Test func beforeAnyHandlerReturnedItHoldsOnePerSlot() {
        #expect(Self.sizer { $0.concurrency = 3 }.capacity(handlerSeconds: nil, pending: 1_000_000) == 3)
    }

    @Test func fastHandlersGrowTheBufferUpToItsCap() {
        var sizer = Self.sizer()
        sizer.recordExchange(seconds: 0.001)
        #expect(sizer.capacity(handlerSeconds: 1e-7, pending: 1_000_000) == 1 + 2048)
        // Two round trips' worth of 1 µs items at 1 ms per call: about 2000.
        let fast = sizer.capacity(handlerSeconds: 1e-6, pending: 1_000_000)
        #expect((1990...2010).contains(fast), "capacity \(fast)")
        // Two round trips' worth of 100 µs items at 1 ms per call: about 20.
        let capacity = sizer.capacity(handlerSeconds: 100e-6, pending: 1_000_000)
        #expect((15...30).contains(capacity), "capacity \(capacity)")
    }

    /// Large items: the byte bound, at the average size leased so far, caps the buffer.
    @Test func largeItemsHoldNoMoreThanTheByteBoundWorth() {
        var sizer = Self.sizer { $0.maxBufferedBytes = 64 << 20 }
        sizer.recordExchange(seconds: 0.002)
        #expect(sizer.capacity(handlerSeconds: 1e-6, pending: 1_000_000) == 1 + 2048, "no item seen: the count bound")
        sizer.recordLeased(count: 100, bytes: 100 << 20)  // 1 MiB items
        #expect(sizer.capacity(handlerSeconds: 1e-6, pending: 1_000_000) == 1 + 64)
        // Small items again bring the average, and the bound, back.
        for _ in 0..<20 { sizer.recordLeased(count: 1000, bytes: 100_000) }
        #expect(sizer.capacity(handlerSeconds: 1e-6, pending: 1_000_000) == 1 + 2048)
    }

    @Test func slowHandlersHoldNoMoreThanTheSlotsCanStartWithinAThirdOfTheLease() {
        var sizer = Self.sizer { $0.leaseDuration = .seconds(30) }
        for _ in 0..<50 { sizer.recordExchange(seconds: 5) }  // a very slow queue
        // 4 s items, 30 s leases: at most two more can start within 10 s.
        #expect(sizer.capacity(handlerSeconds: 4, pending: 1_000_000) == 1 + 2)
        #expect(sizer.capacity(handlerSeconds: 60, pending: 1_000_000) == 1)
    }

    @Test func theEndOfAQueueSpreadsOverTheWorkers() {
        var sizer = Self.sizer()
        sizer.recordExchange(seconds: 0.001)
        #expect(sizer.capacity(handlerSeconds: 1e-6, pending: 40) == 1 + 20)
        #expect(sizer.capacity(handlerSeconds: 1e-6, pending: 1) == 1)
    }

    /// The runner asks for more items per call once it has seen that the handler is fast next
    /// to a round trip (here 2 ms per call, as a loaded network might take).
    @Test func aWorkerWithAFastHandlerLeasesInBatches() async throws {
        let queue = InMemoryQueue(items: (0..<2000).map { WorkItem("\($0)") })
        let backend = CountingBackend(queue)
        var options = WorkerOptions()
        options.idlePollInterval = .milliseconds(5)
        let worker = try Worker(backend: backend, handler: ClosureHandler { _, _ in nil }, options: options)
        let summary = try await worker.runUntilStopped()
        #expect(summary.completed == 2000)
        #expect(backend.largestLease > 1, "every call leased one item")
        #expect(backend.exchanges < 1000, "\(backend.exchanges) calls for 2000 items")
    }
}

/// Counts the calls of the runner's hot path.
final class CountingBackend: ForwardingBackend, Sendable {
    let inner: InMemoryQueue
    private let stats = Mutex((exchanges: 0, largestLease: 0))
    init(_ inner: InMemoryQueue) { self.inner = inner }
    var exchanges: Int { stats.withLock { $0.exchanges } }
    var largestLease: Int { stats.withLock { $0.largestLease } }

    func exchange(_ settlements: [Settlement], lease max: Int, session: String, duration: Duration) async throws -> ExchangeResult {
        try await Task.sleep(for: .milliseconds(2))
        let result = try await inner.exchange(settlements, lease: max, session: session, duration: duration)
        stats.withLock {
            $0.exchanges += 1
            $0.largestLease = Swift.max($0.largestLease, result.leases.count)
        }
        return result
    }
}

import Logging
import Synchronization
import Testing
import WorkQueue
import WorkQueueTesting

/// Issue 26: while an exchange carrying completions is retried after a lost reply, the
/// heartbeat must not report those leases lost (their settlement was applied) nor cancel
/// anything for them.
@Suite struct SettlingRenewalTests {
    /// Forwards to an in-memory queue; the first exchange with settlements loses its reply,
    /// and its retry waits for `retryGate` (so that a heartbeat falls in between).
    final class LostReplyBackend: ForwardingBackend, Sendable {
        let inner: InMemoryQueue
        let retryGate = Gate()
        private let settleCalls = Mutex(0)
        var settleCallCount: Int { settleCalls.withLock { $0 } }
        init(_ inner: InMemoryQueue) { self.inner = inner }

        func exchange(_ settlements: [Settlement], lease max: Int, session: String, duration: Duration) async throws -> ExchangeResult {
            if !settlements.isEmpty {
                let call = settleCalls.withLock { count -> Int in
                    count += 1
                    return count
                }
                if call == 1 {
                    inner.loseNextExchangeReply()
                } else {
                    for _ in 0..<20_000 where !retryGate.isOpen { try await Task.sleep(for: .milliseconds(1)) }
                }
            }
            return try await inner.exchange(settlements, lease: max, session: session, duration: duration)
        }
    }

    /// Keeps every logged message.
    final class Messages: LogHandler, Sendable {
        private let messages = Mutex<[String]>([])
        var all: [String] { messages.withLock { $0 } }
        var metadata: Logger.Metadata {
            get { [:] }
            set {}
        }
        var logLevel: Logger.Level {
            get { .trace }
            set {}
        }
        subscript(metadataKey _: String) -> Logger.Metadata.Value? {
            get { nil }
            set {}
        }
        func log(event: LogEvent) {
            messages.withLock { $0.append("\(event.message)") }
        }
    }

    @Test func aHeartbeatDuringARetriedSettlementReportsNoLostLease() async throws {
        let clock = TestClock()
        let queue = InMemoryQueue(items: ["a", "b"], clock: clock)
        let backend = LostReplyBackend(queue)
        let messages = Messages()
        let log = WorkerTests.EventLog()
        // "a" completes at once; "b" keeps running, so that the worker has a lease to renew.
        let gate = Gate()
        let handler = ClosureHandler { item, context in
            if item == "b" {
                for _ in 0..<20_000 where !gate.isOpen {
                    try context.checkCancellation()
                    try await Task.sleep(for: .milliseconds(1))
                }
            }
            return "done \(item.string)"
        }
        let worker = try Worker(backend: backend, handler: handler, options: WorkerTests.options { $0.concurrency = 2 },
                                clock: clock, logger: Logger(label: "test") { _ in messages }, events: log.append)
        let running = WorkerTests.Running(worker)
        // The completion of "a" went out and its reply was lost.
        try await WorkerTests.settle { backend.settleCallCount == 1 && queue.result(for: "a") == "done a" }
        // The clock moves a third of the lease: the exchange is retried (and waits at the
        // gate), and a heartbeat renews: it finds "a"'s lease gone (settled), "b"'s held.
        let renewedB = clock.now + .seconds(25)
        await clock.advance(by: .seconds(10))
        try await WorkerTests.settle { (queue.leaseExpiry(of: "b") ?? clock.now) > renewedB }
        try await WorkerTests.settle { backend.settleCallCount == 2 }
        for _ in 0..<50 { await Task.yield() }
        backend.retryGate.open()
        gate.open()
        try await WorkerTests.drive(clock) { running.isFinished }
        let summary = try await running.task.value
        #expect(summary.completed == 2)
        #expect(summary.leaseLost == 0)
        let lost = messages.all.filter { $0.contains("lease renewal found the lease lost") }
        #expect(lost.isEmpty, "\(lost)")
    }
}

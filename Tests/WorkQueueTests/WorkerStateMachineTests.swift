import Synchronization
import Testing
@testable import WorkQueue
import WorkQueueTesting

/// The worker's item states (``ItemLedger``), driven event by event: each table row is an
/// event, the actions (or step) it must return, and the states the items must be in after it.
/// No tasks, no clock, no backend.
@Suite struct WorkerStateMachineTests {
    typealias Action = ItemLedger.Action
    typealias State = ItemLedger.State

    enum Event {
        /// The backend leased these items (ids count from 1 in lease order).
        case lease([String])
        case slot(Int)
        case finish(Int, ItemLedger.HandlerResult)
        /// A renewal of `ids` answered `owned`, started at `at` seconds.
        case renew([Int], [Bool], at: Int)
        /// The fetcher asks for its next step.
        case call
        /// The oldest exchange not answered yet answered (calls are answered in order).
        case answer(outcomes: [SettleOutcome], leases: [String] = [], control: QueueControl = QueueControl(),
                    retryAfter: Duration? = nil, drained: Bool = false)
        case stop
        case cancel(Int, CancellationReason)
        case cancelAll(CancellationReason)
        case woken
    }

    enum Output: Equatable {
        case actions([Action])
        case slot(ItemLedger.SlotStep)
        case step(ItemLedger.FetchStep)
        /// What `finish` returns: the lost lease whose result was dropped, or nil.
        case dropped(Lease?)
    }

    struct Row {
        var event: Event
        var output: Output
        /// Expected states after the event (nil: the item left the ledger).
        var states: [Int: State?] = [:]
        init(_ event: Event, _ output: Output, _ states: [Int: State?] = [:]) {
            self.event = event
            self.output = output
            self.states = states
        }
    }

    static let leasedAt = ContinuousClock.now
    static func lease(_ name: String) -> Lease { Lease(item: WorkItem(name), session: "s", attempt: 1, token: "s:\(name)") }
    static func at(_ seconds: Int) -> WorkInstant { WorkInstant(sinceOrigin: .seconds(seconds)) }

    /// Two slots, two items held (no prefetch), leases of 30 s, retries at once, 3 attempts.
    static func ledger() -> ItemLedger {
        var options = WorkerOptions()
        options.concurrency = 2
        options.prefetch = 1
        options.leaseDuration = .seconds(30)
        options.maxAttempts = 3
        options.retry = .immediate
        options.pausedPollInterval = .seconds(2)
        options.idlePollInterval = .milliseconds(100)
        return ItemLedger(options: options)
    }

    /// Runs `rows` on a fresh ledger (``ledger()`` unless given); returns every action
    /// returned, for counting.
    @discardableResult
    static func run(_ rows: [Row], ledger start: ItemLedger = ledger(), sourceLocation: SourceLocation = #_sourceLocation) -> [Action] {
        var ledger = start
        // The calls made and not answered yet, oldest first.
        var calls: [ItemLedger.Exchange] = []
        var all: [Action] = []
        for (index, row) in rows.enumerated() {
            let output: Output
            switch row.event {
            case let .lease(names):
                output = .actions(ledger.leased(names.map(lease), at: at(0), leasedAt: leasedAt))
            case let .slot(slot):
                output = .slot(ledger.slotReady(slot))
            case let .finish(id, result):
                output = .dropped(ledger.finished(id, result, checkpoint: nil, seconds: 0.01))
            case let .renew(ids, owned, seconds):
                output = .actions(ledger.renewed(ids, owned: owned, at: at(seconds)))
            case .call:
                let step = ledger.nextCall()
                if case let .exchange(call) = step { calls.append(call) }
                output = .step(step)
            case let .answer(outcomes, leases, control, retryAfter, drained):
                guard !calls.isEmpty else {
                    Issue.record("row \(index): an answer without a call", sourceLocation: sourceLocation)
                    return all
                }
                let call = calls.removeFirst()
                let counts = QueueCounts(pending: drained ? 0 : 10, processing: drained ? 0 : 1, scheduled: 0, dead: 0)
                let result = ExchangeResult(outcomes: outcomes, leases: leases.map(lease), counts: counts, control: control,
                                            retryAfter: retryAfter)
                output = .actions(ledger.exchanged(call, result, seconds: 0.001, at: at(0), leasedAt: leasedAt))
            case .stop:
                output = .actions(ledger.stop())
            case let .cancel(id, reason):
                output = .actions(ledger.cancel(id, reason).map { [$0] } ?? [])
            case let .cancelAll(reason):
                output = .actions(ledger.cancelAll(reason))
            case .woken:
                ledger.woken()
                output = .actions([])
            }
            if case let .actions(actions) = output { all += actions }
            #expect(output == row.output, "row \(index): \(row.event)", sourceLocation: sourceLocation)
            for (id, state) in row.states.sorted(by: { $0.key < $1.key }) {
                #expect(ledger.state(of: id) == state, "row \(index): item \(id)", sourceLocation: sourceLocation)
            }
        }
        return all
    }

    static func call(_ settlements: [Settlement], ids: [Int], demand: Int) -> Output {
        .step(.exchange(.init(ids: ids, settlements: settlements, leasedAt: ids.map { _ in leasedAt }, demand: demand)))
    }

    static let a = lease("a"), b = lease("b"), c = lease("c")

    static func lostCount(_ actions: [Action]) -> Int {
        actions.count { if case .lost = $0 { true } else { false } }
    }

    // MARK: The happy path

    @Test func leaseStartFinishSettle() {
        let none: [Action] = []
        Self.run([
            Row(.slot(0), .slot(.park)),
            Row(.call, Self.call([], ids: [], demand: 2)),
            Row(.answer(outcomes: [], leases: ["a"]), .actions([.start(slot: 0, item: 1)]), [1: .running]),
            Row(.finish(1, .returned("ok")), .dropped(nil), [1: .finished(.complete(Self.a, result: "ok"))]),
            // The queue gave fewer than asked (empty): settle only.
            Row(.call, Self.call([.complete(Self.a, result: "ok")], ids: [1], demand: 0),
                [1: .settling(.complete(Self.a, result: "ok"))]),
            Row(.answer(outcomes: [.settled], drained: true), .actions([.settled(.complete(Self.a, result: "ok"))]), [1: nil]),
            Row(.call, Self.call([], ids: [], demand: 2)),
            Row(.answer(outcomes: [], drained: true), .actions(none)),
            // Drained, nothing held: ask the backend's drained check, and wait for work.
            Row(.call, .step(.idle(checkDrained: true, armWaiter: true))),
            Row(.call, .step(.idle(checkDrained: true, armWaiter: false))),
        ])
    }

    @Test func handlerOutcomesBecomeSettlements() {
        Self.run([
            Row(.lease(["a", "b"]), .actions([]), [1: .buffered, 2: .buffered]),
            Row(.slot(0), .slot(.run(1)), [1: .running]),
            Row(.slot(1), .slot(.run(2)), [2: .running]),
            Row(.finish(1, .threw("boom", unprocessable: false)),
                .dropped(nil), [1: .finished(.fail(Self.a, error: "boom", disposition: .retry(after: .zero)))]),
            Row(.finish(2, .threw("bad item", unprocessable: true)),
                .dropped(nil), [2: .finished(.fail(Self.b, error: "bad item", disposition: .deadLetter))]),
        ])
    }

    // MARK: Lost leases

    @Test func aLeaseLostWhileRunningIsCountedOnceItsHandlerCancelledAndNothingSettled() {
        let actions = Self.run([
            Row(.slot(0), .slot(.park)),
            Row(.lease(["a"]), .actions([.start(slot: 0, item: 1)]), [1: .running]),
            Row(.renew([1], [false], at: 10), .actions([.cancel(1, .leaseLost), .lost(Self.a, was: .running)]), [1: .lost]),
            // A later renewal does not see it again (nothing to renew, nothing counted twice).
            Row(.renew([1], [false], at: 20), .actions([]), [1: .lost]),
            // The cancelled handler returns: its result is dropped.
            Row(.finish(1, .threw("cancelled", unprocessable: false)), .dropped(Self.a), [1: nil]),
            Row(.call, Self.call([], ids: [], demand: 2)),
        ])
        #expect(Self.lostCount(actions) == 1)
    }

    @Test func renewalsSkipLostItemsAndMoveDeadlines() {
        var ledger = Self.ledger()
        _ = ledger.leased([Self.a, Self.b], at: Self.at(0), leasedAt: Self.leasedAt)
        #expect(ledger.records[1]?.deadline == Self.at(30))
        let first = ledger.renewals(at: Self.at(10))
        #expect(first.ids == [1, 2])
        #expect(first.lastLapse == Self.at(40), "a lease never renewed counts as taken at the beat")
        #expect(ledger.renewed([1, 2], owned: [true, false], at: Self.at(10)) == [.deadlineMoved(1, Self.at(40)), .lost(Self.b, was: .buffered)])
        let second = ledger.renewals(at: Self.at(20))
        #expect(second.ids == [1])
        #expect(second.lastLapse == Self.at(40))
        #expect(ledger.records[1]?.deadline == Self.at(40))
    }

    @Test func aLeaseLostWhileBufferedLeavesWithoutRunning() {
        let actions = Self.run([
            Row(.lease(["a", "b"]), .actions([]), [1: .buffered, 2: .buffered]),
            Row(.renew([1, 2], [true, false], at: 10),
                .actions([.deadlineMoved(1, Self.at(40)), .lost(Self.b, was: .buffered)]), [1: .buffered, 2: nil]),
            Row(.slot(0), .slot(.run(1))),
            Row(.slot(1), .slot(.park)),
        ])
        #expect(Self.lostCount(actions) == 1)
    }

    @Test func aLeaseLostWhileFinishedSendsNoSettlement() {
        let actions = Self.run([
            Row(.lease(["a"]), .actions([])),
            Row(.slot(0), .slot(.run(1))),
            Row(.finish(1, .returned(nil)), .dropped(nil)),
            Row(.renew([1], [false], at: 10), .actions([.lost(Self.a, was: .finished)]), [1: nil]),
            Row(.call, Self.call([], ids: [], demand: 2)),
        ])
        #expect(Self.lostCount(actions) == 1)
    }

    @Test func aLeaseLostWhileSettlingIsCountedByTheExchangeNotTheRenewal() {
        let actions = Self.run([
            Row(.lease(["a"]), .actions([])),
            Row(.slot(0), .slot(.run(1))),
            Row(.finish(1, .returned("x")), .dropped(nil)),
            Row(.call, Self.call([.complete(Self.a, result: "x")], ids: [1], demand: 2)),
            // Its settlement is in the call (a lost reply being retried): a refused renewal is
            // that settlement having been applied, not a lost lease.
            Row(.renew([1], [false], at: 10), .actions([]), [1: .settling(.complete(Self.a, result: "x"))]),
            Row(.answer(outcomes: [.leaseLost]), .actions([.lost(Self.a, was: .settling)]), [1: nil]),
        ])
        #expect(Self.lostCount(actions) == 1)
    }

    @Test func aRefusedRenewalOfASettlingItemThenASettledAnswerIsNoLoss() {
        let actions = Self.run([
            Row(.lease(["a"]), .actions([])),
            Row(.slot(0), .slot(.run(1))),
            Row(.finish(1, .returned("x")), .dropped(nil)),
            Row(.call, Self.call([.complete(Self.a, result: "x")], ids: [1], demand: 2)),
            Row(.renew([1], [false], at: 10), .actions([])),
            Row(.answer(outcomes: [.settled]), .actions([.settled(.complete(Self.a, result: "x"))]), [1: nil]),
        ])
        #expect(Self.lostCount(actions) == 0)
    }

    // MARK: Stop, cancel, pause

    @Test func aStopReleasesBufferedItemsLastFirstWithoutRunningThem() {
        Self.run([
            Row(.slot(0), .slot(.park)),
            Row(.lease(["a", "b", "c"]), .actions([.start(slot: 0, item: 1)]), [1: .running, 2: .buffered, 3: .buffered]),
            Row(.stop, .actions([]), [2: .finished(.release(Self.b)), 3: .finished(.release(Self.c))]),
            Row(.slot(1), .slot(.end)),
            // Released last first (so they return to the head of the queue in their order);
            // nothing more is leased.
            Row(.call, Self.call([.release(Self.c), .release(Self.b)], ids: [3, 2], demand: 0)),
            Row(.answer(outcomes: [.settled, .settled]), .actions([.settled(.release(Self.c)), .settled(.release(Self.b))])),
            // The running item still finishes and is settled; then the fetcher exits.
            Row(.call, .step(.idle(checkDrained: false, armWaiter: false))),
            Row(.finish(1, .returned("a")), .dropped(nil)),
            Row(.call, Self.call([.complete(Self.a, result: "a")], ids: [1], demand: 0)),
            Row(.answer(outcomes: [.settled]), .actions([.settled(.complete(Self.a, result: "a"))])),
            Row(.call, .step(.exit)),
        ])
    }

    @Test func aStopEndsParkedSlotsAndReleasesWhatIsLeasedAfterIt() {
        Self.run([
            Row(.slot(0), .slot(.park)),
            Row(.slot(1), .slot(.park)),
            Row(.call, Self.call([], ids: [], demand: 2)),
            Row(.stop, .actions([.endSlot(0), .endSlot(1)])),
            // The call in flight leased two: they are released, never started.
            Row(.answer(outcomes: [], leases: ["a", "b"]), .actions([]),
                [1: .finished(.release(Self.a)), 2: .finished(.release(Self.b))]),
            Row(.call, Self.call([.release(Self.b), .release(Self.a)], ids: [2, 1], demand: 0)),
        ])
    }

    @Test func aCancelledHandlerReleasesOrFailsByItsReason() {
        Self.run([
            Row(.lease(["a", "b", "c"]), .actions([])),
            Row(.slot(0), .slot(.run(1))),
            Row(.slot(1), .slot(.run(2))),
            Row(.cancel(1, .shutdown), .actions([.cancel(1, .shutdown)])),
            // The first reason stays.
            Row(.cancel(1, .timedOut(after: .seconds(2))), .actions([.cancel(1, .timedOut(after: .seconds(2)))])),
            Row(.finish(1, .threw("CancellationError()", unprocessable: false)), .dropped(nil), [1: .finished(.release(Self.a))]),
            Row(.cancel(2, .timedOut(after: .seconds(2))), .actions([.cancel(2, .timedOut(after: .seconds(2)))])),
            Row(.finish(2, .threw("CancellationError()", unprocessable: false)), .dropped(nil),
                [2: .finished(.fail(Self.b, error: "timed out after 2 s", disposition: .retry(after: .zero)))]),
            // A handler that returned despite a cancel completes its item.
            Row(.slot(0), .slot(.run(3))),
            Row(.cancel(3, .shutdown), .actions([.cancel(3, .shutdown)])),
            Row(.finish(3, .returned("c")), .dropped(nil), [3: .finished(.complete(Self.c, result: "c"))]),
        ])
    }

    @Test func aCancelledQueueCancelsEveryHandlerStopsAndReleasesNewLeases() {
        Self.run([
            Row(.lease(["a"]), .actions([])),
            Row(.slot(0), .slot(.run(1))),
            Row(.slot(1), .slot(.park)),
            Row(.call, Self.call([], ids: [], demand: 1)),
            Row(.answer(outcomes: [], leases: ["b"], control: QueueControl(cancelled: true)),
                .actions([.jobCancelled, .endSlot(1)]), [2: .finished(.release(Self.b))]),
            // The worker carries out `.jobCancelled`: every handler is cancelled, and items
            // leased later start cancelled.
            Row(.cancelAll(.jobCancelled), .actions([.cancel(1, .jobCancelled), .cancel(2, .jobCancelled)])),
            Row(.lease(["c"]), .actions([.cancel(3, .jobCancelled)]), [3: .finished(.release(Self.c))]),
            Row(.finish(1, .threw("WorkCancelled", unprocessable: false)), .dropped(nil), [1: .finished(.release(Self.a))]),
        ])
    }

    @Test func aPausedQueueHoldsOffUntilWoken() {
        Self.run([
            Row(.call, Self.call([], ids: [], demand: 2)),
            Row(.answer(outcomes: [], control: QueueControl(paused: true)), .actions([.holdOff(.seconds(2), rateLimited: false)])),
            // No take (and no wait for work: not drained) until the hold-off wakes the fetcher.
            Row(.call, .step(.idle(checkDrained: false, armWaiter: false))),
            Row(.woken, .actions([])),
            Row(.call, Self.call([], ids: [], demand: 2)),
            Row(.answer(outcomes: [], retryAfter: .seconds(3)), .actions([.holdOff(.seconds(3), rateLimited: true)])),
            Row(.call, .step(.idle(checkDrained: false, armWaiter: false))),
        ])
    }

    // MARK: Pipelined exchanges

    /// Two slots, four items held (prefetch 2): a batch is one item (a quarter of four).
    static func pipelineLedger() -> ItemLedger {
        var options = WorkerOptions()
        options.concurrency = 2
        options.prefetch = 2
        options.leaseDuration = .seconds(30)
        options.retry = .immediate
        return ItemLedger(options: options)
    }

    /// The next call goes while one is outstanding once the slots are about to run dry, but
    /// never a third; the outstanding demand counts against the capacity; only one call at a
    /// time carries settlements (the other finished item waits for it); replies are applied in
    /// order, a lease lost on the first call is counted once and leaves the second call's
    /// settlement alone; with items buffered, no second call: the reply comes first.
    @Test func twoExchangesOutstandingAtMostOneOfThemSettling() {
        let actions = Self.run([
            Row(.call, Self.call([], ids: [], demand: 4)),
            // The call under way asks for everything the slots can hold.
            Row(.call, .step(.awaitReply)),
            Row(.answer(outcomes: [], leases: ["a", "b"]), .actions([]), [1: .buffered, 2: .buffered]),
            Row(.woken, .actions([])),
            Row(.slot(0), .slot(.run(1))),
            Row(.slot(1), .slot(.run(2))),
            Row(.finish(1, .returned(nil)), .dropped(nil)),
            Row(.call, Self.call([.complete(Self.a, result: nil)], ids: [1], demand: 3), [1: .settling(.complete(Self.a, result: nil))]),
            Row(.finish(2, .returned(nil)), .dropped(nil)),
            // Nothing buffered: a second call while the first is out; it takes, but does not
            // settle (item 2 waits).
            Row(.call, Self.call([], ids: [], demand: 1), [2: .finished(.complete(Self.b, result: nil))]),
            // Two are out: no third.
            Row(.call, .step(.awaitReply)),
            // The first call's reply: its settlement found the lease gone (counted once), and
            // it leased one item.
            Row(.answer(outcomes: [.leaseLost], leases: ["c"]), .actions([.lost(Self.a, was: .settling)]), [1: nil, 3: .buffered]),
            // One call out, an item buffered, one settlement (under half the capacity): wait.
            Row(.call, .step(.awaitReply)),
            Row(.answer(outcomes: [], leases: []), .actions([])),
            Row(.call, Self.call([.complete(Self.b, result: nil)], ids: [2], demand: 0), [2: .settling(.complete(Self.b, result: nil))]),
            Row(.answer(outcomes: [.settled]), .actions([.settled(.complete(Self.b, result: nil))]), [2: nil]),
        ], ledger: Self.pipelineLedger())
        #expect(Self.lostCount(actions) == 1)
    }

    /// A stop with a call outstanding waits for its reply: the items it leased are released
    /// (not started), and the fetcher exits only once nothing is outstanding or unsettled.
    @Test func aStopWaitsForTheOutstandingReplyAndReleasesWhatItLeased() {
        Self.run([
            Row(.slot(0), .slot(.park)),
            Row(.call, Self.call([], ids: [], demand: 4)),
            Row(.answer(outcomes: [], leases: ["a"]), .actions([.start(slot: 0, item: 1)]), [1: .running]),
            Row(.finish(1, .returned(nil)), .dropped(nil)),
            Row(.woken, .actions([])),
            Row(.call, Self.call([.complete(Self.a, result: nil)], ids: [1], demand: 4)),
            Row(.slot(0), .slot(.park)),
            Row(.stop, .actions([.endSlot(0)])),
            // Nothing runs, nothing is finished: but a call is out.
            Row(.call, .step(.awaitReply)),
            Row(.answer(outcomes: [.settled], leases: ["b"]), .actions([.settled(.complete(Self.a, result: nil))]),
                [1: nil, 2: .finished(.release(Self.b))]),
            Row(.call, Self.call([.release(Self.b)], ids: [2], demand: 0)),
            Row(.call, .step(.awaitReply)),
            Row(.answer(outcomes: [.settled]), .actions([.settled(.release(Self.b))]), [2: nil]),
            Row(.call, .step(.exit)),
        ], ledger: Self.pipelineLedger())
    }

    /// The drained check waits until no call is outstanding: an empty take while the other
    /// call is out (its settlement not applied yet) is not the end.
    @Test func theDrainedCheckWaitsForEveryOutstandingCall() {
        Self.run([
            Row(.lease(["a", "b"]), .actions([])),
            Row(.slot(0), .slot(.run(1))),
            Row(.slot(1), .slot(.run(2))),
            Row(.call, Self.call([], ids: [], demand: 2)),
            Row(.finish(1, .returned(nil)), .dropped(nil)),
            Row(.call, Self.call([.complete(Self.a, result: nil)], ids: [1], demand: 1)),
            Row(.finish(2, .returned(nil)), .dropped(nil)),
            Row(.answer(outcomes: [], leases: [], drained: true), .actions([])),
            // Found empty, nothing running: but item 1's settlement is still out.
            Row(.call, .step(.awaitReply)),
            Row(.answer(outcomes: [.settled], leases: [], drained: true), .actions([.settled(.complete(Self.a, result: nil))])),
            Row(.call, Self.call([.complete(Self.b, result: nil)], ids: [2], demand: 0)),
            Row(.call, .step(.awaitReply)),
            Row(.answer(outcomes: [.settled], drained: true), .actions([.settled(.complete(Self.b, result: nil))])),
            Row(.call, Self.call([], ids: [], demand: 4)),
            Row(.answer(outcomes: [], drained: true), .actions([])),
            Row(.call, .step(.idle(checkDrained: true, armWaiter: true))),
        ], ledger: Self.pipelineLedger())
    }

    // MARK: The lock around it

    /// The dispatcher carries out the ledger's local actions: a slot gets the item, a renewal
    /// moves the deadline the handler reads, a lost lease sets the flag and cancels the task.
    @Test func theDispatcherCarriesOutTheLedgersActions() async throws {
        var options = WorkerOptions()
        options.concurrency = 1
        options.prefetch = 1
        options.leaseDuration = .seconds(30)
        let dispatcher = Dispatcher(options: options)
        let slot = Task { await dispatcher.next(slot: 0) }
        guard case let .exchange(call) = dispatcher.nextCall().step else {
            Issue.record("the first step must be an exchange")
            return
        }
        let result = ExchangeResult(outcomes: [], leases: [Self.a], counts: QueueCounts(pending: 5, processing: 1, scheduled: 0, dead: 0))
        #expect(dispatcher.exchanged(call, result, seconds: 0.001, at: Self.at(0), leasedAt: Self.leasedAt).isEmpty)
        guard let item = await slot.value else {
            Issue.record("the slot must get the item")
            return
        }
        #expect(item.lease == Self.a)
        #expect(item.deadline.deadline == Self.at(30))
        let stopped = Mutex(0)
        dispatcher.started(item.id) { stopped.withLock { $0 += 1 } }
        #expect(dispatcher.renewed([item.id], owned: [true], at: Self.at(10)).isEmpty)
        #expect(item.deadline.deadline == Self.at(40))
        #expect(item.flag.reason == nil)
        #expect(dispatcher.renewed([item.id], owned: [false], at: Self.at(20)) == [.lost(Self.a, was: .running)])
        #expect(item.flag.reason == .leaseLost)
        #expect(stopped.withLock { $0 } == 1)
        #expect(dispatcher.counts.running == 1)
        #expect(dispatcher.finished(item.id, .threw("cancelled", unprocessable: false), checkpoint: nil, seconds: 0) == Self.a)
        #expect(dispatcher.counts.held == 0)
        dispatcher.stop()
        #expect(await dispatcher.next(slot: 0) == nil)
    }

    // MARK: The deadline a handler sees

    /// The context's deadline is the lease's, on the worker's clock, and a renewal moves it.
    @Test func aRenewalMovesTheHandlersLeaseDeadline() async throws {
        let clock = TestClock()
        let queue = InMemoryQueue(items: ["long"], clock: clock)
        let gate = Gate()
        let seen = Mutex<[WorkInstant?]>([])
        let remaining = Mutex<[Duration?]>([])
        let current = Mutex<WorkContext?>(nil)
        let handler = ClosureHandler { _, context in
            current.withLock { $0 = context }
            seen.withLock { $0.append(context.leaseDeadline) }
            remaining.withLock { $0.append(context.leaseRemaining) }
            for _ in 0..<20_000 where !gate.isOpen { try await Task.sleep(for: .milliseconds(1)) }
            seen.withLock { $0.append(context.leaseDeadline) }
            remaining.withLock { $0.append(context.leaseRemaining) }
            return "done"
        }
        let start = clock.now
        let worker = try Worker(backend: queue, handler: handler, options: WorkerTests.options(), clock: clock)
        let running = WorkerTests.Running(worker)
        try await WorkerTests.settle { seen.withLock { $0.count } == 1 }
        #expect(seen.withLock { $0 } == [start + .seconds(30)])
        #expect(remaining.withLock { $0 } == [.seconds(30)])
        // A third of the lease later the heartbeat renews it: the deadline moves with it.
        await clock.advance(by: .seconds(10))
        try await WorkerTests.settle { (queue.leaseExpiry(of: "long") ?? start) > start + .seconds(30) }
        try await WorkerTests.settle { current.withLock { $0?.leaseDeadline } == start + .seconds(40) }
        gate.open()
        try await WorkerTests.settle { seen.withLock { $0.count } == 2 }
        #expect(seen.withLock { $0.last } == start + .seconds(40))
        #expect(remaining.withLock { $0.last } == .seconds(30))
        try await WorkerTests.drive(clock) { running.isFinished }
        #expect(try await running.task.value.completed == 1)
    }

    @Test func aContextWithoutADeadlineSaysNone() {
        let context = WorkContext(attempt: 1, maxAttempts: 1, leaseDeadline: nil, session: "s", options: [:],
                                  logger: .init(label: "test"))
        #expect(context.leaseDeadline == nil)
        #expect(context.leaseRemaining == nil)
    }
}

import NIOCore

/// The worker's items and its fetcher's decisions, as one state machine.
///
/// One record per leased item, in a named state:
///
/// ```
/// leased ─▶ buffered ─▶ running ─▶ finished(settlement) ─▶ settling(settlement) ─▶ settled
///              │           │             │                        │
///              │ stop      ▼             ▼                        ▼
///              └──▶ finished(release)   lost ◀──────────────── (lease lost)
/// ```
///
/// - `buffered`: leased, waiting for a slot. A stop turns it into `finished(.release)`
///   without running it (released last first, so the items return in their order).
/// - `running`: a slot runs its handler.
/// - `finished(settlement)`: the handler returned; the settlement waits for the fetcher's
///   next exchange.
/// - `settling(settlement)`: the settlement is in an exchange call (perhaps retried after a
///   lost reply); a renewal that finds the lease gone is that settlement having been applied.
/// - `settled`: the exchange applied it; the record leaves the ledger (``Action/settled(_:)``).
/// - `lost`: the lease was found lost. Counted once, in ``loseLease(_:)``, the only place an
///   ``Action/lost(_:was:)`` is made. A running item stays `lost` until its (cancelled)
///   handler returns, and its result is dropped; any other lost item leaves at once.
///
/// Events are mutating functions returning ``Action`` values that the worker's loops carry
/// out (start a handler, cancel one, record an outcome, hold off). No clock is read here and
/// nothing waits: time is passed in. The fetcher's own state (stopping, drained, held back
/// by a pause or the rate limit) lives here too, so ``nextCall()`` decides each call.
///
/// Exchanges are pipelined: the fetcher may send the next call before the last one's reply
/// came back, so that a distant Redis's round trip does not set the pace. The rules:
/// - at most ``maxOutstanding`` (two) calls are outstanding; their replies are applied in the
///   order the calls were made (``exchanged(_:_:seconds:at:leasedAt:)``, FIFO);
/// - at most one outstanding call carries settlements: the backend's record of a session's
///   last settling call (what answers a retry after a lost reply) then always names that
///   call, and a settlement is in exactly one call (it is `settling` from the call that
///   carries it on), so nothing is settled twice;
/// - a call's demand counts against the capacity until its reply is applied, so two calls
///   never lease more than the slots need; from ``splitCallsFrom`` on, a call asks for at most
///   half the capacity, so that the second call has room to ask while the first is on its way;
/// - the drained check, the exit and the hold-off's idle wait happen only with no call
///   outstanding (``FetchStep/awaitReply`` otherwise): a stop or a drain waits for both.
struct ItemLedger: Sendable {
    typealias ID = Int

    /// An item's named state (`settled` is reported by ``Action/settled(_:)`` as it leaves).
    enum State: Sendable, Hashable {
        case buffered
        case running
        case finished(Settlement)
        case settling(Settlement)
        case lost
    }

    /// Where a lost lease was when it was found lost (for the log line).
    enum LostWhile: Sendable, Hashable {
        case buffered, running, finished, settling
    }

    /// How a handler ended (the ledger turns it into a settlement).
    enum HandlerResult: Sendable, Hashable {
        case returned(String?)
        /// It threw (or was left running past its time limit); `unprocessable` dead-letters at once.
        case threw(String, unprocessable: Bool)
    }

    /// What the loops do.
    enum Action: Sendable, Hashable {
        /// Hand item `id` to the parked slot `slot`.
        case start(slot: Int, item: ID)
        /// The parked slot `slot` gets no item: it ends.
        case endSlot(Int)
        /// Set the item's cancellation flag to `reason` (the first reason wins) and cancel its handler.
        case cancel(ID, CancellationReason)
        /// A renewal moved the item's lease deadline.
        case deadlineMoved(ID, WorkInstant)
        /// The backend applied the settlement.
        case settled(Settlement)
        /// The lease was lost: count it, record nothing for it.
        case lost(Lease, was: LostWhile)
        /// The queue was cancelled: cancel every handler and stop.
        case jobCancelled
        /// Paused or rate-limited: wake the fetcher after `pause` (`rateLimited` for the metric).
        case holdOff(Duration, rateLimited: Bool)
    }

    /// What a slot does next.
    enum SlotStep: Sendable, Hashable {
        case run(ID)
        case park
        case end
    }

    /// What the fetcher does next.
    enum FetchStep: Sendable, Hashable {
        /// Settle `exchange.settlements` and lease `exchange.demand` items in one call (sent
        /// now; its reply is applied once every earlier call's was).
        case exchange(Exchange)
        /// Calls are outstanding and no other is allowed or worth one: wait for a reply (or a
        /// slot's wake), then ask again.
        case awaitReply
        /// Nothing worth a call: ask the backend's drained check first when `checkDrained`
        /// (and exit when it says drained), arm the wait for work when `armWaiter`, then sleep
        /// until woken.
        case idle(checkDrained: Bool, armWaiter: Bool)
        /// Stopped and nothing left to settle.
        case exit
    }

    /// One exchange call's settlements (their items are `settling` now) and demand.
    struct Exchange: Sendable, Hashable {
        var ids: [ID]
        var settlements: [Settlement]
        var leasedAt: [ContinuousClock.Instant]
        var demand: Int
    }

    /// What the rules need from the options.
    struct Rules: Sendable {
        var leaseDuration: Duration
        var maxAttempts: Int
        var retry: RetryStrategy
        var pausedPollInterval: Duration
        var idlePollInterval: Duration
        var exitWhenDrained: Bool

        init(_ options: WorkerOptions) {
            leaseDuration = options.leaseDuration
            maxAttempts = options.maxAttempts
            retry = options.retry
            pausedPollInterval = options.pausedPollInterval
            idlePollInterval = options.idlePollInterval
            exitWhenDrained = options.exitWhenDrained
        }
    }

    /// What a leased item's handler and its slot share, made once per item: the record and
    /// the slot hold one reference (a copy retains one object instead of five).
    final class Handles: Sendable {
        let lease: Lease
        let leasedAt: ContinuousClock.Instant
        /// What the handler sees: its flag, its progress, its lease deadline.
        let flag: CancellationFlag
        let progress: WorkProgress
        let deadlineBox: LeaseDeadlineBox

        init(lease: Lease, leasedAt: ContinuousClock.Instant, deadline: WorkInstant) {
            self.lease = lease
            self.leasedAt = leasedAt
            flag = CancellationFlag()
            progress = WorkProgress()
            deadlineBox = LeaseDeadlineBox(deadline)
        }
    }

    /// One leased item.
    struct Record: Sendable {
        let handles: Handles
        var state: State
        /// The first reason its handler was asked to stop.
        var cancelled: CancellationReason?
        /// Until when the last renewal extended the lease (nil before the first).
        var renewedUntil: WorkInstant?
        /// When the lease runs out unless renewed (what the handler's context reports).
        var deadline: WorkInstant
        /// Cancels the handler's task, once it started.
        var stopHandler: (@Sendable () -> Void)?

        var lease: Lease { handles.lease }
        var leasedAt: ContinuousClock.Instant { handles.leasedAt }
        var flag: CancellationFlag { handles.flag }
        var progress: WorkProgress { handles.progress }
        var deadlineBox: LeaseDeadlineBox { handles.deadlineBox }
    }

    let rules: Rules
    private var sizer: BatchSizer
    private(set) var records: [ID: Record] = [:]
    private var nextID = 0
    private var buffer = CircularBuffer<ID>(initialCapacity: 16)
    /// Finished items, in the order their handlers returned.
    private var done: [ID] = []
    /// Never started (stopped while buffered, or leased after the stop), in lease order.
    private var unstarted: [ID] = []
    private var parkedSlots = CircularBuffer<Int>(initialCapacity: 16)
    /// Slots busy with a handler (running or lost items).
    private(set) var running = 0
    /// A shutdown: no slot starts another item, no more leases.
    private(set) var stopped = false
    /// No more items for the slots at all (drained, or the fetcher failed).
    private(set) var closed = false
    /// Set by ``cancelAll(_:)``: items leased later start cancelled.
    private var cancelledAll: CancellationReason?
    /// Seconds a handler took, averaged (nil until one returned).
    private(set) var handlerSeconds: Double?
    /// Calls sent whose replies are not applied yet (at most ``maxOutstanding``), the demand
    /// they carry, and whether one of them carries settlements.
    private(set) var outstanding = 0
    private var outstandingDemand = 0
    private var settlementsOutstanding = false
    /// Exchange calls outstanding at most: one being answered while the next is on its way.
    static let maxOutstanding = 2
    /// From this capacity on, a call asks for at most half of it (rounded up). Below it the
    /// handlers are slow next to a round trip, and one call asking for everything keeps up.
    static let splitCallsFrom = 16
    /// The most settlements one call carries; the rest go in the next. A Redis backend sends
    /// more than `RedisQueue.settlementsPerCall` (also 1000) as several script calls, one round
    /// trip each: a call that grew past it would take two round trips, let more items finish
    /// meanwhile, and make the next call larger still.
    static let settlementsPerCall = 1000
    // The fetcher's state.
    private var queueEmpty = false
    private var holdOff = false
    private var waiterArmed = false
    private var pending: Int?
    private var drained = false

    init(rules: Rules, sizer: BatchSizer) {
        self.rules = rules
        self.sizer = sizer
    }

    init(options: WorkerOptions) {
        self.init(rules: Rules(options), sizer: BatchSizer(options: options))
    }

    // MARK: Reading

    func state(of id: ID) -> State? { records[id]?.state }

    /// Runs `body` on the record of `id` in place (no copy of the record: the per-item paths
    /// use this, not `records[id]`, whose getter copies the whole record).
    private mutating func withRecord<R>(_ id: ID, _ body: (inout Record) -> R) -> R? {
        guard let index = records.index(forKey: id) else { return nil }
        return body(&records.values[index])
    }

    /// What the handler of `id` is given: its lease, flag, progress and deadline.
    func handles(of id: ID) -> Handles? {
        records[id]?.handles
    }
    var buffered: Int { buffer.count }
    var finished: Int { done.count + unstarted.count }
    var held: Int { records.count }

    // MARK: Items

    /// The backend leased `leases` (the call started at `now`, on the worker's clock): parked
    /// slots start them, the rest wait in the buffer; after a stop they wait to be released.
    mutating func leased(_ leases: [Lease], at now: WorkInstant, leasedAt: ContinuousClock.Instant) -> [Action] {
        var actions: [Action] = []
        var bytes = 0
        for lease in leases {
            bytes += lease.item.bytes.count
            nextID += 1
            let id = nextID
            let deadline = now + rules.leaseDuration
            var record = Record(handles: Handles(lease: lease, leasedAt: leasedAt, deadline: deadline), state: .buffered,
                                cancelled: nil, renewedUntil: nil, deadline: deadline, stopHandler: nil)
            if let reason = cancelledAll {
                record.cancelled = reason
                actions.append(.cancel(id, reason))
            }
            if stopped || closed {
                record.state = .finished(.release(lease))
                unstarted.append(id)
            } else if let slot = parkedSlots.popFirst() {
                record.state = .running
                running += 1
                actions.append(.start(slot: slot, item: id))
            } else {
                buffer.append(id)
            }
            records[id] = record
        }
        sizer.recordLeased(count: leases.count, bytes: bytes)
        return actions
    }

    /// Slot `slot` wants an item; with nothing buffered it parks (is recorded as waiting only
    /// when `mayPark`) until ``leased(_:at:leasedAt:)`` starts one for it or a stop ends it.
    mutating func slotReady(_ slot: Int, mayPark: Bool = true) -> SlotStep {
        if stopped || closed { return .end }
        if let id = buffer.popFirst() {
            withRecord(id) { $0.state = .running }
            running += 1
            return .run(id)
        }
        if mayPark { parkedSlots.append(slot) }
        return .park
    }

    /// A parked slot left (its task was cancelled).
    mutating func slotLeft(_ slot: Int) {
        if let index = parkedSlots.firstIndex(of: slot) { parkedSlots.remove(at: index) }
    }

    /// The handler of `id` started; `stop` cancels its task. True when it was cancelled
    /// already (call `stop` at once).
    mutating func started(_ id: ID, stop: @escaping @Sendable () -> Void) -> Bool {
        withRecord(id) { record in
            record.stopHandler = stop
            return record.cancelled != nil
        } ?? false
    }

    /// The handler of `id` returned after `seconds`; `checkpoint` is the last one it saved.
    /// Returns the lost lease when the item was lost meanwhile (its result is dropped).
    mutating func finished(_ id: ID, _ result: HandlerResult, checkpoint: [UInt8]?, seconds: Double) -> Lease? {
        running -= 1
        handlerSeconds = handlerSeconds.map { $0 * 0.9 + seconds * 0.1 } ?? seconds
        guard let (isLost, cancelled) = withRecord(id, { ($0.state == .lost, $0.cancelled) }) else { return nil }
        if isLost {
            return records.removeValue(forKey: id)?.lease
        }
        guard var lease = withRecord(id, { $0.lease }) else { return nil }
        if let checkpoint { lease.checkpoint = checkpoint }
        let settlement: Settlement
        switch (result, cancelled) {
        case let (.returned(output), _):
            settlement = .complete(lease, result: output)
        case (.threw, .shutdown?), (.threw, .jobCancelled?), (.threw, .leaseLost?):
            settlement = .release(lease)
        case let (.threw, .timedOut(limit)?):
            settlement = failure(lease, message: "timed out after \(CancellationReason.seconds(limit)) s", unprocessable: false)
        case let (.threw(message, unprocessable), nil):
            settlement = failure(lease, message: message, unprocessable: unprocessable)
        }
        withRecord(id) { $0.state = .finished(settlement) }
        done.append(id)
        return nil
    }

    /// A failed attempt: retried after the retry delay, or dead-lettered at the last attempt
    /// (at once when `unprocessable`).
    private func failure(_ lease: Lease, message: String, unprocessable: Bool) -> Settlement {
        let disposition: FailureDisposition =
            lease.attempt >= rules.maxAttempts || unprocessable
            ? .deadLetter : .retry(after: rules.retry.delay(afterAttempt: lease.attempt))
        return .fail(lease, error: message, disposition: disposition)
    }

    /// Asks the handler of `id` to stop for `reason` (the first reason stays).
    mutating func cancel(_ id: ID, _ reason: CancellationReason) -> Action? {
        guard records[id] != nil else { return nil }
        if records[id]?.cancelled == nil { records[id]?.cancelled = reason }
        return .cancel(id, reason)
    }

    /// Asks every handler to stop for `reason`; items leased later start cancelled.
    mutating func cancelAll(_ reason: CancellationReason) -> [Action] {
        if cancelledAll == nil { cancelledAll = reason }
        return records.keys.sorted().compactMap { cancel($0, reason) }
    }

    /// A shutdown: no slot starts another item (parked ones end), buffered items wait to be
    /// released, and no more leases are taken.
    mutating func stop() -> [Action] {
        guard !stopped else { return [] }
        stopped = true
        releaseBuffered()
        return endParkedSlots()
    }

    /// No more items for the slots (drained, or the fetcher failed): parked slots end.
    mutating func close() -> [Action] {
        closed = true
        releaseBuffered()
        return endParkedSlots()
    }

    private mutating func releaseBuffered() {
        while let id = buffer.popFirst() {
            guard let lease = records[id]?.lease else { continue }
            records[id]?.state = .finished(.release(lease))
            unstarted.append(id)
        }
    }

    private mutating func endParkedSlots() -> [Action] {
        defer { parkedSlots.removeAll() }
        return parkedSlots.map { .endSlot($0) }
    }

    // MARK: Lost leases

    /// The one transition to `lost`, and the one place a lost lease is counted: a buffered or
    /// finished item leaves at once, a running one stays until its handler (cancelled here)
    /// returns, a settling one leaves (its exchange found the lease gone).
    private mutating func loseLease(_ id: ID, into actions: inout [Action]) {
        guard let record = records[id] else { return }
        let was: LostWhile
        switch record.state {
        case .lost:
            return
        case .buffered:
            was = .buffered
            if let index = buffer.firstIndex(of: id) { buffer.remove(at: index) }
            records[id] = nil
        case .running:
            was = .running
            records[id]?.state = .lost
            if let cancel = cancel(id, .leaseLost) { actions.append(cancel) }
        case .finished:
            was = .finished
            if let index = done.firstIndex(of: id) { done.remove(at: index) }
            if let index = unstarted.firstIndex(of: id) { unstarted.remove(at: index) }
            records[id] = nil
        case .settling:
            was = .settling
            records[id] = nil
        }
        actions.append(.lost(record.lease, was: was))
    }

    // MARK: Renewals

    /// The leases to renew at `beat` (every item not lost, oldest first), and when the last
    /// of them lapses unless renewed (a lease never renewed counts as taken at `beat`).
    func renewals(at beat: WorkInstant) -> (ids: [ID], leases: [Lease], progress: [WorkProgress], lastLapse: WorkInstant) {
        var ids: [ID] = []
        for (id, record) in records where record.state != .lost { ids.append(id) }
        ids.sort()
        var lastLapse = beat
        var leases: [Lease] = []
        var progress: [WorkProgress] = []
        leases.reserveCapacity(ids.count)
        progress.reserveCapacity(ids.count)
        for id in ids {
            guard let record = records[id] else { continue }
            leases.append(record.lease)
            progress.append(record.progress)
            lastLapse = max(lastLapse, record.renewedUntil ?? beat + rules.leaseDuration)
        }
        return (ids, leases, progress, lastLapse)
    }

    /// A renewal that started at `started` answered `owned` for `ids`: an owned lease's
    /// deadline moves to `started` plus the lease duration; a lease not owned is lost, unless
    /// its settlement is in an exchange (then the settlement was applied).
    mutating func renewed(_ ids: [ID], owned: [Bool], at started: WorkInstant) -> [Action] {
        var actions: [Action] = []
        let until = started + rules.leaseDuration
        for (id, stillOwned) in zip(ids, owned) {
            guard let record = records[id] else { continue }
            if stillOwned {
                records[id]?.renewedUntil = until
                if until > record.deadline {
                    records[id]?.deadline = until
                    actions.append(.deadlineMoved(id, until))
                }
            } else if case .settling = record.state {
                records[id]?.renewedUntil = nil
            } else {
                loseLease(id, into: &actions)
            }
        }
        return actions
    }

    // MARK: The fetcher

    /// The fetcher's next step: an exchange when there is something to settle or lease worth
    /// a call (and the pipelining rules allow one), else wait for a reply while one is
    /// outstanding, else idle (or exit once stopped with nothing left).
    mutating func nextCall() -> FetchStep {
        if outstanding >= Self.maxOutstanding { return .awaitReply }
        let capacity = sizer.capacity(handlerSeconds: handlerSeconds, pending: pending)
        // A large capacity is asked for in halves, so that a second call fits beside the first
        // while it is on its way (otherwise the first call's demand takes the whole capacity and
        // the next waits for its reply: one round trip per batch).
        let perCall = capacity >= Self.splitCallsFrom ? (capacity + 1) / 2 : capacity
        let demand = stopped || queueEmpty || holdOff
            ? 0 : min(perCall, max(0, capacity - running - buffer.count - outstandingDemand))
        // Settlements wait while another call carries some.
        let maySettle = !settlementsOutstanding
        let settleable = maySettle ? done.count + unstarted.count : 0
        // Batch settlements while the slots still have work buffered.
        let threshold = max(1, capacity / 4)
        let worthACall: Bool
        if outstanding == 0 {
            worthACall = stopped || buffer.isEmpty || done.count >= threshold || demand >= threshold
        } else {
            // A second call only when the slots are about to run dry before the reply under
            // way brings items (a batch's worth to take), or for half the capacity's worth of
            // settlements (or a stop's releases): otherwise the reply comes first, and the
            // next call is as large as it would have been. So a nearby Redis sees the calls
            // it saw without pipelining, and a distant one a call each time the buffer runs low.
            worthACall = (buffer.count < threshold && demand >= threshold)
                || (maySettle && (done.count >= max(threshold, capacity / 2) || (stopped && settleable > 0)))
        }
        if (settleable == 0 && demand == 0) || !worthACall {
            if outstanding > 0 { return .awaitReply }
            if stopped && running == 0 && done.isEmpty && unstarted.isEmpty { return .exit }
            let checkDrained = queueEmpty && running == 0 && buffer.isEmpty && done.isEmpty && drained && rules.exitWhenDrained
            let armWaiter = queueEmpty && !waiterArmed && !stopped
            if armWaiter { waiterArmed = true }
            return .idle(checkDrained: checkDrained, armWaiter: armWaiter)
        }
        outstanding += 1
        outstandingDemand += demand
        var exchange = Exchange(ids: [], settlements: [], leasedAt: [], demand: demand)
        guard maySettle else { return .exchange(exchange) }
        // Settle what finished, then what was never started, last first, so that released
        // items return to the head of the queue in their order.
        // At most settlementsPerCall of them: more wait for the next call (the released ones
        // still last first, so they return in their order across calls).
        let fromDone = min(done.count, Self.settlementsPerCall)
        let fromUnstarted = min(unstarted.count, Self.settlementsPerCall - fromDone)
        let ids = done.prefix(fromDone) + unstarted.suffix(fromUnstarted).reversed()
        done.removeFirst(fromDone)
        unstarted.removeLast(fromUnstarted)
        exchange.ids.reserveCapacity(ids.count)
        exchange.settlements.reserveCapacity(ids.count)
        exchange.leasedAt.reserveCapacity(ids.count)
        for id in ids {
            let moved = withRecord(id) { record -> (Settlement, ContinuousClock.Instant)? in
                guard case let .finished(settlement) = record.state else { return nil }
                record.state = .settling(settlement)
                return (settlement, record.leasedAt)
            }
            guard let (settlement, leasedAt) = moved ?? nil else { continue }
            exchange.ids.append(id)
            exchange.settlements.append(settlement)
            exchange.leasedAt.append(leasedAt)
        }
        settlementsOutstanding = !exchange.ids.isEmpty
        return .exchange(exchange)
    }

    /// With a call outstanding: whether a slot's event could make the next call worth sending
    /// before its reply (the buffer ran low, or half the capacity waits to settle). While it
    /// cannot, the slots do not wake a fetcher waiting for a reply (one wake per item saved);
    /// the reply wakes it.
    var nextCallPossibleBeforeReply: Bool {
        guard outstanding == 1 else { return outstanding == 0 }
        let capacity = sizer.capacity(handlerSeconds: handlerSeconds, pending: pending)
        let threshold = max(1, capacity / 4)
        return buffer.count < threshold || done.count >= max(threshold, capacity / 2) || stopped
    }

    /// The exchange `call` (started at `now`, taking `seconds`) answered `result`: settled
    /// items leave, lost ones are counted, the new leases are taken in, and a pause, the rate
    /// limit or a cancel of the queue is acted on. Called once per call ``nextCall()`` made,
    /// in the order it made them.
    mutating func exchanged(_ call: Exchange, _ result: ExchangeResult, seconds: Double, at now: WorkInstant,
                            leasedAt: ContinuousClock.Instant) -> [Action] {
        var actions: [Action] = []
        outstanding = max(0, outstanding - 1)
        outstandingDemand = max(0, outstandingDemand - call.demand)
        if !call.ids.isEmpty { settlementsOutstanding = false }
        sizer.recordExchange(seconds: seconds)
        pending = result.counts.pending
        drained = result.counts.isDrained
        for (index, id) in call.ids.enumerated() {
            if index < result.outcomes.count, result.outcomes[index] == .settled,
               case let .settling(settlement)? = records.removeValue(forKey: id)?.state {
                actions.append(.settled(settlement))
            } else {
                loseLease(id, into: &actions)
            }
        }
        queueEmpty = call.demand > 0 && result.leases.count < call.demand
        if result.control.cancelled {
            // Stops at once, so that the items this call leased are released, not started.
            actions.append(.jobCancelled)
            actions += stop()
            queueEmpty = false
        } else if result.control.paused || result.retryAfter != nil {
            // Not drained: a paused queue waits for resume, a rate-limited one for its next
            // slot; no take until the fetcher is woken after the pause.
            queueEmpty = false
            if call.demand > 0 && !stopped {
                holdOff = true
                waiterArmed = true
                if result.control.paused {
                    actions.append(.holdOff(rules.pausedPollInterval, rateLimited: false))
                } else {
                    actions.append(.holdOff(result.retryAfter ?? rules.idlePollInterval, rateLimited: true))
                }
            }
        }
        actions += leased(result.leases, at: now, leasedAt: leasedAt)
        return actions
    }

    /// The fetcher was woken from outside (work was pushed, or the hold-off is over): look again.
    mutating func woken() {
        waiterArmed = false
        queueEmpty = false
        holdOff = false
    }
}

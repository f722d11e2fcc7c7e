import Synchronization

/// The ``ItemLedger`` behind one lock, with the waits its actions need: parked slots and the
/// parked fetcher are resumed directly, so an item moves from the fetcher to a slot without an
/// executor hop of its own.
///
/// Every method runs one ledger event under the lock and carries out the actions that touch
/// only this process (resume a slot, set a flag, cancel a task, move a deadline); the rest
/// (record an outcome, count a lost lease, hold off, the queue's cancel) are returned to the
/// worker.
final class Dispatcher: Sendable {
    /// An item a slot starts: what its handler needs.
    struct Started: Sendable {
        let id: ItemLedger.ID
        let handles: ItemLedger.Handles

        var lease: Lease { handles.lease }
        var flag: CancellationFlag { handles.flag }
        var progress: WorkProgress { handles.progress }
        var deadline: LeaseDeadlineBox { handles.deadlineBox }
        /// When the backend's reply leased it (the item span's start).
        var leasedAt: ContinuousClock.Instant { handles.leasedAt }
    }

    private struct State {
        var ledger: ItemLedger
        var parked: [Int: CheckedContinuation<Started?, Never>] = [:]
        var fetcher: CheckedContinuation<Void, Never>?
        var fetcherWoken = false
        var externalWake = false
        /// The fetcher's last step was ``ItemLedger/FetchStep/awaitReply``.
        var awaitingReply = false
    }

    private let state: Mutex<State>

    init(options: WorkerOptions) {
        state = Mutex(State(ledger: ItemLedger(options: options)))
    }

    /// Runs `event` on the ledger, carries out the local actions, and returns the others.
    @discardableResult
    private func apply(_ event: (inout ItemLedger) -> [ItemLedger.Action]) -> [ItemLedger.Action] {
        var resumes: [(CheckedContinuation<Started?, Never>, Started?)] = []
        var stops: [@Sendable () -> Void] = []
        let rest = state.withLock { state -> [ItemLedger.Action] in
            let actions = event(&state.ledger)
            var rest: [ItemLedger.Action] = []
            for action in actions {
                switch action {
                case let .start(slot, id):
                    if let continuation = state.parked.removeValue(forKey: slot) {
                        resumes.append((continuation, Self.started(id, &state.ledger)))
                    }
                case let .endSlot(slot):
                    if let continuation = state.parked.removeValue(forKey: slot) { resumes.append((continuation, nil)) }
                case let .cancel(id, reason):
                    // The flag is set under the lock, so it agrees with the ledger's first reason.
                    guard let record = state.ledger.records[id] else { continue }
                    record.flag.cancel(reason)
                    if let stop = record.stopHandler { stops.append(stop) }
                case let .deadlineMoved(id, deadline):
                    state.ledger.records[id]?.deadlineBox.extend(to: deadline)
                case .settled, .lost, .jobCancelled, .holdOff:
                    rest.append(action)
                }
            }
            return rest
        }
        for (continuation, started) in resumes { continuation.resume(returning: started) }
        for stop in stops { stop() }
        return rest
    }

    private static func started(_ id: ItemLedger.ID, _ ledger: inout ItemLedger) -> Started? {
        ledger.handles(of: id).map { Started(id: id, handles: $0) }
    }

    // MARK: Slots

    /// The next item for slot `slot`, or nil once the worker stops or closes (or the calling
    /// task was cancelled).
    func next(slot: Int) async -> Started? {
        // An item buffered already is taken without a continuation. Taking it changes the
        // fetcher's demand: the fetcher is woken under the same lock.
        var fetcher: CheckedContinuation<Void, Never>?
        let ready = state.withLock { state -> Started?? in
            switch state.ledger.slotReady(slot, mayPark: false) {
            case .end: return .some(nil)
            case let .run(id):
                fetcher = Self.wakeFromSlot(&state)
                return .some(Self.started(id, &state.ledger))
            case .park: return nil
            }
        }
        fetcher?.resume()
        if let ready { return ready }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Started?, Never>) in
                let now = state.withLock { state -> Started?? in
                    switch state.ledger.slotReady(slot, mayPark: !Task.isCancelled) {
                    case .end:
                        return .some(nil)
                    case let .run(id):
                        return .some(Self.started(id, &state.ledger))
                    case .park:
                        if Task.isCancelled { return .some(nil) }
                        state.parked[slot] = continuation
                        return nil
                    }
                }
                if let now {
                    continuation.resume(returning: now)
                } else {
                    wakeFetcher()
                }
            }
        } onCancel: {
            let parked = state.withLock { state -> CheckedContinuation<Started?, Never>? in
                state.ledger.slotLeft(slot)
                return state.parked.removeValue(forKey: slot)
            }
            parked?.resume(returning: nil)
        }
    }

    /// The handler of `id` started; `stop` cancels its task (at once if it was cancelled already).
    func started(_ id: ItemLedger.ID, stop: @escaping @Sendable () -> Void) {
        if state.withLock({ $0.ledger.started(id, stop: stop) }) { stop() }
    }

    /// The handler of `id` returned; returns the lost lease when it was lost meanwhile.
    func finished(_ id: ItemLedger.ID, _ result: ItemLedger.HandlerResult, checkpoint: [UInt8]?, seconds: Double) -> Lease? {
        // One lock for the ledger event and the fetcher's wake.
        let (lost, fetcher) = state.withLock { state in
            (state.ledger.finished(id, result, checkpoint: checkpoint, seconds: seconds), Self.wakeFromSlot(&state))
        }
        fetcher?.resume()
        return lost
    }

    /// Asks the handler of `id` to stop for `reason`.
    func cancel(_ id: ItemLedger.ID, reason: CancellationReason) {
        apply { ledger in ledger.cancel(id, reason).map { [$0] } ?? [] }
    }

    /// Asks every handler to stop for `reason` (later items start cancelled).
    func cancelAll(reason: CancellationReason) {
        apply { $0.cancelAll(reason) }
    }

    /// A shutdown: slots start no more items; the fetcher releases the buffered ones.
    func stop() {
        apply { $0.stop() }
        wakeFetcher()
    }

    /// No more items for the slots: parked slots end.
    func close() {
        apply { $0.close() }
    }

    // MARK: The fetcher and the heartbeat

    /// The fetcher's next step, and the slots' occupancy (running, buffered) for the metrics.
    func nextCall() -> (step: ItemLedger.FetchStep, running: Int, buffered: Int) {
        state.withLock { state in
            let step = state.ledger.nextCall()
            state.awaitingReply = step == .awaitReply
            return (step, state.ledger.running, state.ledger.buffered)
        }
    }

    /// What an exchange answered; returns the outcomes for the worker to record.
    func exchanged(_ call: ItemLedger.Exchange, _ result: ExchangeResult, seconds: Double, at now: WorkInstant,
                   leasedAt: ContinuousClock.Instant) -> [ItemLedger.Action] {
        apply { $0.exchanged(call, result, seconds: seconds, at: now, leasedAt: leasedAt) }
    }

    /// The leases to renew at `beat` (see ``ItemLedger/renewals(at:)``).
    func renewals(at beat: WorkInstant) -> (ids: [ItemLedger.ID], leases: [Lease], progress: [WorkProgress], lastLapse: WorkInstant) {
        state.withLock { $0.ledger.renewals(at: beat) }
    }

    /// What a renewal answered; returns the lost leases for the worker to record.
    func renewed(_ ids: [ItemLedger.ID], owned: [Bool], at started: WorkInstant) -> [ItemLedger.Action] {
        let actions = apply { $0.renewed(ids, owned: owned, at: started) }
        // A lost buffered item leaves the buffer: the fetcher may lease another.
        if !actions.isEmpty { wakeFetcher() }
        return actions
    }

    /// Running handlers and held leases (for the heartbeat record and the shutdown log).
    var counts: (running: Int, held: Int) { state.withLock { ($0.ledger.running, $0.ledger.held) } }

    /// The progress handles of the held items, oldest first (for the heartbeat record).
    func progress() -> [(lease: Lease, progress: WorkProgress)] {
        state.withLock { state in
            state.ledger.records.sorted { $0.key < $1.key }.map { ($0.value.lease, $0.value.progress) }
        }
    }

    /// Wakes the fetcher (a slot changed something, or shutdown was requested). A slot's wake
    /// (`fromSlot`) is skipped while the fetcher waits for a reply that must come first
    /// (``ItemLedger/nextCallPossibleBeforeReply``): the reply wakes it.
    func wakeFetcher(external: Bool = false, fromSlot: Bool = false) {
        let fetcher = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if fromSlot { return Self.wakeFromSlot(&state) }
            if external { state.externalWake = true }
            return Self.wake(&state)
        }
        fetcher?.resume()
    }

    /// Marks the fetcher woken and takes its continuation (to resume outside the lock).
    /// A slot's wake: skipped while the fetcher waits for a reply that must come first
    /// (``ItemLedger/nextCallPossibleBeforeReply``): the reply wakes it.
    private static func wakeFromSlot(_ state: inout State) -> CheckedContinuation<Void, Never>? {
        if state.awaitingReply && !state.ledger.nextCallPossibleBeforeReply { return nil }
        return wake(&state)
    }

    private static func wake(_ state: inout State) -> CheckedContinuation<Void, Never>? {
        state.fetcherWoken = true
        defer { state.fetcher = nil }
        return state.fetcher
    }

    /// Suspends the fetcher until something wakes it (returns at once if something did since
    /// the last call). A wake from outside (`wakeFetcher(external:)`) ends the hold-off and the
    /// wait for work (``ItemLedger/woken()``).
    /// Returns true when the wake came from outside.
    func waitForFetcherWork() async -> Bool {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state -> Bool in
                    if state.fetcherWoken || Task.isCancelled { return true }
                    state.fetcher = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            wakeFetcher()
        }
        return state.withLock { state in
            state.fetcherWoken = false
            defer { state.externalWake = false }
            if state.externalWake { state.ledger.woken() }
            return state.externalWake
        }
    }
}

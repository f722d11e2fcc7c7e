import Synchronization

/// The leases this process holds right now, with a way to stop each one's handler.
///
/// Shared by the slots (which add and remove), the heartbeat (which renews and marks lost)
/// and the shutdown path (which cancels everything after the grace period).
final class InFlight: Sendable {
    struct Entry: Sendable {
        let lease: Lease
        let flag: CancellationFlag
        /// What the handler reported: progress for the heartbeat, checkpoints for renewals.
        let progress: WorkProgress
        var cancelHandler: (@Sendable () -> Void)?
        /// Its settlement is in an exchange call right now (perhaps retried after a lost
        /// reply): a renewal that finds the lease gone does not mean the handler lost it.
        var settling = false
    }

    private struct State {
        var entries: [Int: Entry] = [:]
        var nextID = 0
        /// Set by ``cancelAll(reason:)``: entries added later are cancelled at once.
        var closedReason: CancellationReason?
    }

    private let state = Mutex(State())

    /// Registers a lease; returns its id. After ``cancelAll(reason:)`` the new entry starts
    /// cancelled.
    func add(_ lease: Lease, flag: CancellationFlag, progress: WorkProgress = WorkProgress()) -> Int {
        state.withLock { state in
            state.nextID += 1
            state.entries[state.nextID] = Entry(lease: lease, flag: flag, progress: progress, cancelHandler: nil)
            if let reason = state.closedReason { flag.cancel(reason) }
            return state.nextID
        }
    }

    /// Attaches the function that cancels the handler's task. If the entry was already
    /// cancelled, calls it at once.
    func attach(_ id: Int, cancel: @escaping @Sendable () -> Void) {
        let cancelledAlready = state.withLock { state -> Bool in
            state.entries[id]?.cancelHandler = cancel
            return state.entries[id]?.flag.reason != nil
        }
        if cancelledAlready { cancel() }
    }

    func remove(_ id: Int) {
        _ = state.withLock { $0.entries.removeValue(forKey: id) }
    }

    /// Marks entries whose settlement goes into an exchange call: they stay held (and renewed:
    /// a call that never reached the backend settled nothing) until their outcome is recorded,
    /// but a renewal that finds such a lease gone is their settlement having been applied.
    func markSettling(_ ids: [Int]) {
        state.withLock { state in
            for id in ids { state.entries[id]?.settling = true }
        }
    }

    /// Whether the entry's settlement is in an exchange call (see ``markSettling(_:)``).
    func isSettling(_ id: Int) -> Bool { state.withLock { $0.entries[id]?.settling ?? false } }

    /// The held leases, by id.
    func snapshot() -> [(id: Int, lease: Lease, progress: WorkProgress)] {
        state.withLock { $0.entries.map { (id: $0.key, lease: $0.value.lease, progress: $0.value.progress) } }.sorted { $0.id < $1.id }
    }

    var count: Int { state.withLock { $0.entries.count } }

    /// Sets the entry's flag to `reason` and cancels its handler.
    func cancel(_ id: Int, reason: CancellationReason) {
        let cancel = state.withLock { state -> (@Sendable () -> Void)? in
            guard let entry = state.entries[id] else { return nil }
            entry.flag.cancel(reason)
            return entry.cancelHandler
        }
        cancel?()
    }

    /// Cancels every held entry with `reason`.
    func cancelAll(reason: CancellationReason) {
        state.withLock { $0.closedReason = reason }
        for entry in snapshot() { cancel(entry.id, reason: reason) }
    }
}

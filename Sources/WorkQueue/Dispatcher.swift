import NIOCore
import Synchronization

/// The process-wide buffer between the one fetcher and the handler slots.
///
/// The fetcher pushes leased items in; slots take them one at a time and hand back how each
/// ended; the fetcher collects those settlements and settles them in batches with its next
/// lease call. All state sits behind one lock; parked slots and the parked fetcher are resumed
/// directly, so an item moves from the fetcher to a slot without an executor hop of its own.
final class Dispatcher: Sendable {
    /// A leased item in this process: waiting in the buffer, running, or waiting to be settled.
    struct Held: Sendable {
        let lease: Lease
        /// Its ``InFlight`` id (renewed by the heartbeat until settled).
        let id: Int
        let flag: CancellationFlag
        /// Where its handler reports progress and saves checkpoints.
        let progress: WorkProgress
        /// When it was leased (for the lease-to-settle metric).
        let leasedAt: ContinuousClock.Instant
    }

    /// How a slot ended an item, waiting for the fetcher to settle it.
    struct Done: Sendable {
        let settlement: Settlement
        let id: Int
        let leasedAt: ContinuousClock.Instant
    }

    /// What the fetcher needs to decide its next call.
    struct Snapshot: Sendable {
        var running: Int
        var buffered: Int
        var done: Int
        /// Seconds a handler took, averaged (nil until one returned).
        var handlerSeconds: Double?
    }

    private struct State {
        var buffer = CircularBuffer<Held>(initialCapacity: 16)
        var slots = CircularBuffer<(id: Int, continuation: CheckedContinuation<Held?, Never>)>(initialCapacity: 16)
        var done: [Done] = []
        var running = 0
        var closed = false
        /// Set by a shutdown: slots get no more items; the buffer waits for ``close()``.
        var stopped = false
        var fetcher: CheckedContinuation<Void, Never>?
        var fetcherWoken = false
        var externalWake = false
        var handlerSeconds: Double?
        var nextWaiterID = 0
        /// Set when the heartbeat found a lease lost: buffered items may need dropping.
        var lostReported = false
    }

    private let state = Mutex(State())

    // MARK: Slots

    /// The next item for a slot, or nil once the dispatcher is closed (drained, shut down, or
    /// the calling task was cancelled).
    func next() async -> Held? {
        if let ready = state.withLock({ state -> Held?? in
            if state.stopped { return .some(nil) }
            if let held = state.buffer.popFirst() {
                state.running += 1
                return .some(held)
            }
            return state.closed ? .some(nil) : nil
        }) {
            // Taking an item changes the fetcher's demand.
            wakeFetcher()
            return ready
        }
        let id = state.withLock { state -> Int in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Held?, Never>) in
                let now = state.withLock { state -> Held?? in
                    if state.stopped { return .some(nil) }
                    if let held = state.buffer.popFirst() {
                        state.running += 1
                        return .some(held)
                    }
                    if state.closed || Task.isCancelled { return .some(nil) }
                    state.slots.append((id, continuation))
                    return nil
                }
                if let now {
                    continuation.resume(returning: now)
                } else {
                    wakeFetcher()
                }
            }
        } onCancel: {
            let parked = state.withLock { state -> CheckedContinuation<Held?, Never>? in
                guard let index = state.slots.firstIndex(where: { $0.id == id }) else { return nil }
                return state.slots.remove(at: index).continuation
            }
            parked?.resume(returning: nil)
        }
    }

    /// A slot finished an item (`handlerSeconds` it took); the settlement waits for the fetcher.
    func finish(_ done: Done?, handlerSeconds: Double) {
        state.withLock { state in
            state.running -= 1
            if let done { state.done.append(done) }
            state.handlerSeconds = state.handlerSeconds.map { $0 * 0.9 + handlerSeconds * 0.1 } ?? handlerSeconds
        }
        wakeFetcher()
    }

    // MARK: Fetcher

    var snapshot: Snapshot {
        state.withLock { Snapshot(running: $0.running, buffered: $0.buffer.count, done: $0.done.count, handlerSeconds: $0.handlerSeconds) }
    }

    /// Hands newly leased items to waiting slots, then to the buffer. Returns the items it
    /// could not take because it is closed (to be released).
    func push(_ items: [Held]) -> [Held] {
        var resumed: [(CheckedContinuation<Held?, Never>, Held)] = []
        let rejected = state.withLock { state -> [Held] in
            guard !state.closed else { return items }
            if state.stopped {
                state.buffer.append(contentsOf: items)
                return []
            }
            for held in items {
                if let slot = state.slots.popFirst() {
                    state.running += 1
                    resumed.append((slot.continuation, held))
                } else {
                    state.buffer.append(held)
                }
            }
            return []
        }
        for (continuation, held) in resumed { continuation.resume(returning: held) }
        return rejected
    }

    /// Every settlement the slots handed back so far.
    func takeDone() -> [Done] {
        state.withLock { state in
            defer { state.done.removeAll(keepingCapacity: true) }
            return state.done
        }
    }

    /// A shutdown: slots get no more items (parked ones get nil at once); what is buffered
    /// stays for ``close()`` to return in order.
    func stopHandingOut() {
        let parked = state.withLock { state -> [CheckedContinuation<Held?, Never>] in
            state.stopped = true
            defer { state.slots.removeAll() }
            return state.slots.map(\.continuation)
        }
        for continuation in parked { continuation.resume(returning: nil) }
        wakeFetcher()
    }

    /// No more items for the slots: parked slots get nil. Returns the buffered items, which
    /// were never started, in their order.
    func close() -> [Held] {
        let (parked, buffered) = state.withLock { state -> ([CheckedContinuation<Held?, Never>], [Held]) in
            state.closed = true
            let parked = state.slots.map(\.continuation)
            state.slots.removeAll()
            let buffered = Array(state.buffer)
            state.buffer.removeAll()
            return (parked, buffered)
        }
        for continuation in parked { continuation.resume(returning: nil) }
        return buffered
    }

    /// The heartbeat found leases lost: the next ``dropLost()`` looks at the buffer.
    func reportLost() {
        state.withLock { $0.lostReported = true }
        wakeFetcher()
    }

    /// Removes and returns buffered items whose flag says their lease was lost.
    func dropLost() -> [Held] {
        state.withLock { state in
            guard state.lostReported else { return [] }
            state.lostReported = false
            let lost = Array(state.buffer.lazy.filter { $0.flag.reason == .leaseLost })
            let kept = state.buffer.lazy.filter { $0.flag.reason != .leaseLost }
            state.buffer = CircularBuffer(kept)
            return lost
        }
    }

    /// Wakes the fetcher (a slot changed something, or shutdown was requested).
    func wakeFetcher(external: Bool = false) {
        let fetcher = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if external { state.externalWake = true }
            state.fetcherWoken = true
            defer { state.fetcher = nil }
            return state.fetcher
        }
        fetcher?.resume()
    }

    /// Suspends the fetcher until something wakes it (returns at once if something did since
    /// the last call). Returns true when the wake came from outside (`wakeFetcher(external:)`).
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
            return state.externalWake
        }
    }
}

import Synchronization

/// Several queues (shards) worked as one, so that one job can spread over several Redis
/// servers or Redis Cluster slots. Each shard is a complete queue of its own (in Redis, the
/// tutorial's layout under its own name and hash tag); this type only decides which shard each
/// call goes to.
///
/// - Leasing starts at a random shard and goes round-robin: each
///   ``exchange(_:lease:session:duration:)`` asks the shard whose turn it is for the whole
///   batch, and moves on to the following shards only while the batch is short; a shard's turn
///   lasts 32 batches while it has items (so a batch settles the items that shard gave and
///   leases more in one call, and the shard's lease keys stay large instead of being rebuilt
///   every few batches), then the next shard's turn comes. A shard that came up short is
///   skipped by later batches (one round trip per batch while others have items), but one such
///   shard is probed every eighth batch, and all of them are asked whenever the others cannot
///   fill a batch, so no shard starves and a short answer means every shard was empty. The
///   batch after one whose take from a shard failed asks that shard first.
/// - A lease carries its shard in its token (`<shard>/<the shard's token>`): complete, fail,
///   release and renew go to the shard the item came from, the settlements of one batch to all
///   their shards at once.
/// - When one shard's call fails, the exchange fails as a whole, and the items other shards
///   gave it on the way are released back to their shards at once (no attempt counted); what
///   settled is remembered, so that the retried exchange neither repeats it nor reports it lost.
///   Nothing stays leased on the worker's behalf between calls (only items whose release failed
///   too are kept, and handed out by the next exchange).
/// - ``maintain(maxAttempts:interval:session:)``, ``recoverExpiredLeases(maxAttempts:)`` and
///   ``promoteDueRetries()`` run on every shard; ``counts()`` sums them.
/// - ``finishIfDrained(session:)`` is true only when every shard is drained, checked shard by
///   shard in order (producers open shard 0 first and close it last, so a queue being filled is
///   seen at shard 0); when a later shard is not drained, the drained records this call set on
///   the earlier ones are withdrawn (``DrainedMarker``).
/// - ``enqueue(_:)`` puts each call's items, in order, into one shard, the next one per call.
/// - ``waitForWork(timeout:)`` waits on up to eight shards at once, a different window each call
///   when there are more (a push elsewhere is seen at the worker's next poll).
public final class ShardedBackend<Shard: WorkQueueBackend>: WorkQueueBackend {
    /// The most shards a queue may have.
    public static var maxShards: Int { 1024 }

    /// The shards, in order: shard `i` is `shards[i]`.
    public let shards: [Shard]
    private let waitFanout: Int
    /// Batches a shard serves in a row while it has items, before the next shard's turn.
    private let batchesPerTurn: Int
    /// Every this many batches one shard that came up short is asked first again.
    private let probeInterval = 8
    private let state: Mutex<State>

    private struct State {
        /// Where the next batch starts: the shard whose turn it is.
        var cursor: Int
        /// Batches left in the current shard's turn.
        var turnLeft: Int
        /// Shards whose last lease call returned fewer items than asked.
        var short: [Bool]
        var batches = 0
        var probe = 0
        /// Each shard's counts as its last call returned them.
        var counts: [QueueCounts?]
        var enqueueCursor: Int
        var waitCursor: Int
        /// The shard whose take failed in the last batch: the next batch asks it first.
        var retake: Int?
        /// Leases taken by calls of an exchange that failed as a whole and whose release failed
        /// too (their shard did not answer it): handed out by the next exchange.
        var carried: [Lease] = []
        /// Outcomes of settlements applied by an exchange that failed as a whole, by token: the
        /// retried exchange answers them without sending them again.
        var settled: [String: SettleOutcome] = [:]
    }

    /// One queue over `shards`; each call goes to the shard its rules pick.
    ///
    /// - Parameters:
    ///   - shards: the queues, 1 to ``maxShards``.
    ///   - firstShard: where leasing starts (random by default; tests fix it).
    ///   - waitFanout: how many shards ``waitForWork(timeout:)`` waits on at once (at least 1).
    ///   - batchesPerTurn: how many batches in a row one shard serves while it has items (at
    ///     least 1). Staying on a shard lets a batch settle the items that shard gave and lease
    ///     more in one call; moving on each batch would cost a second call per batch.
    /// - Throws: `WorkQueueError.invalidConfiguration` for an empty or too long list.
    public init(shards: [Shard], firstShard: Int? = nil, waitFanout: Int = 8, batchesPerTurn: Int = 32) throws {
        guard !shards.isEmpty, shards.count <= Self.maxShards else {
            throw WorkQueueError.invalidConfiguration(
                "a sharded queue needs 1 to \(Self.maxShards) shards, not \(shards.count)")
        }
        let start = firstShard.map { (($0 % shards.count) + shards.count) % shards.count } ?? Int.random(in: 0..<shards.count)
        self.shards = shards
        self.waitFanout = max(1, waitFanout)
        self.batchesPerTurn = max(1, batchesPerTurn)
        self.state = Mutex(State(cursor: start, turnLeft: max(1, batchesPerTurn), short: Array(repeating: false, count: shards.count),
                                 counts: Array(repeating: nil, count: shards.count),
                                 enqueueCursor: start, waitCursor: start))
    }

    // MARK: Routing

    /// The shard a lease came from (nil for a lease this backend never issued).
    public func shardIndex(of lease: Lease) -> Int? { route(lease)?.shard }

    private func route(_ lease: Lease) -> (shard: Int, lease: Lease)? {
        guard let slash = lease.token.firstIndex(of: "/"), let shard = Int(lease.token[..<slash]),
              shards.indices.contains(shard) else { return nil }
        let token = String(lease.token[lease.token.index(after: slash)...])
        return (shard, Lease(item: lease.item, session: lease.session, attempt: lease.attempt, token: token,
                             checkpoint: lease.checkpoint))
    }

    private static func wrap(_ lease: Lease, shard: Int) -> Lease {
        Lease(item: lease.item, session: lease.session, attempt: lease.attempt,
              token: lease.token.isEmpty ? "" : "\(shard)/\(lease.token)", checkpoint: lease.checkpoint)
    }

    private static func replacing(_ settlement: Settlement, with lease: Lease) -> Settlement {
        switch settlement {
        case let .complete(_, result): .complete(lease, result: result)
        case let .fail(_, error, disposition): .fail(lease, error: error, disposition: disposition)
        case .release: .release(lease)
        }
    }

    /// Runs `body` on the shards at `indices` at once; results in the order of `indices`.
    private func onShards<T: Sendable>(_ indices: [Int], _ body: @escaping @Sendable (Shard) async throws -> T) async throws -> [T] {
        let shards = self.shards
        return try await withThrowingTaskGroup(of: (Int, T).self) { group in
            for (position, index) in indices.enumerated() {
                group.addTask { (position, try await body(shards[index])) }
            }
            var results: [(Int, T)] = []
            results.reserveCapacity(indices.count)
            for try await result in group { results.append(result) }
            return results.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }

    /// The order in which a batch asks the shards for items (the caller holds the lock).
    private func plan(_ state: inout State) -> [Int] {
        let count = shards.count
        var order: [Int] = []
        order.reserveCapacity(count)
        // After a failed take, that shard first, even when short or when a probe is due: its
        // reply may have been lost after the take happened, and its next take returns those
        // items (a RedisQueue keeps the take's tokens). Were the batch filled by other shards,
        // a worker stopping after it would leave them leased, to come back through recovery
        // with an attempt counted.
        var lead = state.retake
        state.retake = nil
        if lead == nil && state.batches % probeInterval == 0 {
            for step in 1...count {
                let index = (state.probe + step) % count
                if state.short[index] {
                    lead = index
                    state.probe = index
                    break
                }
            }
        }
        if let lead { order.append(lead) }
        state.batches += 1
        for step in 0..<count {
            let index = (state.cursor + step) % count
            if !state.short[index] && index != lead { order.append(index) }
        }
        for step in 0..<count {
            let index = (state.cursor + step) % count
            if state.short[index] && index != lead { order.append(index) }
        }
        return order
    }

    // MARK: WorkQueueBackend

    /// Appends the items, in order, to one shard: the next one in turn for each call. Returns
    /// the pending count of all shards afterwards.
    @discardableResult
    public func enqueue(_ items: [WorkItem]) async throws -> Int {
        let target = state.withLock { state in
            defer { state.enqueueCursor = (state.enqueueCursor + 1) % shards.count }
            return state.enqueueCursor
        }
        let mine = try await shards[target].enqueue(items)
        let others = try await onShards(shards.indices.filter { $0 != target }) { try await $0.counts().pending }
        return mine + others.reduce(0, +)
    }

    /// Settles each lease on its own shard and leases from the shard whose turn it is, moving on
    /// while the batch is short (see the type's rules); fails as a whole when one shard's call fails.
    public func exchange(_ settlements: [Settlement], lease max: Int, session: String, duration: Duration) async throws -> ExchangeResult {
        var outcomes = [SettleOutcome?](repeating: nil, count: settlements.count)
        var routed: [(position: Int, shard: Int, settlement: Settlement)] = []
        routed.reserveCapacity(settlements.count)
        for (position, settlement) in settlements.enumerated() {
            if let (shard, lease) = route(settlement.lease) {
                routed.append((position, shard, Self.replacing(settlement, with: lease)))
            } else {
                outcomes[position] = .leaseLost // never issued here: nothing to settle
            }
        }
        // What an earlier, failed exchange already did; then the plan of this one.
        let (remembered, carried, order) = state.withLock { state -> ([Int: SettleOutcome], [Lease], [Int]) in
            var remembered: [Int: SettleOutcome] = [:]
            if !state.settled.isEmpty {
                for entry in routed {
                    if let outcome = state.settled.removeValue(forKey: settlements[entry.position].lease.token) {
                        remembered[entry.position] = outcome
                    }
                }
            }
            var carried: [Lease] = []
            if !state.carried.isEmpty {
                var kept: [Lease] = []
                for lease in state.carried {
                    if lease.session == session && carried.count < max { carried.append(lease) } else { kept.append(lease) }
                }
                state.carried = kept
            }
            return (remembered, carried, max - carried.count > 0 ? plan(&state) : [])
        }
        for (position, outcome) in remembered { outcomes[position] = outcome }
        var groups = [[(position: Int, settlement: Settlement)]](repeating: [], count: shards.count)
        for entry in routed where remembered[entry.position] == nil {
            groups[entry.shard].append((entry.position, entry.settlement))
        }
        let demand = max - carried.count
        let first = order.first
        let shards = self.shards

        // Settlements of shards other than the first one asked for items go at the same time.
        let settleOnly = groups.indices.filter { !groups[$0].isEmpty && $0 != first }
        var calls: [(shard: Int, asked: Int, result: Result<ExchangeResult, any Error>)] = []
        await withTaskGroup(of: (Int, Result<ExchangeResult, any Error>).self) { group in
            for index in settleOnly {
                let batch = groups[index].map(\.settlement)
                group.addTask {
                    do {
                        return (index, .success(try await shards[index].exchange(batch, lease: 0, session: session, duration: duration)))
                    } catch {
                        return (index, .failure(error))
                    }
                }
            }
            var got = 0
            for index in order where got < demand {
                let ask = demand - got
                let batch = index == first ? groups[index].map(\.settlement) : []
                do {
                    let result = try await shards[index].exchange(batch, lease: ask, session: session, duration: duration)
                    got += result.leases.count
                    calls.append((index, ask, .success(result)))
                } catch {
                    calls.append((index, ask, .failure(error)))
                    break
                }
            }
            for await (index, result) in group { calls.append((index, 0, result)) }
        }

        var leases = carried
        var failure: (shard: Int, asked: Int, error: any Error)?
        var control = QueueControl()
        var retryAfter: Duration?
        for call in calls {
            switch call.result {
            case let .success(result):
                control.paused = control.paused || result.control.paused
                control.cancelled = control.cancelled || result.control.cancelled
                if call.asked > 0, let wait = result.retryAfter { retryAfter = min(retryAfter ?? wait, wait) }
                let group = call.asked > 0 && call.shard != first ? [] : groups[call.shard]
                for (entry, outcome) in zip(group, result.outcomes) { outcomes[entry.position] = outcome }
                leases += result.leases.map { Self.wrap($0, shard: call.shard) }
            case let .failure(error):
                if failure == nil || (failure?.asked == 0 && call.asked > 0) { failure = (call.shard, call.asked, error) }
            }
        }
        if let failure {
            // The items taken on the way go back to their shards at once, released (no attempt
            // counted): carried to the retry, they would be held with no renewal by a worker
            // that may stop (SIGTERM, its retry budget spent) before the retry hands them out,
            // and come back only through recovery, with an attempt counted. Those whose shard
            // does not answer the release are carried to the next exchange, as before.
            let unreleased = await release(taken: leases, session: session)
            // Remember what did happen, so that the retried exchange neither repeats it nor
            // reports it as lost.
            state.withLock { state in
                for entry in routed {
                    if let outcome = outcomes[entry.position] { state.settled[settlements[entry.position].lease.token] = outcome }
                }
                state.carried += unreleased
                if failure.asked > 0 {
                    state.cursor = failure.shard
                    state.retake = failure.shard
                }
            }
            throw failure.error
        }
        let unknown = state.withLock { state -> [Int] in
            var lastGiver: Int?
            for call in calls {
                guard case let .success(result) = call.result else { continue }
                state.counts[call.shard] = result.counts
                if call.asked > 0 {
                    state.short[call.shard] = result.leases.count < call.asked
                    if !result.leases.isEmpty { lastGiver = call.shard }
                }
            }
            if let first {
                if let lastGiver, lastGiver != first {
                    // The shard whose turn it was ran short: the one that filled the batch goes on.
                    state.cursor = lastGiver
                    state.turnLeft = batchesPerTurn - 1
                } else {
                    state.turnLeft -= 1
                }
                if state.turnLeft <= 0 || lastGiver == nil {
                    state.cursor = ((lastGiver ?? first) + 1) % shards.count
                    state.turnLeft = batchesPerTurn
                }
            }
            return state.counts.indices.filter { state.counts[$0] == nil }
        }
        if !unknown.isEmpty {
            // Counts of shards not called yet (the first batches): read once.
            let fresh = try await onShards(unknown) { try await $0.counts() }
            state.withLock { state in
                for (index, counts) in zip(unknown, fresh) where state.counts[index] == nil { state.counts[index] = counts }
            }
        }
        let counts = state.withLock { state in QueueCounts(summing: state.counts.compactMap { $0 }) }
        return ExchangeResult(outcomes: outcomes.map { $0 ?? .leaseLost }, leases: leases, counts: counts, control: control,
                              retryAfter: leases.count < max ? retryAfter : nil)
    }

    /// Releases leases this backend took (wrapped tokens) on their shards, last first so that
    /// each shard's items return to its head in their order, one call per shard, all at once.
    /// Returns the leases whose shard's call failed (the release may or may not have happened).
    private func release(taken leases: [Lease], session: String) async -> [Lease] {
        guard !leases.isEmpty else { return [] }
        var groups = [[(wrapped: Lease, inner: Lease)]](repeating: [], count: shards.count)
        var unreleased: [Lease] = []
        for lease in leases.reversed() {
            if let (shard, inner) = route(lease) { groups[shard].append((lease, inner)) } else { unreleased.append(lease) }
        }
        let used = groups.indices.filter { !groups[$0].isEmpty }
        let shards = self.shards
        let failed = await withTaskGroup(of: Int?.self) { group in
            for index in used {
                let batch = groups[index].map { Settlement.release($0.inner) }
                group.addTask {
                    do {
                        // A lost lease (leaseLost) is someone else's item now: nothing to keep.
                        _ = try await shards[index].exchange(batch, lease: 0, session: session, duration: .seconds(1))
                        return nil
                    } catch {
                        return index
                    }
                }
            }
            var failed: [Int] = []
            for await index in group { if let index { failed.append(index) } }
            return failed
        }
        for index in failed.sorted() { unreleased += groups[index].reversed().map(\.wrapped) }
        return unreleased
    }

    /// Waits on up to `waitFanout` shards at once and returns when the first of them may have work.
    public func waitForWork(timeout: Duration) async throws {
        let count = shards.count
        let window = state.withLock { state -> [Int] in
            guard count > waitFanout else { return Array(0..<count) }
            defer { state.waitCursor = (state.waitCursor + waitFanout) % count }
            return (0..<waitFanout).map { (state.waitCursor + $0) % count }
        }
        if window.count == 1 {
            try await shards[window[0]].waitForWork(timeout: timeout)
            return
        }
        // The first shard to return ends the wait; the others are cancelled and not awaited
        // (a blocking Redis command ends at its own timeout).
        let gate = FirstResult<Void>()
        let shards = self.shards
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                gate.install(continuation)
                for index in window {
                    gate.add(Task {
                        do {
                            try await shards[index].waitForWork(timeout: timeout)
                            gate.resolve(.success(()))
                        } catch {
                            gate.resolve(.failure(error))
                        }
                    })
                }
            }
        } onCancel: {
            gate.resolve(.failure(CancellationError()))
        }
    }

    /// Renews each lease on its shard (storing its checkpoint there), one call per shard, all
    /// at once, every call bounded by the request's timeout; false for a lease this backend
    /// never issued.
    public func renew(_ request: RenewRequest) async throws -> [Bool] {
        try await renewOnShards(request, control: false).owned
    }

    /// ``renew(_:)`` with each shard's marks read in its renewal: paused or cancelled when any
    /// shard that answered is; nil when a shard read none, or no shard was called.
    public func renewReadingControl(_ request: RenewRequest) async throws -> RenewReply {
        try await renewOnShards(request, control: true)
    }

    private func renewOnShards(_ request: RenewRequest, control: Bool) async throws -> RenewReply {
        let leases = request.leases
        var owned = [Bool](repeating: false, count: leases.count)
        var groups = [[(position: Int, lease: Lease)]](repeating: [], count: shards.count)
        var saves = [[[UInt8]?]](repeating: [], count: shards.count)
        for (position, lease) in leases.enumerated() {
            if let (shard, inner) = route(lease) {
                groups[shard].append((position, inner))
                saves[shard].append(request.checkpoint(at: position))
            }
        }
        let used = groups.indices.filter { !groups[$0].isEmpty }
        // One call per shard, each with that shard's leases.
        let results = try await withThrowingTaskGroup(of: (Int, RenewReply).self) { group in
            for index in used {
                let shard = self.shards[index]
                let stores = saves[index].contains { $0 != nil } ? saves[index] : []
                let inner = RenewRequest(leases: groups[index].map(\.lease), duration: request.duration, timeout: request.timeout,
                                         checkpoints: stores)
                group.addTask {
                    if control { return (index, try await shard.renewReadingControl(inner)) }
                    return (index, RenewReply(owned: try await shard.renew(inner), control: nil))
                }
            }
            var all: [(Int, RenewReply)] = []
            for try await result in group { all.append(result) }
            return all
        }
        var marks: QueueControl? = results.isEmpty ? nil : QueueControl()
        for (index, reply) in results {
            for (entry, flag) in zip(groups[index], reply.owned) { owned[entry.position] = flag }
            if let part = reply.control, let sum = marks {
                marks = QueueControl(paused: sum.paused || part.paused, cancelled: sum.cancelled || part.cancelled)
            } else {
                marks = nil
            }
        }
        return RenewReply(owned: owned, control: control ? marks : nil)
    }

    /// The counts of every shard, read at once and summed (each shard's are atomic; the sum is
    /// not one instant).
    public func counts() async throws -> QueueCounts {
        QueueCounts(summing: try await shardCounts())
    }

    /// Each shard's counts, in shard order.
    public func shardCounts() async throws -> [QueueCounts] {
        let all = try await onShards(Array(shards.indices)) { try await $0.counts() }
        state.withLock { state in
            for (index, counts) in all.enumerated() { state.counts[index] = counts }
        }
        return all
    }

    /// Runs every shard's upkeep; nil when every shard left its pass to another worker.
    public func maintain(maxAttempts: Int, interval: Duration, session: String) async throws -> RecoveryReport? {
        let reports = try await onShards(Array(shards.indices)) {
            try await $0.maintain(maxAttempts: maxAttempts, interval: interval, session: session)
        }
        let ran = reports.compactMap { $0 }
        guard !ran.isEmpty else { return nil }
        return ran.reduce(into: RecoveryReport()) { total, report in
            total.requeued += report.requeued
            total.deadLettered += report.deadLettered
        }
    }

    /// True only when every shard is drained, checked in shard order; the first shard that is
    /// not ends the check, and the drained records this call set on the shards before it are
    /// withdrawn (best effort: a record left behind only refuses pushes, it loses nothing).
    public func finishIfDrained(session: String) async throws -> Bool {
        for index in shards.indices {
            if try await shards[index].finishIfDrained(session: session) { continue }
            for earlier in shards[..<index] {
                if let marker = earlier as? any DrainedMarker { try? await marker.withdrawDrained(session: session) }
            }
            return false
        }
        return true
    }
}

// MARK: Pause, resume, cancel (every shard; each shard enforces its own share of a rate limit)

extension ShardedBackend: QueueControlling where Shard: QueueControlling {
    /// Paused or cancelled when any shard is; the items aside of every shard.
    public func control() async throws -> QueueControl {
        let parts = try await onShards(Array(shards.indices)) { try await $0.control() }
        var control = QueueControl(cancelledItems: 0)
        for part in parts {
            control.paused = control.paused || part.paused
            control.cancelled = control.cancelled || part.cancelled
            control.cancelledItems = part.cancelledItems.flatMap { value in control.cancelledItems.map { $0 + value } }
        }
        return control
    }

    /// Sets or clears the pause mark of every shard.
    public func setPaused(_ paused: Bool) async throws {
        _ = try await onShards(Array(shards.indices)) { try await $0.setPaused(paused) }
    }

    /// One cancel page on every shard (each checks or sets its own mark atomically); the
    /// items moved and left summed, cancelled when any shard is.
    public func cancelPage(max: Int, mark: Bool) async throws -> ControlPage {
        Self.sum(try await onShards(Array(shards.indices)) { try await $0.cancelPage(max: max, mark: mark) })
    }

    private static func sum(_ pages: [ControlPage]) -> ControlPage {
        pages.reduce(ControlPage(moved: 0, remaining: 0, cancelled: false)) {
            ControlPage(moved: $0.moved + $1.moved, remaining: $0.remaining + $1.remaining, cancelled: $0.cancelled || $1.cancelled)
        }
    }

    /// Clears the cancel mark of every shard.
    public func clearCancelled() async throws {
        _ = try await onShards(Array(shards.indices)) { try await $0.clearCancelled() }
    }

    /// One restore page on every shard (each clears its own mark first with `clearCancel`, and
    /// holds itself open under `hold` while items remain aside on it); summed.
    public func restorePage(max: Int, clearCancel: Bool, hold: String?) async throws -> ControlPage {
        Self.sum(try await onShards(Array(shards.indices)) { try await $0.restorePage(max: max, clearCancel: clearCancel, hold: hold) })
    }
}

extension ShardedBackend: CancelledItemsReading where Shard: QueueControlling & CancelledItemsReading {
    /// The items aside, shard by shard (each oldest first).
    public func cancelledItems(offset: Int, limit: Int) async throws -> [WorkItem] {
        var skip = Swift.max(0, offset)
        var items: [WorkItem] = []
        for shard in shards where items.count < limit {
            let count = try await shard.control().cancelledItems ?? 0
            if skip >= count {
                skip -= count
                continue
            }
            items += try await shard.cancelledItems(offset: skip, limit: limit - items.count)
            skip = 0
        }
        return items
    }
}

extension ShardedBackend: WorkerRecords where Shard: WorkerRecords {
    /// Keeps the worker's heartbeat record on the first shard (one record per worker, however
    /// many shards it works).
    public func heartbeat(_ heartbeat: WorkerHeartbeat, ttl: Duration) async throws {
        try await shards[0].heartbeat(heartbeat, ttl: ttl)
    }

    /// Removes the record from the first shard, and from every shard what the worker kept
    /// there for its session (the record of its last exchange).
    public func removeHeartbeat(session: String) async throws {
        _ = try await onShards(Array(shards.indices)) { try await $0.removeHeartbeat(session: session) }
    }

    /// The live workers recorded on the first shard.
    public func liveWorkers() async throws -> [LiveWorker] {
        try await shards[0].liveWorkers()
    }
}

extension ShardedBackend: QueueRecovery where Shard: QueueRecovery {
    /// Recovers expired leases on every shard; the reports summed.
    public func recoverExpiredLeases(maxAttempts: Int) async throws -> RecoveryReport {
        let reports = try await onShards(Array(shards.indices)) { try await $0.recoverExpiredLeases(maxAttempts: maxAttempts) }
        return reports.reduce(into: RecoveryReport()) { total, report in
            total.requeued += report.requeued
            total.deadLettered += report.deadLettered
        }
    }

    /// Promotes due retries on every shard; returns how many in all.
    public func promoteDueRetries() async throws -> Int {
        try await onShards(Array(shards.indices)) { try await $0.promoteDueRetries() }.reduce(0, +)
    }
}

extension ShardedBackend: DeadLetterQueue where Shard: DeadLetterQueue {
    /// Every shard's dead letters, shard by shard, each oldest first.
    public func deadLetters() async throws -> [DeadLetter] {
        try await onShards(Array(shards.indices)) { try await $0.deadLetters() }.flatMap { $0 }
    }

    /// Retries the dead letters of every shard, each on its own shard; returns how many in all.
    public func retryDeadLetters() async throws -> Int {
        try await onShards(Array(shards.indices)) { try await $0.retryDeadLetters() }.reduce(0, +)
    }

    /// Deletes the dead letters of every shard; returns how many in all.
    public func purgeDeadLetters() async throws -> Int {
        try await onShards(Array(shards.indices)) { try await $0.purgeDeadLetters() }.reduce(0, +)
    }
}

extension ShardedBackend: CompletionLog where Shard: CompletionLog {
    /// Every shard's records merged by ID (time, sequence, then shard), each ID prefixed with
    /// its shard (`<shard>/<ms>-<n>`). `after` is a record this returned: each shard is read
    /// from the position it names: a read is complete for the records present, but a record
    /// another shard adds later with an older position (the same millisecond, a lower sequence)
    /// is behind the cursor. To follow a sharded log as it grows, read the shards with a cursor
    /// each, as `workqueue results` does (`CompletionReader`).
    public func completions(after: String?, limit: Int) async throws -> [CompletionRecord] {
        let limit = Swift.min(Swift.max(limit, 1), 1000)
        let cursor = after.flatMap(CompletionRecord.Position.init)
        let shards = self.shards
        let pages = try await withThrowingTaskGroup(of: [CompletionRecord].self) { group in
            for index in shards.indices {
                // Records of this shard that come after the cursor: a later shard's record at
                // the same time and sequence comes after it, an earlier shard's does not.
                var start: String?
                if let cursor {
                    if index <= cursor.shard {
                        start = cursor.streamID
                    } else if cursor.sequence > 0 {
                        start = "\(cursor.milliseconds)-\(cursor.sequence - 1)"
                    } else if cursor.milliseconds > 0 {
                        start = "\(cursor.milliseconds - 1)-\(Int.max)"
                    }
                }
                group.addTask {
                    try await shards[index].completions(after: start, limit: limit).map { record in
                        var record = record
                        record.id = "\(index)/\(record.id)"
                        return record
                    }
                }
            }
            var all: [CompletionRecord] = []
            for try await page in group { all += page }
            return all
        }
        let sorted = pages.sorted { ($0.position ?? .init(milliseconds: 0, sequence: 0)) < ($1.position ?? .init(milliseconds: 0, sequence: 0)) }
        return Array(sorted.prefix(limit))
    }

    /// Deletes each record on its shard (IDs without a shard of this backend are skipped).
    @discardableResult
    public func deleteCompletions(_ ids: [String]) async throws -> Int {
        var byShard: [Int: [String]] = [:]
        for id in ids {
            guard let position = CompletionRecord.Position(id), id.contains("/"), shards.indices.contains(position.shard) else { continue }
            byShard[position.shard, default: []].append(position.streamID)
        }
        var deleted = 0
        for (shard, ids) in byShard { deleted += try await shards[shard].deleteCompletions(ids) }
        return deleted
    }

    /// The shards' counts added up.
    public func completionCounts() async throws -> (kept: Int, dropped: Int) {
        var total = (kept: 0, dropped: 0)
        for shard in shards {
            let counts = try await shard.completionCounts()
            total.kept += counts.kept
            total.dropped += counts.dropped
        }
        return total
    }
}

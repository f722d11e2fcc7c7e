import CoreMetrics
import Logging
import ServiceLifecycle
import Synchronization

/// The runner: leases items, runs the handler, renews leases, retries, recovers, and returns
/// when the queue is drained or a shutdown is requested.
///
/// - One fetcher per worker settles what the slots finished and leases what they will need
///   in one backend call per batch (`WorkQueueBackend.exchange(_:lease:session:duration:)`),
///   and hands the items to ``WorkerOptions/concurrency`` slots through a buffer in the
///   process, sized by ``WorkerOptions/prefetch`` or adaptively.
/// - One heartbeat per worker renews every held lease each third of
///   ``WorkerOptions/leaseDuration``; a lease found lost cancels its handler, and the item is
///   not completed (the new owner's result counts).
/// - A handler's progress (`WorkContext.reportProgress(_:note:)`) rides in the heartbeat
///   record; a checkpoint it saved (`WorkContext.saveCheckpoint(_:)`) is stored with the next
///   renewal (`WorkQueueBackend.renew(_:)`) and handed to the
///   item's next attempt in `Lease.checkpoint`.
/// - A handler error counts an attempt: the item is retried after
///   ``WorkerOptions/retry``'s delay, or dead-lettered with the error once
///   ``WorkerOptions/maxAttempts`` is reached.
/// - Every ``WorkerOptions/recoveryInterval`` the worker returns items with expired leases
///   (their worker died) to pending and promotes due retries; no leader (a shared backend may
///   give each interval's pass to one worker of the fleet).
/// - Every ``WorkerOptions/heartbeatInterval`` the worker refreshes its heartbeat record
///   (`WorkerHeartbeat`: host, handler, items in flight, completed, failed) for operators;
///   it is removed when the worker returns.
/// - With ``WorkerOptions/exitWhenDrained``, ``run()`` returns once pending, in-flight
///   (anyone's) and scheduled retries are all empty; while another worker still holds an item
///   it keeps waiting, because that item may come back.
/// - As a swift-service-lifecycle `Service`, SIGTERM/SIGINT on the group (or ``shutdown()``)
///   stop leasing at once; in-flight handlers get ``WorkerOptions/shutdownGracePeriod`` to
///   finish, then are cancelled and their items released to pending, no attempt counted.
public final class Worker: Service, Sendable {
    /// The session id of this worker: the prefix of its leases' tokens.
    public let session: String

    private let backend: any WorkQueueBackend
    private let handler: any WorkHandler
    private let options: WorkerOptions
    private let clock: any WorkClock
    private let logger: Logger
    private let events: (@Sendable (WorkerEvent) -> Void)?
    private let metrics: WorkerMetrics

    private let stopSignal = ShutdownSignal()
    /// Between the fetcher and the slots; a shutdown stops it handing out items at once.
    private let dispatcher = Dispatcher()
    /// Fires the settle timeout after the grace period: from then on nothing is waited for.
    private let deadline = ShutdownSignal()
    private let inFlight = InFlight()
    private let summary = Mutex(WorkerSummary())
    /// Set once the queue was found cancelled: the worker stops as for a shutdown, and returns
    /// ``WorkerStopReason/cancelled``.
    private let cancelSeen = Mutex(false)
    /// Handlers left running past their time limit and grace that have not returned yet; each
    /// holds a thread (a spare one: the pool has ``WorkerOptions/concurrency`` of them).
    private let abandoned = Mutex(0)
    /// Set once more handlers were abandoned than there are spare threads: the worker stops as
    /// for a shutdown and returns ``WorkerStopReason/handlersStuck``.
    private let stuckSeen = Mutex(false)
    /// When this worker was made, for its heartbeat record (ms since the Unix epoch).
    private let startedAtMilliseconds = WorkerHeartbeat.wallClockMilliseconds()

    /// A worker of `handler` over `backend`; it does nothing until ``run()`` or
    /// ``runUntilStopped()``.
    ///
    /// - Parameters:
    ///   - backend: where the queue lives.
    ///   - handler: the code run per item.
    ///   - options: leasing, retry and shutdown settings; validated here.
    ///   - session: the lease owner id; a fresh UUID by default.
    ///   - clock: the time source of every timed rule.
    ///   - logger: diagnostics (stderr in the command).
    ///   - events: called for every ``WorkerEvent``, from any task.
    /// - Throws: `WorkQueueError.invalidConfiguration` for a bad option.
    public init(
        backend: any WorkQueueBackend,
        handler: any WorkHandler,
        options: WorkerOptions = WorkerOptions(),
        session: String = Worker.makeSessionID(),
        clock: any WorkClock = SystemClock(),
        logger: Logger = Logger(label: "workqueue"),
        events: (@Sendable (WorkerEvent) -> Void)? = nil
    ) throws {
        try options.validate()
        self.session = session
        self.backend = backend
        self.handler = handler
        self.options = options
        self.clock = clock
        var logger = logger
        logger[metadataKey: "session"] = "\(session)"
        self.logger = logger
        self.events = events
        self.metrics = WorkerMetrics(dimensions: options.metricsLabels, factory: options.metricsFactory ?? MetricsSystem.factory)
    }

    /// A fresh random session id (a UUID string, as `rediswq.py` uses).
    public static func makeSessionID() -> String {
        // A random (version 4) UUID, lowercase, without Foundation.
        var generator = SystemRandomNumberGenerator()
        var bytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
        bytes[6] = bytes[6] & 0x0F | 0x40
        bytes[8] = bytes[8] & 0x3F | 0x80
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        for (index, byte) in bytes.enumerated() {
            if [4, 6, 8, 10].contains(index) { text.append(UInt8(ascii: "-")) }
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// Runs until drained or shut down (through the service group, or ``shutdown()``).
    public func run() async throws { _ = try await runUntilStopped() }

    /// Requests a graceful shutdown, as SIGTERM does. Safe to call from anywhere, any number of
    /// times.
    public func shutdown() {
        // No slot starts another item from now on; the fetcher releases the buffered ones.
        dispatcher.stopHandingOut()
        if stopSignal.fire() {
            logger.info("shutdown requested: no new leases; in-flight items get the grace period")
        }
    }

    /// Like ``run()``, and tells what happened.
    ///
    /// After a shutdown request it returns within ``WorkerOptions/shutdownGracePeriod`` plus
    /// ``WorkerOptions/shutdownSettleTimeout`` whatever the backend or the handlers do: a
    /// handler that ignores cancellation, or a backend call stuck on a stalled server, is left
    /// behind (its task is cancelled, not awaited), and the items not settled by then stay
    /// leased and come back through recovery.
    public func runUntilStopped() async throws -> WorkerSummary {
        try await withGracefulShutdownHandler {
            try await runBounded()
        } onGracefulShutdown: {
            self.shutdown()
        }
    }

    /// Runs the loops, but stops waiting for them at the shutdown deadline.
    private func runBounded() async throws -> WorkerSummary {
        do {
            return try await deadline.race("the shutdown") { try await self.runLoops() }
        } catch let error as WorkQueueError where error.isPermanent {
            throw error
        } catch let error where stopSignal.isFired && !(error is CancellationError) {
            let held = inFlight.count
            logger.warning("""
                stopping without settling everything: \(error); \(held) item(s) still leased by this worker \
                come back through recovery once their lease expires
                """)
            let cancelled = cancelSeen.withLock { $0 }
            let stuck = stuckSeen.withLock { $0 }
            return summary.withLock { summary in
                summary.stopReason = cancelled ? .cancelled : stuck ? .handlersStuck : .shutdown
                return summary
            }
        }
    }

    // MARK: - The loops

    private func runLoops() async throws -> WorkerSummary {
        // One thread per slot, plus as many spares: a handler abandoned past its time limit
        // keeps its thread, and a spare takes its place (at most `concurrency` of them).
        let threads = handler.execution == .dedicatedThread ? HandlerThreadPool(threads: options.concurrency * 2) : nil
        defer { if let threads { Task { await threads.shutdown() } } }
        let dispatcher = self.dispatcher

        try await withThrowingTaskGroup(of: Void.self) { services in
            services.addTask { try await self.heartbeatLoop(dispatcher) }
            services.addTask { try await self.maintenanceLoop() }
            services.addTask { try await self.heartbeatRecordLoop(dispatcher) }
            services.addTask { await self.graceWatcher() }
            services.addTask {
                // A shutdown request wakes the fetcher, which stops leasing and releases.
                await self.stopSignal.wait()
                dispatcher.wakeFetcher()
            }
            defer { services.cancelAll() }
            try await withThrowingTaskGroup(of: Void.self) { loops in
                loops.addTask {
                    do {
                        try await self.fetchLoop(dispatcher)
                    } catch {
                        _ = dispatcher.close()
                        throw error
                    }
                }
                for _ in 0..<options.concurrency {
                    loops.addTask { await self.slotLoop(dispatcher, threads: threads) }
                }
                try await loops.waitForAll()
            }
        }
        // Every loop has ended (the group awaited them), so no late refresh can follow this.
        // Called with heartbeats off too: it also drops the session's record of its last
        // exchange, which nothing else would remove.
        do {
            try await (backend as? any WorkerRecords)?.removeHeartbeat(session: session)
        } catch {
            logger.debug("removing the heartbeat record failed: \(error); it expires on its own")
        }
        let cancelled = cancelSeen.withLock { $0 }
        if cancelled { await sweepCancelled() }
        let stuck = stuckSeen.withLock { $0 }
        return summary.withLock { summary in
            summary.stopReason = cancelled ? .cancelled : stuck ? .handlersStuck : stopSignal.isFired ? .shutdown : .drained
            return summary
        }
    }

    /// The queue was found cancelled: every in-flight handler is cancelled with
    /// ``CancellationReason/jobCancelled`` and the worker stops as for a shutdown (the released
    /// items are moved aside by ``sweepCancelled()`` before it returns).
    private func jobCancelled() {
        let first = cancelSeen.withLock { seen in
            defer { seen = true }
            return !seen
        }
        guard first else { return }
        logger.notice("the queue was cancelled: cancelling in-flight handlers and stopping")
        inFlight.cancelAll(reason: .jobCancelled)
        shutdown()
    }

    /// After a cancel: moves what this worker released (and anything else pending) aside with
    /// the cancelled items, so that nothing of a cancelled job is left pending; not once the
    /// queue was resumed meanwhile (its items are wanted again). Each page checks the mark
    /// and moves in one atomic step and never sets the mark (a resume racing the sweep wins).
    private func sweepCancelled() async {
        do {
            for _ in 0..<100_000 {
                guard let page = try await (backend as? any QueueControlling)?.cancelPage(max: 10_000, mark: false) else { return }
                if !page.cancelled || page.remaining == 0 || page.moved == 0 { return }
            }
        } catch {
            logger.warning("moving released items aside failed: \(error); run `workqueue cancel` again to move them")
        }
    }

    /// One fetcher per process: settles what the slots finished and leases what they will need,
    /// in one backend call per batch, until drained or shut down.
    private func fetchLoop(_ dispatcher: Dispatcher) async throws {
        var sizer = BatchSizer(options: options)
        var queueEmpty = false
        var counts: QueueCounts?
        var waiter: Task<Void, Never>?
        var stopping = false
        // Paused, or held back by the rate limit: no take until the waiter wakes the fetcher.
        var holdOff = false
        var lastControl = QueueControl()
        metrics.recordControl(lastControl)
        var unstarted: [Dispatcher.Held] = []
        defer { waiter?.cancel() }
        let clock = ContinuousClock()
        while true {
            if !stopping && stopSignal.isFired {
                stopping = true
                // Give back what was never started, last first, so that the items return to
                // the head of the queue in their order.
                unstarted = dispatcher.close()
            }
            for lost in dispatcher.dropLost() {
                inFlight.remove(lost.id)
                record(.leaseLost(lost.lease)) { $0.leaseLost += 1 }
            }
            let snapshot = dispatcher.snapshot
            metrics.recordOccupancy(running: snapshot.running, buffered: snapshot.buffered)
            let capacity = sizer.capacity(handlerSeconds: snapshot.handlerSeconds, pending: counts?.pending)
            let demand = stopping || queueEmpty || holdOff ? 0 : max(0, capacity - snapshot.running - snapshot.buffered)
            // Batch settlements while the slots still have work buffered.
            let threshold = max(1, capacity / 4)
            let worthACall = stopping || snapshot.buffered == 0 || snapshot.done >= threshold || demand >= threshold
            if (snapshot.done == 0 && demand == 0 && unstarted.isEmpty) || !worthACall {
                if stopping && snapshot.running == 0 && snapshot.done == 0 { return }
                if queueEmpty && snapshot.running == 0 && snapshot.buffered == 0 && snapshot.done == 0 {
                    // The final check is the backend's, atomic with its producer marks: a
                    // queue still being filled is not drained, and the fetcher looks again.
                    if let counts, counts.isDrained, options.exitWhenDrained,
                       try await retrying("drain check", { try await self.backend.finishIfDrained(session: self.session) }) {
                        logger.debug("queue drained")
                        _ = dispatcher.close()
                        return
                    }
                }
                if queueEmpty && waiter == nil && !stopping {
                    // Nothing pending: wait (bounded) for a push, then look again.
                    waiter = Task {
                        do {
                            try await self.backend.waitForWork(timeout: self.options.idlePollInterval)
                        } catch is CancellationError {
                        } catch {
                            // Refused at once (OOM, a dropped connection): wait out the poll
                            // interval all the same, or the fetcher would spin on Redis.
                            self.metrics.recordBackendError()
                            self.logger.debug("waiting for work failed: \(error); looking again in \(self.options.idlePollInterval)")
                            try? await self.clock.sleep(for: self.options.idlePollInterval)
                        }
                        dispatcher.wakeFetcher(external: true)
                    }
                }
                if await dispatcher.waitForFetcherWork() {
                    waiter = nil
                    queueEmpty = false
                    holdOff = false
                }
                try Task.checkCancellation()
                continue
            }
            let done = dispatcher.takeDone()
            let settlements = done.map(\.settlement) + unstarted.reversed().map { .release($0.lease) }
            let releasedIDs = unstarted.reversed().map(\.id)
            let leasedAt = done.map(\.leasedAt) + unstarted.reversed().map(\.leasedAt)
            unstarted = []
            let settlingIDs = done.map(\.id) + releasedIDs
            // Settled by this call even if its reply is lost: the heartbeat must not take a
            // renewal refused meanwhile for a lease lost by a running handler.
            inFlight.markSettling(settlingIDs)
            let started = clock.now
            let result = try await retrying(demand > 0 ? "lease" : "settle") {
                try await self.backend.exchange(settlements, lease: demand, session: self.session, duration: self.options.leaseDuration)
            }
            sizer.recordExchange(seconds: (clock.now - started).seconds)
            counts = result.counts
            record(outcomes: result.outcomes, for: settlements, ids: settlingIDs)
            metrics.recordExchange(outcomes: result.outcomes, settlements: settlements, leasedAt: leasedAt, now: clock.now)
            metrics.recordLeased(result.leases.count)
            queueEmpty = demand > 0 && result.leases.count < demand
            if result.control != lastControl {
                lastControl = result.control
                metrics.recordControl(result.control)
            }
            if result.control.cancelled {
                jobCancelled()
                queueEmpty = false
            } else if result.control.paused || result.retryAfter != nil {
                // Not drained: a paused queue waits for resume, a rate-limited one for its
                // next slot. Wait (without spinning on the backend), then ask again.
                queueEmpty = false
                if demand > 0 && !stopping {
                    holdOff = true
                    let pause: Duration
                    if result.control.paused {
                        pause = options.pausedPollInterval
                    } else {
                        pause = result.retryAfter ?? options.idlePollInterval
                        metrics.recordRateLimited()
                    }
                    waiter?.cancel()
                    waiter = Task {
                        try? await self.clock.sleep(for: pause)
                        if !Task.isCancelled { dispatcher.wakeFetcher(external: true) }
                    }
                }
            }
            guard !result.leases.isEmpty else { continue }
            let leasedNow = clock.now
            let held = result.leases.map { lease in
                let flag = CancellationFlag()
                let progress = WorkProgress()
                return Dispatcher.Held(lease: lease, id: inFlight.add(lease, flag: flag, progress: progress), flag: flag,
                                       progress: progress, leasedAt: leasedNow)
            }
            // Leased while a shutdown came in: give them back with the next call.
            unstarted += dispatcher.push(held)
        }
    }

    /// Takes items from the dispatcher and runs the handler on each, until it closes.
    private func slotLoop(_ dispatcher: Dispatcher, threads: HandlerThreadPool?) async {
        let clock = ContinuousClock()
        while let held = await dispatcher.next() {
            if held.flag.reason == .leaseLost {
                // Its lease was lost while it waited: its new owner has it.
                inFlight.remove(held.id)
                record(.leaseLost(held.lease)) { $0.leaseLost += 1 }
                dispatcher.finish(nil, handlerSeconds: 0)
                continue
            }
            let started = clock.now
            let (settlement, leftBehind) = await process(held, threads: threads)
            let elapsed = clock.now - started
            metrics.recordHandler(elapsed)
            dispatcher.finish(settlement.map { Dispatcher.Done(settlement: $0, id: held.id, leasedAt: held.leasedAt) },
                              handlerSeconds: elapsed.seconds)
            // A handler that outlived its time limit and grace: its attempt is settled, but it
            // still runs (keeping its thread, for a dedicated-thread handler). The slot goes on
            // with the next item on a spare thread; once more are abandoned than there are
            // spares, the worker stops and releases what it holds instead of freezing.
            if let leftBehind { abandon(leftBehind, item: held.lease.item) }
        }
    }

    /// Counts a handler left running until it returns; stops the worker when the abandoned
    /// handlers outnumber the spare threads (``WorkerOptions/concurrency``).
    private func abandon(_ task: Task<String?, any Error>, item: WorkItem) {
        let count = abandoned.withLock { count in
            count += 1
            return count
        }
        let spares = options.concurrency
        Task { [self] in
            _ = await task.result
            let left = abandoned.withLock { count in
                count -= 1
                return count
            }
            logger.notice("a handler left running past its time limit returned; \(left) still running",
                          metadata: ["item": .stringConvertible(ItemLabel(item: item))])
        }
        guard count > spares else {
            logger.warning("""
                \(count) handler(s) left running past their time limit (at most \(spares) while the worker goes on: \
                each keeps a thread)
                """, metadata: ["item": .stringConvertible(ItemLabel(item: item))])
            return
        }
        let first = stuckSeen.withLock { seen in
            defer { seen = true }
            return !seen
        }
        guard first else { return }
        logger.error("""
            \(count) handlers ignored their time limit and are still running, more than the \(spares) spare thread(s): \
            stopping this worker (its items are released to pending) rather than working on with threads held
            """)
        shutdown()
    }

    /// Runs the handler on one leased item; returns how to settle it (nil when its lease was
    /// lost meanwhile: nothing is recorded, the item belongs to its new owner), and the
    /// handler's task when it was left behind still running (past its time limit and grace).
    private func process(_ held: Dispatcher.Held, threads: HandlerThreadPool?) async
        -> (Settlement?, Task<String?, any Error>?) {
        let lease = held.lease
        emit(.leased(lease))
        let base = logger.handler
        let itemLogger = Logger(label: logger.label) { _ in
            ItemLogHandler(base: base, item: ItemLabel(item: lease.item), attempt: lease.attempt)
        }
        let context = WorkContext(
            attempt: lease.attempt,
            maxAttempts: options.maxAttempts,
            leaseDeadline: clock.now + options.leaseDuration,
            session: session,
            options: options.handlerOptions,
            logger: itemLogger,
            cancellation: held.flag,
            checkpoint: lease.checkpoint,
            progress: held.progress
        )
        let handler = self.handler
        let task = Task(executorPreference: threads) {
            try await handler.handle(lease.item, context: context)
        }
        inFlight.attach(held.id) { task.cancel() }
        let result: Result<String?, any Error>
        var leftBehind: Task<String?, any Error>?
        if let limit = options.itemTimeout {
            if let returned = await boundedResult(of: task, id: held.id, limit: limit) {
                result = returned
            } else {
                itemLogger.warning("""
                    the handler did not return within \(options.itemTimeoutGrace) of its time limit; \
                    failing the attempt and leaving the handler running
                    """)
                result = .failure(CancellationError())
                leftBehind = task
            }
        } else {
            result = await withTaskCancellationHandler {
                await task.result
            } onCancel: {
                self.inFlight.cancel(held.id, reason: .shutdown)
            }
        }
        // The settlement carries the item's latest checkpoint: a completion or a dead letter
        // deletes the stored one.
        var settling = lease
        if let saved = held.progress.savedCheckpoint { settling.checkpoint = saved }
        switch (result, held.flag.reason) {
        case (_, .leaseLost?):
            itemLogger.warning("lease lost while working; the item is left to its new owner")
            inFlight.remove(held.id)
            record(.leaseLost(lease)) { $0.leaseLost += 1 }
            return (nil, leftBehind)
        case let (.success(output), _):
            return (.complete(settling, result: output), leftBehind)
        case (.failure, .shutdown?), (.failure, .jobCancelled?):
            return (.release(settling), leftBehind)
        case let (.failure, .timedOut(limit)?):
            return (failure(settling, message: "timed out after \(CancellationReason.seconds(limit)) s", unprocessable: false),
                    leftBehind)
        case let (.failure(error), nil):
            // An item that can never succeed (UnprocessableItem, e.g. a typed item that does
            // not decode) is dead-lettered on this attempt; retrying it would only repeat it.
            return (failure(settling, message: String(describing: error), unprocessable: error is UnprocessableItem), leftBehind)
        }
    }

    /// A failed attempt: retried after the retry delay, or dead-lettered at the last attempt
    /// (at once when `unprocessable`).
    private func failure(_ lease: Lease, message: String, unprocessable: Bool) -> Settlement {
        let disposition: FailureDisposition =
            lease.attempt >= options.maxAttempts || unprocessable
            ? .deadLetter : .retry(after: options.retry.delay(afterAttempt: lease.attempt))
        return .fail(lease, error: message, disposition: disposition)
    }

    /// The handler's result, waiting at most `limit` plus the grace on the worker's clock: at
    /// `limit` its flag is set with ``CancellationReason/timedOut(after:)`` and its task
    /// cancelled; nil when it has not returned by the end of the grace (it is left running).
    private func boundedResult(of task: Task<String?, any Error>, id: Int, limit: Duration) async
        -> Result<String?, any Error>? {
        let first = FirstResult<Result<String?, any Error>?>()
        let clock = self.clock
        let inFlight = self.inFlight
        let grace = options.itemTimeoutGrace
        first.add(Task { first.resolve(.success(await task.result)) })
        first.add(Task {
            do { try await clock.sleep(for: limit) } catch { return }
            inFlight.cancel(id, reason: .timedOut(after: limit))
            do { try await clock.sleep(for: grace) } catch { return }
            first.resolve(.success(nil))
        })
        do {
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { first.install($0) }
            } onCancel: {
                inFlight.cancel(id, reason: .shutdown)
            }
        } catch {
            return nil
        }
    }

    /// Records what the backend did with each settlement.
    private func record(outcomes: [SettleOutcome], for settlements: [Settlement], ids: [Int]) {
        for (index, settlement) in settlements.enumerated() {
            if index < ids.count { inFlight.remove(ids[index]) }
            let lease = settlement.lease
            guard index < outcomes.count, outcomes[index] == .settled else {
                logger.warning("lease lost before the item was settled; nothing was recorded for this delivery",
                               metadata: Self.metadata(lease))
                record(.leaseLost(lease)) { $0.leaseLost += 1 }
                continue
            }
            switch settlement {
            case let .complete(_, output):
                record(.completed(lease, result: output)) { $0.completed += 1 }
            case .release:
                logger.info("released an unfinished item to pending", metadata: Self.metadata(lease))
                record(.released(lease)) { $0.released += 1 }
            case let .fail(_, message, disposition):
                switch disposition {
                case .deadLetter:
                    logger.error("attempt \(lease.attempt) of \(options.maxAttempts) failed: \(FailureText(message)); dead-lettered",
                                 metadata: Self.metadata(lease))
                    record(.failed(lease, error: message, disposition: disposition)) { $0.deadLettered += 1 }
                case .retry(let delay):
                    logger.warning("attempt \(lease.attempt) of \(options.maxAttempts) failed: \(FailureText(message)); retry in \(delay)",
                                   metadata: Self.metadata(lease))
                    record(.failed(lease, error: message, disposition: disposition)) { $0.retried += 1 }
                }
            }
        }
    }

    /// Renews every held lease each third of the lease duration; cancels the handlers of
    /// leases found lost. A renewal that fails is tried again (backing off from 100 ms to 1 s)
    /// until the last of the held leases would have lapsed, each try waiting for its answer
    /// as long as that leaves: a stall of the backend shorter than the lease minus one renewal
    /// period (two thirds of the lease) costs no lease (see the Guarantees article of WorkQueueCore).
    private func heartbeatLoop(_ dispatcher: Dispatcher) async throws {
        let interval = options.leaseDuration / 3
        // When each held lease is known to lapse unless renewed: the start of the renewal that
        // last extended it, plus the lease duration.
        var lapses: [Int: WorkInstant] = [:]
        // Beats on a fixed schedule, not an interval after the last renewal ended: a renewal's
        // own duration never delays the next one.
        var nextBeat = clock.now + interval
        while true {
            try await clock.sleep(until: nextBeat)
            nextBeat = nextBeat + interval
            if nextBeat < clock.now { nextBeat = clock.now + interval }  // far behind: no burst of beats
            let held = inFlight.snapshot()
            guard !held.isEmpty else {
                lapses = [:]
                continue
            }
            // Checkpoints saved since the last renewal ride with this one (none: the plain renewal).
            let unstored = held.map { $0.progress.unstoredCheckpoint() }
            let checkpoints = unstored.contains { $0 != nil } ? unstored.map { $0?.bytes } : nil
            let beat = clock.now
            // A lease taken since the last renewal lapses no later than a lease from now.
            let lastLapse = held.map { lapses[$0.id] ?? beat + options.leaseDuration }.max() ?? beat
            var pause = Duration.milliseconds(100)
            var failures = 0
            while true {
                let started = clock.now
                do {
                    let timeout = max(.milliseconds(100), lastLapse - started)
                    let owned = if let checkpoints {
                        try await backend.renew(held.map(\.lease), duration: options.leaseDuration, timeout: timeout,
                                                checkpoints: checkpoints)
                    } else {
                        try await backend.renew(held.map(\.lease), duration: options.leaseDuration, timeout: timeout)
                    }
                    for (index, stillOwned) in owned.enumerated() where stillOwned {
                        if index < unstored.count, let version = unstored[index]?.version { held[index].progress.markStored(version) }
                    }
                    if failures > 0 { logger.notice("lease renewal succeeded after \(failures) failed tries") }
                    var renewed: [Int: WorkInstant] = [:]
                    var lost = false
                    for (entry, stillOwned) in zip(held, owned) {
                        if stillOwned {
                            renewed[entry.id] = started + options.leaseDuration
                        } else if inFlight.isSettling(entry.id) {
                            // Its settlement (in an exchange being retried after a lost reply)
                            // was applied: not lost; the exchange's outcome is recorded when it
                            // answers, and a lease lost for real is reported then.
                            continue
                        } else {
                            logger.warning("lease renewal found the lease lost; cancelling the handler",
                                           metadata: ["item": .stringConvertible(ItemLabel(item: entry.lease.item))])
                            inFlight.cancel(entry.id, reason: .leaseLost)
                            lost = true
                        }
                    }
                    lapses = renewed
                    if lost { dispatcher.reportLost() }
                    // A cancel reaches handlers that run long (the fetcher may not call the
                    // backend while every slot is busy) at their next renewal.
                    if let control = try? await (backend as? any QueueControlling)?.control(), control.cancelled { jobCancelled() }
                    break
                } catch is CancellationError {
                    throw CancellationError()
                } catch {
                    metrics.recordBackendError()
                    failures += 1
                    let now = clock.now
                    guard now < lastLapse else {
                        logger.warning("""
                            lease renewal failed: \(error); tried \(failures) time(s) until the leases would have lapsed; \
                            the next beat finds out which are still held
                            """)
                        break
                    }
                    if failures == 1 {
                        logger.warning("lease renewal failed: \(error); retrying until the leases would lapse, in \(lastLapse - now)")
                    }
                    try await clock.sleep(for: min(pause, lastLapse - now))
                    pause = min(pause * 2, .seconds(1))
                }
            }
        }
    }

    /// Recovers expired leases and promotes due retries, at start and every recovery interval
    /// (the backend may leave a pass to another worker of the fleet).
    private func maintenanceLoop() async throws {
        while true {
            do {
                let report = try await backend.maintain(maxAttempts: options.maxAttempts, interval: options.recoveryInterval,
                                                        session: session)
                if let report, report.requeued + report.deadLettered > 0 {
                    metrics.recordRecovery(report)
                    logger.notice("recovered expired leases: \(report.requeued) requeued, \(report.deadLettered) dead-lettered")
                    emit(.recovered(report))
                }
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                metrics.recordBackendError()
                logger.warning("recovery pass failed: \(error); retrying at the next pass")
            }
            try await clock.sleep(for: options.recoveryInterval)
        }
    }

    /// Writes this worker's heartbeat record at start and every heartbeat interval, for three
    /// intervals each time (a failure is counted and logged; the next beat tries again).
    private func heartbeatRecordLoop(_ dispatcher: Dispatcher) async throws {
        guard let interval = options.heartbeatInterval else { return }
        let host = options.heartbeatHost ?? WorkerHeartbeat.defaultHost()
        let handlerName = options.handlerName ?? String(describing: type(of: handler))
        // The first record predates the first lease: refresh it after a second, then every interval.
        var pause = min(interval, .seconds(1))
        while true {
            let done = summary.withLock { ($0.completed, $0.retried + $0.deadLettered) }
            let beat = WorkerHeartbeat(session: session, host: host, handler: handlerName,
                                       startedAtMilliseconds: startedAtMilliseconds,
                                       inFlight: dispatcher.snapshot.running, held: inFlight.count,
                                       completed: done.0, failed: done.1, progress: currentProgress())
            do {
                try await (backend as? any WorkerRecords)?.heartbeat(beat, ttl: interval * 3)
            } catch is CancellationError {
                throw CancellationError()
            } catch let error as WorkQueueError where error.isPermanent {
                // Refused for good (say a missing ACL permission): the record is only for
                // operators, so the work goes on without it.
                logger.warning("the heartbeat record was refused: \(error); going on without one")
                return
            } catch {
                metrics.recordBackendError()
                logger.debug("writing the heartbeat record failed: \(error); retrying at the next beat")
            }
            try await clock.sleep(for: pause)
            pause = interval
        }
    }

    /// The progress the held leases' handlers reported, for the heartbeat record.
    private func currentProgress() -> [WorkerHeartbeat.ItemProgress] {
        var entries: [WorkerHeartbeat.ItemProgress] = []
        for entry in inFlight.snapshot() {
            guard entries.count < WorkerHeartbeat.maxProgressEntries else { break }
            guard let (fraction, note) = entry.progress.progress else { continue }
            entries.append(.init(item: WorkerHeartbeat.ItemProgress.label(entry.lease.item), fraction: fraction, note: note))
        }
        return entries
    }

    /// After a shutdown request, waits the grace period, then cancels every in-flight handler.
    private func graceWatcher() async {
        await stopSignal.wait()
        guard !Task.isCancelled else { return }
        do {
            try await clock.sleep(for: options.shutdownGracePeriod)
        } catch {
            return
        }
        inFlight.cancelAll(reason: .shutdown)
        // Cancelled handlers' items are released now; the rest may take this long.
        do {
            try await clock.sleep(for: options.shutdownSettleTimeout)
        } catch {
            return
        }
        deadline.fire()
    }

    /// Runs a queue operation, retrying transient failures (a dropped connection, a restarting
    /// server) with backoff for up to ``WorkerOptions/backendRetryBudget``. Configuration
    /// errors (a key of the wrong type, a refused command) and cancellation are thrown at once.
    /// After a shutdown request each attempt and backoff is raced against the shutdown
    /// deadline, and nothing is retried after it (``ShutdownDeadlinePassed``). Once an attempt
    /// failed, each further attempt is also raced against the end of the retry budget, so a
    /// reconnect stuck on an unreachable server cannot stretch the budget.
    private func retrying<T: Sendable>(_ operation: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        var delay = Duration.milliseconds(50)
        var firstFailure: WorkInstant?
        var lastError: (any Error)?
        // Fired when the retry budget that the first failure started runs out.
        var budgetEnd: ShutdownSignal?
        var budgetTimer: Task<Void, Never>?
        defer { budgetTimer?.cancel() }
        while true {
            let attemptStarted = clock.now
            do {
                if stopSignal.isFired { return try await deadline.race(operation, body) }
                if let budgetEnd { return try await budgetEnd.race(operation, body) }
                return try await body()
            } catch let error as CancellationError {
                throw error
            } catch let error as ShutdownDeadlinePassed {
                guard !deadline.isFired, let since = firstFailure, budgetEnd?.isFired == true else { throw error }
                throw WorkQueueError.backendUnavailable(
                    "\(operation) kept failing for \(Int((clock.now - since).seconds.rounded())) s (the last attempt was "
                        + "still running when the retry budget ran out); last error: \(lastError.map { "\($0)" } ?? "none")")
            } catch let error as WorkQueueError where error.isPermanent {
                throw error
            } catch {
                metrics.recordBackendError()
                lastError = error
                if deadline.isFired { throw ShutdownDeadlinePassed(operation: "\(operation) (last error: \(error))") }
                // The budget counts from the start of the first failed attempt, so it includes
                // the time failed attempts themselves took (a reconnect attempt can take
                // seconds); later attempts are cut at its end.
                let now = clock.now
                let since = firstFailure ?? attemptStarted
                firstFailure = since
                guard now - since < options.backendRetryBudget else {
                    throw WorkQueueError.backendUnavailable(
                        "\(operation) kept failing for \(Int((now - since).seconds.rounded())) s; last error: \(error)")
                }
                if since == attemptStarted {
                    logger.warning("\(operation) failed: \(error); retrying for up to \(options.backendRetryBudget)")
                    let end = ShutdownSignal()
                    let clock = self.clock
                    let remaining = options.backendRetryBudget - (now - since)
                    budgetEnd = end
                    budgetTimer = Task {
                        try? await clock.sleep(for: remaining)
                        if !Task.isCancelled { end.fire() }
                    }
                }
                let clock = self.clock
                let pause = delay
                if stopSignal.isFired {
                    try await deadline.race(operation) { try await clock.sleep(for: pause) }
                } else {
                    try await clock.sleep(for: pause)
                }
                delay = min(delay * 2, .seconds(2))
            }
        }
    }

    /// Log metadata naming a lease's item (escaped, bounded) and attempt, formatted only if logged.
    private static func metadata(_ lease: Lease) -> Logger.Metadata {
        ["item": .stringConvertible(ItemLabel(item: lease.item)), "attempt": .stringConvertible(lease.attempt)]
    }

    private func emit(_ event: WorkerEvent) {
        events?(event)
    }

    private func record(_ event: WorkerEvent, _ update: (inout WorkerSummary) -> Void) {
        summary.withLock { update(&$0) }
        if case .leaseLost = event { metrics.recordLeaseLost() }
        emit(event)
    }
}

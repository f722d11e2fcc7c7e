import CoreMetrics
import Logging
import ServiceLifecycle
import Synchronization

/// The runner: leases items, runs the handler, renews leases, retries, recovers, and returns
/// when the queue is drained or a shutdown is requested.
///
/// - Each item the worker holds has one record in a state machine (`ItemLedger`: buffered,
///   running, finished, settling, settled or lost); the loops below report events to it and
///   carry out the actions it returns. Read top-down: the fetcher leases and settles, the slots
///   handle, `perform` records what was settled or lost.
/// - One fetcher per worker settles what the slots finished and leases what they will need
///   in one backend call per batch (`WorkQueueBackend.exchange(_:lease:session:duration:)`),
///   and hands the items to ``WorkerOptions/concurrency`` slots through a buffer in the
///   process, sized by ``WorkerOptions/prefetch`` or adaptively. Up to two such calls are
///   outstanding at once (the next one goes while the last one's reply is on its way, at most
///   one of them carrying settlements), and their replies are applied in order, so a distant
///   Redis's round trip does not set the pace.
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

    let backend: any WorkQueueBackend
    let handler: any WorkHandler
    let options: WorkerOptions
    let clock: any WorkClock
    let logger: Logger
    let events: (@Sendable (WorkerEvent) -> Void)?
    let metrics: WorkerMetrics
    /// The open item spans, when ``WorkerOptions/tracing`` is set (``ItemTracing``).
    let spans: ItemSpans?

    let stopSignal = ShutdownSignal()
    /// The items this worker holds, in their states (``ItemLedger``), between the fetcher,
    /// the slots and the heartbeat; a shutdown stops it handing out items at once.
    let dispatcher: Dispatcher
    /// Fires the settle timeout after the grace period: from then on nothing is waited for.
    let deadline = ShutdownSignal()
    let summary = Mutex(WorkerSummary())
    /// Set once the queue was found cancelled: the worker stops as for a shutdown, and returns
    /// ``WorkerStopReason/cancelled``.
    let cancelSeen = Mutex(false)
    /// Handlers left running past their time limit and grace that have not returned yet; each
    /// holds a thread (a spare one: the pool has ``WorkerOptions/concurrency`` of them).
    let abandoned = Mutex(0)
    /// Set once more handlers were abandoned than there are spare threads: the worker stops as
    /// for a shutdown and returns ``WorkerStopReason/handlersStuck``.
    let stuckSeen = Mutex(false)
    /// When this worker was made, for its heartbeat record (ms since the Unix epoch).
    let startedAtMilliseconds = WorkerHeartbeat.wallClockMilliseconds()

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
        self.dispatcher = Dispatcher(options: options)
        self.metrics = WorkerMetrics(dimensions: options.metricsLabels, factory: options.metricsFactory ?? MetricsSystem.factory)
        self.spans = options.tracing.map { ItemSpans($0, session: session, maxAttempts: options.maxAttempts, backend: backend) }
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
        dispatcher.stop()
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
        defer { spans?.endAll() }
        return try await withGracefulShutdownHandler {
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
            let held = dispatcher.counts.held
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
                        dispatcher.close()
                        throw error
                    }
                }
                for slot in 0..<options.concurrency {
                    loops.addTask { await self.slotLoop(slot, dispatcher, threads: threads) }
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

    /// One fetcher per process: settles what the slots finished and leases what they will need,
    /// in one backend call per batch, until drained or shut down. The ledger decides each step
    /// (``ItemLedger/nextCall()``), pipelining included: a call is sent in a task of its own
    /// (an ``ExchangeFlight``), so the next one can go while its reply is on the way, and the
    /// replies are applied here, in the order the calls were made.
    private func fetchLoop(_ dispatcher: Dispatcher) async throws {
        // Wakes the fetcher after a wait for work, a pause or the rate limit's delay.
        var waiter: Task<Void, Never>?
        // The calls sent whose replies are not applied yet, oldest first (the ledger's
        // `outstanding`, at most two).
        var flights: [ExchangeFlight] = []
        defer {
            waiter?.cancel()
            // Only on an error: a normal exit waits for every reply.
            for flight in flights { flight.task.cancel() }
        }
        var lastControl = QueueControl()
        metrics.recordControl(lastControl)
        let continuous = ContinuousClock()
        while true {
            // Apply the replies that came back, in order.
            while let flight = flights.first, let reply = flight.take() {
                flights.removeFirst()
                let result = try reply.get()
                let now = continuous.now
                let call = flight.call
                metrics.recordExchange(outcomes: result.outcomes, settlements: call.settlements, leasedAt: call.leasedAt, now: now)
                metrics.recordLeased(result.leases.count)
                if result.control != lastControl {
                    lastControl = result.control
                    metrics.recordControl(result.control)
                }
                for action in dispatcher.exchanged(call, result, seconds: (now - flight.startedAt).seconds, at: flight.started,
                                                   leasedAt: now) {
                    guard case let .holdOff(pause, rateLimited) = action else {
                        perform(action)
                        continue
                    }
                    // Paused or rate-limited: wait (without spinning on the backend), then ask again.
                    if rateLimited { metrics.recordRateLimited() }
                    waiter?.cancel()
                    waiter = Task {
                        try? await self.clock.sleep(for: pause)
                        if !Task.isCancelled { dispatcher.wakeFetcher(external: true) }
                    }
                }
            }
            let (step, running, buffered) = dispatcher.nextCall()
            metrics.recordOccupancy(running: running, buffered: buffered)
            switch step {
            case .exit:
                return
            case let .idle(checkDrained, armWaiter):
                // The final check is the backend's, atomic with its producer marks: a queue
                // still being filled is not drained, and the fetcher looks again.
                if checkDrained, try await retrying("drain check", { try await self.backend.finishIfDrained(session: self.session) }) {
                    logger.debug("queue drained")
                    dispatcher.close()
                    return
                }
                if armWaiter { waiter = waitForWork(dispatcher) }
                if await dispatcher.waitForFetcherWork() { waiter = nil }
                try Task.checkCancellation()
            case .awaitReply:
                // A reply wakes the fetcher, and so does a slot (a second call may be worth it).
                if await dispatcher.waitForFetcherWork() { waiter = nil }
                try Task.checkCancellation()
            case let .exchange(call):
                // The settlements are `settling` from here: settled by this call even if its
                // reply is lost, so a renewal refused meanwhile is not a lost lease.
                flights.append(ExchangeFlight(call: call, started: clock.now, startedAt: continuous.now) { call in
                    try await self.retrying(call.demand > 0 ? "lease" : "settle") {
                        try await self.backend.exchange(call.settlements, lease: call.demand, session: self.session,
                                                        duration: self.options.leaseDuration)
                    }
                } done: {
                    dispatcher.wakeFetcher()
                })
            }
        }
    }

    /// One slot: takes items from the dispatcher and runs the handler on each, until it closes.
    private func slotLoop(_ slot: Int, _ dispatcher: Dispatcher, threads: HandlerThreadPool?) async {
        let clock = ContinuousClock()
        while let item = await dispatcher.next(slot: slot) {
            let started = clock.now
            let (result, itemLogger, leftBehind) = await traced(item) { await self.handle(item, threads: threads) }
            let elapsed = clock.now - started
            metrics.recordHandler(elapsed)
            // The settlement carries the item's latest checkpoint: a completion or a dead
            // letter deletes the stored one.
            let lost = dispatcher.finished(item.id, result, checkpoint: item.progress.savedCheckpoint, seconds: elapsed.seconds)
            if lost != nil { itemLogger.warning("lease lost while working; the item is left to its new owner") }
            await spans?.forgetIfLast(item.lease, result)
            // A handler that outlived its time limit and grace: its attempt is settled, but it
            // still runs (keeping its thread, for a dedicated-thread handler). The slot goes on
            // with the next item on a spare thread; once more are abandoned than there are
            // spares, the worker stops and releases what it holds instead of freezing.
            if let leftBehind { abandon(leftBehind, item: item.lease.item) }
        }
    }

    /// Carries out what the ledger reported: an outcome to record, a lost lease to count (the
    /// one place it is counted), the queue's cancel.
    func perform(_ action: ItemLedger.Action) {
        switch action {
        case let .lost(lease, was):
            spans?.lost(lease)
            if was == .settling {
                logger.warning("lease lost before the item was settled; nothing was recorded for this delivery",
                               metadata: Self.metadata(lease))
            } else {
                logger.warning("lease renewal found the lease lost; cancelling the handler", metadata: Self.metadata(lease))
            }
            metrics.recordLeaseLost()
            record(.leaseLost(lease)) { $0.leaseLost += 1 }
        case let .settled(settlement):
            record(settled: settlement)
        case .jobCancelled:
            jobCancelled()
        case .start, .endSlot, .cancel, .deadlineMoved, .holdOff:
            break
        }
    }

    /// Records a settlement the backend applied.
    private func record(settled settlement: Settlement) {
        spans?.settled(settlement)
        let lease = settlement.lease
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

    /// Nothing pending: waits (bounded) for a push, then wakes the fetcher to look again.
    private func waitForWork(_ dispatcher: Dispatcher) -> Task<Void, Never> {
        Task {
            do {
                try await self.backend.waitForWork(timeout: self.options.idlePollInterval)
            } catch is CancellationError {
            } catch {
                // Refused at once (OOM, a dropped connection): wait out the poll interval all
                // the same, or the fetcher would spin on Redis.
                self.metrics.recordBackendError()
                self.logger.debug("waiting for work failed: \(error); looking again in \(self.options.idlePollInterval)")
                try? await self.clock.sleep(for: self.options.idlePollInterval)
            }
            dispatcher.wakeFetcher(external: true)
        }
    }

    /// The queue was found cancelled: every in-flight handler is cancelled with
    /// ``CancellationReason/jobCancelled`` and the worker stops as for a shutdown (the released
    /// items are moved aside by ``sweepCancelled()`` before it returns).
    func jobCancelled() {
        let first = cancelSeen.withLock { seen in
            defer { seen = true }
            return !seen
        }
        guard first else { return }
        logger.notice("the queue was cancelled: cancelling in-flight handlers and stopping")
        dispatcher.cancelAll(reason: .jobCancelled)
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

    /// Log metadata naming a lease's item (escaped, bounded) and attempt, formatted only if logged.
    static func metadata(_ lease: Lease) -> Logger.Metadata {
        ["item": .stringConvertible(ItemLabel(item: lease.item)), "attempt": .stringConvertible(lease.attempt)]
    }

    /// Calls the ``WorkerEvent`` observer; the event is made only when there is one (per
    /// item, making it copies the lease).
    func emit(_ event: @autoclosure () -> WorkerEvent) {
        if let events { events(event()) }
    }

    func record(_ event: @autoclosure () -> WorkerEvent, _ update: (inout WorkerSummary) -> Void) {
        summary.withLock { update(&$0) }
        emit(event())
    }
}

/// One exchange call on its way: made in a task of its own (retried there through outages), its
/// reply kept for the fetcher, which applies the replies in the order it made the calls.
struct ExchangeFlight {
    /// Where the call's task leaves its reply.
    private final class Reply: Sendable {
        let value = Mutex<Result<ExchangeResult, any Error>?>(nil)
    }

    let call: ItemLedger.Exchange
    /// When the call was made, on the worker's clock (the leases' deadlines count from it)
    /// and on the continuous clock (the round trip the batch sizer measures).
    let started: WorkInstant
    let startedAt: ContinuousClock.Instant
    /// The task making the call (cancelled when the fetcher fails).
    let task: Task<Void, Never>
    private let reply: Reply

    /// Makes the call (`body`) in a new task, then calls `done` once its reply (or error) is kept.
    /// The task starts at once on the caller's thread (`Task.immediate`) and runs until its
    /// first suspension: a Redis backend's call is written to the connection by then, so two
    /// calls in flight reach Redis in the order they were made, and their takes hand out the
    /// queue's items in that order (with two plain tasks the second call could be written
    /// first, and a worker would run the later half of the items first).
    init(call: ItemLedger.Exchange, started: WorkInstant, startedAt: ContinuousClock.Instant,
         _ body: @escaping @Sendable (ItemLedger.Exchange) async throws -> ExchangeResult,
         done: @escaping @Sendable () -> Void) {
        self.call = call
        self.started = started
        self.startedAt = startedAt
        let reply = Reply()
        self.reply = reply
        task = Task.immediate {
            let result: Result<ExchangeResult, any Error>
            do {
                result = .success(try await body(call))
            } catch {
                result = .failure(error)
            }
            reply.value.withLock { $0 = result }
            done()
        }
    }

    /// The reply, once it came back (taken once).
    func take() -> Result<ExchangeResult, any Error>? {
        reply.value.withLock { reply in
            defer { reply = nil }
            return reply
        }
    }
}

import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// The runner: leases items, runs the handler, renews leases, retries, recovers, and returns
/// when the queue is drained or a shutdown is requested.
///
/// - Each of ``WorkerOptions/concurrency`` slots loops lease → handle → complete.
/// - One heartbeat per worker renews every held lease each third of
///   ``WorkerOptions/leaseDuration``; a lease found lost cancels its handler, and the item is
///   not completed (the new owner's result counts).
/// - A handler error counts an attempt: the item is retried after
///   ``WorkerOptions/retry``'s delay, or dead-lettered with the error once
///   ``WorkerOptions/maxAttempts`` is reached.
/// - Every ``WorkerOptions/recoveryInterval`` the worker returns items with expired leases
///   (their worker died) to pending and promotes due retries. Every worker does this; no leader.
/// - With ``WorkerOptions/exitWhenDrained``, ``run()`` returns once pending, in-flight
///   (anyone's) and scheduled retries are all empty; while another worker still holds an item
///   it keeps waiting, because that item may come back.
/// - As a swift-service-lifecycle `Service`, SIGTERM/SIGINT on the group (or ``shutdown()``)
///   stop leasing at once; in-flight handlers get ``WorkerOptions/shutdownGracePeriod`` to
///   finish, then are cancelled and their items released to pending, no attempt counted.
public final class Worker: Service, Sendable {
    /// The session id this worker writes into lease keys.
    public let session: String

    private let backend: any WorkQueueBackend
    private let handler: any WorkHandler
    private let options: WorkerOptions
    private let clock: any WorkClock
    private let logger: Logger
    private let events: (@Sendable (WorkerEvent) -> Void)?

    private let stopSignal = ShutdownSignal()
    private let inFlight = InFlight()
    private let summary = Mutex(WorkerSummary())

    /// - Parameters:
    ///   - backend: where the queue lives.
    ///   - handler: the code run per item.
    ///   - options: leasing, retry and shutdown settings; validated here.
    ///   - session: the lease owner id; a fresh UUID by default.
    ///   - clock: the time source of every timed rule.
    ///   - logger: diagnostics (stderr in the command).
    ///   - events: called for every ``WorkerEvent``, from any task.
    /// - Throws: ``WorkQueueError/invalidConfiguration(_:)`` for a bad option.
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
    }

    /// A fresh random session id (a UUID string, as `rediswq.py` uses).
    public static func makeSessionID() -> String { UUID().uuidString.lowercased() }

    /// Runs until drained or shut down (through the service group, or ``shutdown()``).
    public func run() async throws { _ = try await runUntilStopped() }

    /// Requests a graceful shutdown, as SIGTERM does. Safe to call from anywhere, any number of
    /// times.
    public func shutdown() {
        if stopSignal.fire() {
            logger.info("shutdown requested: no new leases; in-flight items get the grace period")
        }
    }

    /// Like ``run()``, and tells what happened.
    public func runUntilStopped() async throws -> WorkerSummary {
        try await withGracefulShutdownHandler {
            try await runLoops()
        } onGracefulShutdown: {
            self.shutdown()
        }
    }

    // MARK: - The loops

    private func runLoops() async throws -> WorkerSummary {
        let threads = handler.execution == .dedicatedThread ? HandlerThreadPool(threads: options.concurrency) : nil
        defer { if let threads { Task { await threads.shutdown() } } }

        try await withThrowingTaskGroup(of: Void.self) { services in
            services.addTask { try await self.heartbeatLoop() }
            services.addTask { try await self.maintenanceLoop() }
            services.addTask { await self.graceWatcher() }
            defer { services.cancelAll() }
            try await withThrowingTaskGroup(of: Void.self) { slots in
                for slot in 0..<options.concurrency {
                    slots.addTask { try await self.slotLoop(slot, threads: threads) }
                }
                try await slots.waitForAll()
            }
        }
        return summary.withLock { summary in
            summary.stopReason = stopSignal.isFired ? .shutdown : .drained
            return summary
        }
    }

    /// lease → handle → settle, until drained or shut down.
    private func slotLoop(_ slot: Int, threads: HandlerThreadPool?) async throws {
        while !stopSignal.isFired {
            try Task.checkCancellation()
            let leases = try await retrying("lease") {
                try await self.backend.lease(max: self.options.prefetch, session: self.session, duration: self.options.leaseDuration)
            }
            if leases.isEmpty {
                if try await queueIsDrained() {
                    logger.debug("queue drained", metadata: ["slot": "\(slot)"])
                    return
                }
                await waitForWorkOrShutdown()
                continue
            }
            // Every leased item is held (and renewed by the heartbeat) from now on, also the
            // prefetched ones waiting for their turn.
            let held = leases.map { lease in
                let flag = CancellationFlag()
                return (lease: lease, id: inFlight.add(lease, flag: flag), flag: flag)
            }
            for (index, entry) in held.enumerated() {
                guard !stopSignal.isFired else {
                    // Shutdown came while leasing: give back what was not started (last first,
                    // so that they return to the head of the queue in their order).
                    for unstarted in held[index...].reversed() {
                        defer { inFlight.remove(unstarted.id) }
                        try await releaseUnstarted(unstarted.lease)
                    }
                    return
                }
                if entry.flag.reason == .leaseLost {
                    // A prefetched item whose lease was lost before its turn: its new owner has it.
                    inFlight.remove(entry.id)
                    record(.leaseLost(entry.lease)) { $0.leaseLost += 1 }
                    continue
                }
                try await process(entry.lease, id: entry.id, flag: entry.flag, threads: threads)
            }
        }
    }

    /// True when this worker should return because nothing is left anywhere.
    private func queueIsDrained() async throws -> Bool {
        var counts = try await retrying("counts") { try await self.backend.counts() }
        if counts.scheduled > 0, try await retrying("promote due retries", { try await self.backend.promoteDueRetries() }) > 0 {
            counts = try await retrying("counts") { try await self.backend.counts() }
        }
        return options.exitWhenDrained && counts.isDrained
    }

    private func waitForWorkOrShutdown() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await self.backend.waitForWork(timeout: self.options.idlePollInterval) }
            group.addTask { await self.stopSignal.wait() }
            await group.next()
            group.cancelAll()
        }
    }

    /// Runs the handler on one leased item and records the outcome.
    private func process(_ lease: Lease, id: Int, flag: CancellationFlag, threads: HandlerThreadPool?) async throws {
        defer { inFlight.remove(id) }
        emit(.leased(lease))

        var itemLogger = logger
        itemLogger[metadataKey: "item"] = "\(lease.item.escaped.prefix(80))"
        itemLogger[metadataKey: "attempt"] = "\(lease.attempt)"
        let context = WorkContext(
            attempt: lease.attempt,
            maxAttempts: options.maxAttempts,
            leaseDeadline: clock.now + options.leaseDuration,
            session: session,
            options: options.handlerOptions,
            logger: itemLogger,
            cancellation: flag
        )
        let handler = self.handler
        let task = Task(executorPreference: threads) {
            try await handler.handle(lease.item, context: context)
        }
        inFlight.attach(id) { task.cancel() }
        let result = await withTaskCancellationHandler {
            await task.result
        } onCancel: {
            self.inFlight.cancel(id, reason: .shutdown)
        }
        try await settle(lease, result: result, cancelled: flag.reason, logger: itemLogger)
    }

    private func settle(
        _ lease: Lease,
        result: Result<String?, any Error>,
        cancelled: CancellationReason?,
        logger: Logger
    ) async throws {
        if cancelled == .leaseLost {
            logger.warning("lease lost while working; the item is left to its new owner")
            record(.leaseLost(lease)) { $0.leaseLost += 1 }
            return
        }
        switch result {
        case .success(let output):
            if try await retrying("complete", { try await self.backend.complete(lease, result: output) }) == .settled {
                record(.completed(lease, result: output)) { $0.completed += 1 }
            } else {
                logger.warning("lease lost before completion; the result was not recorded")
                record(.leaseLost(lease)) { $0.leaseLost += 1 }
            }
        case .failure where cancelled == .shutdown:
            if try await retrying("release", { try await self.backend.release(lease) }) == .settled {
                logger.info("shutdown interrupted the item; released it to pending")
                record(.released(lease)) { $0.released += 1 }
            } else {
                record(.leaseLost(lease)) { $0.leaseLost += 1 }
            }
        case .failure(let error):
            let message = String(describing: error)
            let disposition: FailureDisposition =
                lease.attempt >= options.maxAttempts
                ? .deadLetter : .retry(after: options.retry.delay(afterAttempt: lease.attempt))
            guard try await retrying("fail", { try await self.backend.fail(lease, error: message, disposition: disposition) }) == .settled else {
                record(.leaseLost(lease)) { $0.leaseLost += 1 }
                return
            }
            switch disposition {
            case .deadLetter:
                logger.error("attempt \(lease.attempt) of \(options.maxAttempts) failed: \(message); dead-lettered")
                record(.failed(lease, error: message, disposition: disposition)) { $0.deadLettered += 1 }
            case .retry(let delay):
                logger.warning("attempt \(lease.attempt) of \(options.maxAttempts) failed: \(message); retry in \(delay)")
                record(.failed(lease, error: message, disposition: disposition)) { $0.retried += 1 }
            }
        }
    }

    private func releaseUnstarted(_ lease: Lease) async throws {
        if try await retrying("release", { try await self.backend.release(lease) }) == .settled {
            record(.released(lease)) { $0.released += 1 }
        }
    }

    /// Renews every held lease each third of the lease duration; cancels the handlers of
    /// leases found lost.
    private func heartbeatLoop() async throws {
        let interval = options.leaseDuration / 3
        while true {
            try await clock.sleep(for: interval)
            let held = inFlight.snapshot()
            guard !held.isEmpty else { continue }
            do {
                let owned = try await backend.renew(held.map(\.lease), duration: options.leaseDuration)
                for (entry, stillOwned) in zip(held, owned) where !stillOwned {
                    logger.warning("lease renewal found the lease lost; cancelling the handler",
                                   metadata: ["item": "\(entry.lease.item.escaped.prefix(80))"])
                    inFlight.cancel(entry.id, reason: .leaseLost)
                }
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                logger.warning("lease renewal failed: \(error); retrying at the next beat")
            }
        }
    }

    /// Recovers expired leases and promotes due retries, at start and every recovery interval.
    private func maintenanceLoop() async throws {
        while true {
            do {
                _ = try await backend.promoteDueRetries()
                let report = try await backend.recoverExpiredLeases(maxAttempts: options.maxAttempts)
                if report.requeued + report.deadLettered > 0 {
                    logger.notice("recovered expired leases: \(report.requeued) requeued, \(report.deadLettered) dead-lettered")
                    emit(.recovered(report))
                }
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                logger.warning("recovery pass failed: \(error); retrying at the next pass")
            }
            try await clock.sleep(for: options.recoveryInterval)
        }
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
    }

    /// Runs a queue operation, retrying transient failures (a dropped connection, a restarting
    /// server) with backoff for up to ``WorkerOptions/backendRetryBudget``. Configuration
    /// errors (a key of the wrong type) and cancellation are thrown at once.
    private func retrying<T: Sendable>(_ operation: String, _ body: @Sendable () async throws -> T) async throws -> T {
        var delay = Duration.milliseconds(50)
        var firstFailure: WorkInstant?
        while true {
            do {
                return try await body()
            } catch let error as CancellationError {
                throw error
            } catch let error as WorkQueueError where error.isPermanent {
                throw error
            } catch {
                // The budget counts from the first failure, including the time failed attempts
                // themselves took (a reconnect attempt can take seconds).
                let now = clock.now
                let since = firstFailure ?? now
                firstFailure = since
                guard now - since < options.backendRetryBudget else {
                    throw WorkQueueError.backendUnavailable(
                        "\(operation) kept failing for \(Int((now - since).seconds.rounded())) s; last error: \(error)")
                }
                if now == since {
                    logger.warning("\(operation) failed: \(error); retrying for up to \(options.backendRetryBudget)")
                }
                try await clock.sleep(for: delay)
                delay = min(delay * 2, .seconds(2))
            }
        }
    }

    private func emit(_ event: WorkerEvent) {
        events?(event)
    }

    private func record(_ event: WorkerEvent, _ update: (inout WorkerSummary) -> Void) {
        summary.withLock { update(&$0) }
        emit(event)
    }
}

import Logging

/// Running the handler on one item: its context, its time limit, and a handler left behind.
extension Worker {
    /// Runs the handler on one item; returns how it ended, the item's logger, and the
    /// handler's task when it was left behind still running (past its time limit and grace).
    func handle(_ item: Dispatcher.Started, threads: HandlerThreadPool?) async
        -> (ItemLedger.HandlerResult, Logger, Task<String?, any Error>?) {
        let lease = item.lease
        emit(.leased(lease))
        let base = logger.handler
        let itemLogger = Logger(label: logger.label) { _ in
            ItemLogHandler(base: base, item: ItemLabel(item: lease.item), attempt: lease.attempt)
        }
        let context = WorkContext(
            attempt: lease.attempt,
            maxAttempts: options.maxAttempts,
            lease: item.deadline,
            clock: clock,
            session: session,
            options: options.handlerOptions,
            logger: itemLogger,
            cancellation: item.flag,
            checkpoint: lease.checkpoint,
            progress: item.progress
        )
        let handler = self.handler
        let task = Task(executorPreference: threads) {
            try await handler.handle(lease.item, context: context)
        }
        dispatcher.started(item.id) { task.cancel() }
        let result: Result<String?, any Error>
        var leftBehind: Task<String?, any Error>?
        if let limit = options.itemTimeout {
            if let returned = await boundedResult(of: task, id: item.id, limit: limit) {
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
                self.dispatcher.cancel(item.id, reason: .shutdown)
            }
        }
        switch result {
        case let .success(output):
            return (.returned(output), itemLogger, leftBehind)
        case let .failure(error):
            // An item that can never succeed (UnprocessableItem, e.g. a typed item that does
            // not decode) is dead-lettered on this attempt; retrying it would only repeat it.
            return (.threw(String(describing: error), unprocessable: error is UnprocessableItem), itemLogger, leftBehind)
        }
    }

    /// The handler's result, waiting at most `limit` plus the grace on the worker's clock: at
    /// `limit` it is cancelled with ``CancellationReason/timedOut(after:)``; nil when it has
    /// not returned by the end of the grace (it is left running).
    func boundedResult(of task: Task<String?, any Error>, id: ItemLedger.ID, limit: Duration) async
        -> Result<String?, any Error>? {
        let first = FirstResult<Result<String?, any Error>?>()
        let clock = self.clock
        let dispatcher = self.dispatcher
        let grace = options.itemTimeoutGrace
        first.add(Task { first.resolve(.success(await task.result)) })
        first.add(Task {
            do { try await clock.sleep(for: limit) } catch { return }
            dispatcher.cancel(id, reason: .timedOut(after: limit))
            do { try await clock.sleep(for: grace) } catch { return }
            first.resolve(.success(nil))
        })
        do {
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { first.install($0) }
            } onCancel: {
                dispatcher.cancel(id, reason: .shutdown)
            }
        } catch {
            return nil
        }
    }

    /// Counts a handler left running until it returns; stops the worker when the abandoned
    /// handlers outnumber the spare threads (``WorkerOptions/concurrency``).
    func abandon(_ task: Task<String?, any Error>, item: WorkItem) {
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

}

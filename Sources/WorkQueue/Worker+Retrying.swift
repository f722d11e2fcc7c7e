
/// Retrying backend calls through outages, bounded by the retry budget and the shutdown deadline.
extension Worker {
    /// Runs a queue operation, retrying transient failures (a dropped connection, a restarting
    /// server) with backoff for up to ``WorkerOptions/backendRetryBudget``. Configuration
    /// errors (a key of the wrong type, a refused command) and cancellation are thrown at once.
    /// After a shutdown request each attempt and backoff is raced against the shutdown
    /// deadline, and nothing is retried after it (``ShutdownDeadlinePassed``). Once an attempt
    /// failed, each further attempt is also raced against the end of the retry budget, so a
    /// reconnect stuck on an unreachable server cannot stretch the budget.
    func retrying<T: Sendable>(_ operation: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
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
}

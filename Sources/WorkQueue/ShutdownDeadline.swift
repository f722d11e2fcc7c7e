/// Thrown when the shutdown deadline (the grace period plus the settle timeout) passed before
/// an operation finished: whatever it held stays leased and comes back through recovery.
struct ShutdownDeadlinePassed: Error, CustomStringConvertible {
    var operation: String
    var description: String {
        "the shutdown deadline passed before \(operation) finished; what it held stays leased and comes back through recovery"
    }
}

extension ShutdownSignal {
    /// Runs `body` in a task of its own and returns its result, unless this signal fires first:
    /// then cancels that task and throws ``ShutdownDeadlinePassed`` at once, without waiting for
    /// it (a call stuck on a stalled server, or a handler ignoring cancellation, cannot hold the
    /// caller). Cancelling the caller cancels `body` and waits for it.
    func race<T: Sendable>(_ operation: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        if isFired { throw ShutdownDeadlinePassed(operation: operation) }
        let first = FirstResult<T>()
        let task = Task {
            do {
                first.resolve(.success(try await body()))
            } catch {
                first.resolve(.failure(error))
            }
        }
        let watcher = Task {
            await self.wait()
            guard !Task.isCancelled else { return }
            task.cancel()
            first.resolve(.failure(ShutdownDeadlinePassed(operation: operation)))
        }
        defer { watcher.cancel() }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { first.install($0) }
        } onCancel: {
            task.cancel()
        }
    }
}

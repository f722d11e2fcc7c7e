import Synchronization

/// Thrown when the shutdown deadline (the grace period plus the settle timeout) passed before
/// an operation finished: whatever it held stays leased and comes back through recovery.
struct ShutdownDeadlinePassed: Error, CustomStringConvertible {
    var operation: String
    var description: String {
        "the shutdown deadline passed before \(operation) finished; what it held stays leased and comes back through recovery"
    }
}

/// Resumes one continuation with the first result it is given; later results are dropped.
private final class FirstResult<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var result: Result<T, any Error>?
    }

    private let state = Mutex(State())

    func install(_ continuation: CheckedContinuation<T, any Error>) {
        let ready = state.withLock { state -> Result<T, any Error>? in
            if let result = state.result { return result }
            state.continuation = continuation
            return nil
        }
        if let ready { continuation.resume(with: ready) }
    }

    func resolve(_ result: Result<T, any Error>) {
        let continuation = state.withLock { state -> CheckedContinuation<T, any Error>? in
            guard state.result == nil else { return nil }
            state.result = result
            defer { state.continuation = nil }
            return state.continuation
        }
        continuation?.resume(with: result)
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

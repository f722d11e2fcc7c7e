import Dispatch
import Synchronization

/// Runs an async operation to completion on the calling (blocking) thread.
///
/// The plugin ABI's `handle` is a synchronous C call made from a dedicated host thread. The
/// operation runs in a task whose executor preference is this executor: its jobs are queued
/// here and run by the calling thread itself, which sleeps on a semaphore between jobs. Work
/// that hops to an actor elsewhere resumes here afterwards. Nothing the operation needs waits
/// for the blocked thread, so this cannot deadlock (as long as the caller is not a thread of
/// Swift's cooperative pool that the operation's actors need, which the host guarantees by
/// running plugins on dedicated threads).
final class CallerThreadExecutor: TaskExecutor {
    private let jobs = Mutex<[UnownedJob]>([])
    private let wakeUp = DispatchSemaphore(value: 0)

    private init() {}

    func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        jobs.withLock { $0.append(unowned) }
        wakeUp.signal()
    }

    /// Runs `operation` on the calling thread; polls `isCancelled` every 10 ms while it waits,
    /// and on the first true calls `onCancel` and cancels the task.
    static func run<Value: Sendable>(
        _ operation: @escaping @Sendable () async throws -> Value,
        isCancelled: () -> Bool,
        onCancel: () -> Void
    ) -> Result<Value, any Error> {
        let executor = CallerThreadExecutor()
        let outcome = Mutex<Result<Value, any Error>?>(nil)
        let task = Task(executorPreference: executor) {
            let result: Result<Value, any Error>
            do { result = .success(try await operation()) } catch { result = .failure(error) }
            outcome.withLock { $0 = result }
        }
        var cancelSent = false
        while true {
            for job in executor.jobs.withLock({ jobs in defer { jobs.removeAll() }; return jobs }) {
                job.runSynchronously(on: executor.asUnownedTaskExecutor())
            }
            if let result = outcome.withLock({ $0 }) { return result }
            if !cancelSent && isCancelled() {
                cancelSent = true
                onCancel()
                task.cancel()
            }
            _ = executor.wakeUp.wait(timeout: .now() + .milliseconds(10))
        }
    }
}

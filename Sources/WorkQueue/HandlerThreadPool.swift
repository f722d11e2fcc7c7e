import NIOPosix

/// A task executor backed by dedicated threads (an `NIOThreadPool`).
///
/// The runner runs handlers whose ``HandlerExecution`` is ``HandlerExecution/dedicatedThread``
/// with this executor as their task-executor preference: their synchronous stretches (CPU
/// loops, blocking calls) occupy these threads, never Swift's cooperative pool, so lease
/// renewal and signal handling keep running.
final class HandlerThreadPool: TaskExecutor {
    private let pool: NIOThreadPool

    /// Starts `threads` threads.
    init(threads: Int) {
        pool = NIOThreadPool(numberOfThreads: max(1, threads))
        pool.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        // Run the job whatever the pool's state: a job that never runs is a task that never ends.
        pool.submit { _ in job.runSynchronously(on: executor) }
    }

    /// Stops the threads once the work submitted so far has run.
    func shutdown() async {
        try? await pool.shutdownGracefully()
    }
}

/// Where the runner executes a handler.
public enum HandlerExecution: Sendable, Hashable {
    /// On Swift's cooperative thread pool. Right for handlers that only `await` (network calls,
    /// async I/O). A handler that blocks a thread here starves the whole process: on a two-core
    /// machine two blocked calls stop even SIGTERM handling.
    case cooperative
    /// On a dedicated thread of the runner's own pool (one thread per concurrency slot). Right
    /// for CPU-bound work, blocking system calls and C libraries. Such a handler should poll
    /// ``WorkContext/isCancelled`` so a lost lease or a shutdown stops it promptly.
    case dedicatedThread
}

/// The code that processes one item. Write one of these per job.
///
/// ```swift
/// struct Shout: WorkHandler {
///     func handle(_ item: WorkItem, context: WorkContext) async throws -> String? {
///         print("Working on \(item.escaped)")
///         return item.string.uppercased()
///     }
/// }
/// ```
///
/// Throwing counts a failed attempt: the item is retried with backoff and dead-lettered once
/// its attempts run out. Returning completes the item; the returned string (if any) is stored
/// as its result. A handler must be safe to call again for the same item: delivery is
/// at-least-once.
public protocol WorkHandler: Sendable {
    /// Where the runner runs ``handle(_:context:)``. Defaults to ``HandlerExecution/cooperative``.
    var execution: HandlerExecution { get }

    /// Processes one item and returns an optional result string.
    func handle(_ item: WorkItem, context: WorkContext) async throws -> String?
}

extension WorkHandler {
    /// ``HandlerExecution/cooperative``: right for a handler that only awaits.
    public var execution: HandlerExecution { .cooperative }
}

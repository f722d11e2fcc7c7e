import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization
import WorkQueue

/// One background thread that copies runner cancellations (``CancellationFlag``) into the
/// plugins' C flags while plugin calls run.
///
/// A thread of its own, not a task: when the cooperative pool is busy (or blocked), a watcher task
/// might never run, and a plugin waiting for its flag would never stop. The thread polls every
/// 10 ms while calls are registered and sleeps on a semaphore otherwise; only the first watch
/// after the set was empty signals it, so a stream of calls never makes it spin.
final class CancellationWatcher: Sendable {
    static let shared = CancellationWatcher()

    private struct Watch {
        let source: CancellationFlag
        let target: CancelFlag
    }

    private let watches = Mutex<(next: Int, active: [Int: Watch], started: Bool)>((0, [:], false))
    private let wakeUp = DispatchSemaphore(value: 0)
    /// Passes of the thread's loop so far (tests check that it does not spin).
    private let passes = Atomic<Int>(0)

    var loopPasses: Int { passes.load(ordering: .relaxed) }

    private init() {}

    /// Copies `source` into `target` until the returned token is passed to ``unwatch(_:)``.
    func watch(_ source: CancellationFlag, into target: CancelFlag) -> Int {
        let (token, start, wasEmpty) = watches.withLock { state -> (Int, Bool, Bool) in
            let token = state.next
            state.next += 1
            let wasEmpty = state.active.isEmpty
            state.active[token] = Watch(source: source, target: target)
            let start = !state.started
            state.started = true
            return (token, start, wasEmpty)
        }
        if start {
            // A thread of its own. Not a dispatch queue: on Linux a work item that never returns
            // would hold one of the few threads that Swift's concurrency pool also runs on.
            Self.startThread { [self] in run() }
        }
        // Only the thread asleep on an empty set needs waking; one polling every 10 ms sees
        // the new watch at its next pass.
        if wasEmpty { wakeUp.signal() }
        return token
    }

    func unwatch(_ token: Int) {
        _ = watches.withLock { $0.active.removeValue(forKey: token) }
    }

    private func run() {
        while true {
            passes.add(1, ordering: .relaxed)
            let current = watches.withLock { Array($0.active.values) }
            if current.isEmpty {
                wakeUp.wait()
                continue
            }
            for watch in current where watch.source.reason != nil { watch.target.set() }
            _ = wakeUp.wait(timeout: .now() + .milliseconds(10))
        }
    }

    /// Starts a detached POSIX thread running `body`.
    private static func startThread(_ body: @escaping @Sendable () -> Void) {
        final class Box: Sendable {
            let body: @Sendable () -> Void
            init(_ body: @escaping @Sendable () -> Void) { self.body = body }
        }
        let context = Unmanaged.passRetained(Box(body)).toOpaque()
        #if canImport(Darwin)
        var thread: pthread_t?
        #else
        var thread = pthread_t()
        #endif
        let created = pthread_create(&thread, nil, { context in
            guard let context else { return nil }
            Unmanaged<Box>.fromOpaque(context).takeRetainedValue().body()
            return nil
        }, context)
        if created == 0 {
            #if canImport(Darwin)
            if let thread { pthread_detach(thread) }
            #else
            pthread_detach(thread)
            #endif
        } else {
            // No thread: run the loop on a dispatch queue rather than not at all.
            Unmanaged<Box>.fromOpaque(context).release()
            DispatchQueue(label: "workqueue-plugin-cancel").async { body() }
        }
    }
}

import Dispatch
import Synchronization
import WorkQueue

/// One background thread that copies runner cancellations (``CancellationFlag``) into the
/// plugins' C flags while plugin calls run.
///
/// A thread of its own, not a task: when the cooperative pool is busy (or blocked), a watcher task
/// might never run, and a plugin waiting for its flag would never stop. The thread polls every
/// 10 ms while calls are registered and sleeps on a semaphore otherwise.
final class CancellationWatcher: Sendable {
    static let shared = CancellationWatcher()

    private struct Watch {
        let source: CancellationFlag
        let target: CancelFlag
    }

    private let watches = Mutex<(next: Int, active: [Int: Watch], started: Bool)>((0, [:], false))
    private let wakeUp = DispatchSemaphore(value: 0)

    private init() {}

    /// Copies `source` into `target` until the returned token is passed to ``unwatch(_:)``.
    func watch(_ source: CancellationFlag, into target: CancelFlag) -> Int {
        let (token, start) = watches.withLock { state -> (Int, Bool) in
            let token = state.next
            state.next += 1
            state.active[token] = Watch(source: source, target: target)
            let start = !state.started
            state.started = true
            return (token, start)
        }
        if start {
            // A serial queue of its own gets a thread of its own, outside Swift's pool.
            DispatchQueue(label: "workqueue-plugin-cancel").async { [self] in run() }
        }
        wakeUp.signal()
        return token
    }

    func unwatch(_ token: Int) {
        _ = watches.withLock { $0.active.removeValue(forKey: token) }
    }

    private func run() {
        while true {
            let current = watches.withLock { Array($0.active.values) }
            if current.isEmpty {
                wakeUp.wait()
                continue
            }
            for watch in current where watch.source.reason != nil { watch.target.set() }
            _ = wakeUp.wait(timeout: .now() + .milliseconds(10))
        }
    }
}

import Testing
import WorkQueue
@testable import WorkQueuePlugins

/// The cancellation watcher's thread does not spin while many calls come and go.
@Suite struct CancellationWatcherTests {
    @Test func manyWatchesDoNotWakeTheThreadEachTime() async throws {
        let watcher = CancellationWatcher.shared
        let keep = CancelFlag()
        let held = watcher.watch(CancellationFlag(), into: keep)
        try await Task.sleep(for: .milliseconds(30))
        let before = watcher.loopPasses
        let clock = ContinuousClock()
        let started = clock.now
        for _ in 0..<20_000 {
            let flag = CancelFlag()
            watcher.unwatch(watcher.watch(CancellationFlag(), into: flag))
        }
        try await Task.sleep(for: .milliseconds(50))
        let elapsed = (clock.now - started) / .milliseconds(10)
        watcher.unwatch(held)
        // About one pass per 10 ms (other tests' plugin calls may add a few), not one per watch.
        #expect(watcher.loopPasses - before < Int(elapsed) + 200, "\(watcher.loopPasses - before) passes")
    }
}

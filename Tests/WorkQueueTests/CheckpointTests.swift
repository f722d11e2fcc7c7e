import Synchronization
import Testing
import WorkQueue
import WorkQueueTesting

/// Progress and checkpoints through the runner (`WorkContext.reportProgress`, `saveCheckpoint`).
@Suite struct CheckpointTests {
    @Test func aSavedCheckpointIsStoredAtTheNextRenewalShownAsProgressAndDeletedOnCompletion() async throws {
        let clock = TestClock()
        let queue = InMemoryQueue(items: ["long"], clock: clock)
        let gate = Gate()
        let log = WorkerTests.EventLog()
        let handler = ClosureHandler { _, context in
            #expect(context.checkpoint == nil)
            try context.saveCheckpoint("half".utf8)
            context.reportProgress(0.5, note: "halfway\tthere")
            for _ in 0..<20_000 where !gate.isOpen {
                try context.checkCancellation()
                try await Task.sleep(for: .milliseconds(1))
            }
            return "done"
        }
        let worker = try Worker(backend: queue, handler: handler, options: WorkerTests.options(), clock: clock, events: log.append)
        let running = WorkerTests.Running(worker)
        try await WorkerTests.settle { log.count { if case .leased = $0 { true } else { false } } == 1 }
        // Saved, but not stored until the renewal (a third of the 30 s lease).
        #expect(queue.checkpoint(for: "long") == nil)
        await clock.advance(by: .seconds(10))
        try await WorkerTests.settle { queue.checkpoint(for: "long") == Array("half".utf8) }
        // The heartbeat record (after a second, then every 5 s) carries the progress.
        await clock.advance(by: .seconds(5))
        let expected = [WorkerHeartbeat.ItemProgress(item: "long", fraction: 0.5, note: "halfway there")]
        try await WorkerTests.settle { try await queue.liveWorkers().first?.heartbeat.progress == expected }
        gate.open()
        try await WorkerTests.drive(clock) { running.isFinished }
        #expect(try await running.task.value.completed == 1)
        #expect(queue.checkpoint(for: "long") == nil)
    }

    @Test func theNextAttemptResumesFromTheCheckpointAfterALostLease() async throws {
        let clock = TestClock()
        let queue = InMemoryQueue(items: ["long"], clock: clock)
        // A worker that leased the item, stored a checkpoint with a renewal, and died.
        let dead = try #require(try await queue.lease(max: 1, session: "dead-worker", duration: .seconds(30)).first)
        #expect(try await queue.renew([dead], duration: .seconds(30), timeout: .seconds(1), checkpoints: [Array("7".utf8)]) == [true])
        let handler = ClosureHandler { _, context in
            "resumed at \(context.checkpoint.map { String(decoding: $0, as: UTF8.self) } ?? "nothing") on attempt \(context.attempt)"
        }
        let worker = try Worker(backend: queue, handler: handler, options: WorkerTests.options(), clock: clock)
        let running = WorkerTests.Running(worker)
        try await WorkerTests.drive(clock) { running.isFinished }
        #expect(queue.result(for: "long") == "resumed at 7 on attempt 2")
        #expect(queue.checkpoint(for: "long") == nil)
    }

    @Test func aCheckpointOverTheLimitIsRefusedAndTheLastOneKept() throws {
        let progress = WorkProgress()
        try progress.save([1, 2, 3])
        #expect(throws: CheckpointTooLarge(size: WorkProgress.maxCheckpointBytes + 1, limit: WorkProgress.maxCheckpointBytes)) {
            try progress.save([UInt8](repeating: 0, count: WorkProgress.maxCheckpointBytes + 1))
        }
        #expect(progress.savedCheckpoint == [1, 2, 3])
        try progress.save([UInt8](repeating: 0, count: WorkProgress.maxCheckpointBytes))
        let unstored = try #require(progress.unstoredCheckpoint())
        progress.markStored(unstored.version)
        #expect(progress.unstoredCheckpoint() == nil)
        progress.report(.nan, note: String(repeating: "x", count: 500))
        #expect(progress.progress?.fraction == 0)
        #expect(progress.progress?.note.count == WorkProgress.maxNoteCharacters)
        progress.report(7, note: "a\nb")
        #expect(progress.progress?.fraction == 1)
        #expect(progress.progress?.note == "a b")
    }
}

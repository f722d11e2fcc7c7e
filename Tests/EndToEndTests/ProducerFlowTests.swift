import Foundation
import Testing
import TestSupport

/// The safe producer with real processes: workers wait while a producer holds the queue open,
/// exit once it is closed and drained (or its mark expires), and a drained Job refuses pushes.
@Suite struct ProducerFlowTests {
    /// A FIFO the test writes to, read by `push --file` line by line as it arrives.
    final class Feed {
        let path: String
        private let descriptor: Int32

        init(_ path: String) throws {
            self.path = path
            try #require(mkfifo(path, 0o600) == 0, "mkfifo \(path): errno \(errno)")
            // O_RDWR never blocks on a FIFO (Linux), and keeps it open for the reader.
            descriptor = open(path, O_RDWR | O_CLOEXEC)  // not inherited: the children would hold it open
            try #require(descriptor >= 0, "open \(path): errno \(errno)")
        }

        func send(_ line: String) {
            var bytes = Array((line + "\n").utf8)
            _ = bytes.withUnsafeMutableBytes { write(descriptor, $0.baseAddress, $0.count) }
        }

        /// The reader sees the end of its input.
        func close() { _ = Glibc.close(descriptor) }
    }

    /// True if `process` is still running after `duration`.
    static func stillRunning(_ process: ChildProcess, after duration: Duration) async throws -> Bool {
        try await Task.sleep(for: duration)
        return process.poll() == nil
    }

    @Test func aWorkerWaitsForAStreamingPushThenDrainsAndExits0() async throws {
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            let feed = try Feed(wq.directory.file("feed"))
            let producer = try wq.start(["push", "--queue", "s", "--keep-open", "--ttl-seconds", "3", "--file", feed.path])
            feed.send("a")
            for _ in 0..<500 where try await redis.cli("exists", "s:open") != "1" {
                try await Task.sleep(for: .milliseconds(10))
            }
            let worker = try wq.start(["work", "--queue", "s", "--handler", "printer"])
            try #require(try await worker.waitForStdout(containing: "Working on a"), "\(worker.stderr)")
            // Empty but open, for longer than the mark's TTL (the push refreshes it).
            #expect(try await Self.stillRunning(worker, after: .seconds(4)), "\(worker.stderr)")
            feed.send("b")
            try #require(try await worker.waitForStdout(containing: "Working on b"), "\(worker.stderr)")
            #expect(try await Self.stillRunning(worker, after: .milliseconds(500)))
            let closed = ContinuousClock.now
            feed.close()
            #expect(try await producer.wait(timeout: .seconds(20)) == .exited(0), "\(producer.stderr)")
            #expect(producer.stdoutLines == ["Pushed 2 items to s"])
            #expect(try await worker.wait(timeout: .seconds(20)) == .exited(0), "\(worker.stderr)")
            #expect(ContinuousClock.now - closed < .seconds(5))
            #expect(worker.stdoutLines.last == "Queue empty, exiting")
            #expect(try await redis.cli("exists", "s:open") == "0")
            #expect(try await redis.cli("exists", "s:drained") == "1")
        }
    }

    @Test func openPushesAndCloseHoldTheWorkersUntilClosed() async throws {
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            let (open, opened) = try await wq.run(["open", "--queue", "o", "--ttl-seconds", "60"])
            #expect(opened == .exited(0), "\(open.stderr)")
            #expect(open.stdout.contains("workqueue close --queue o"))
            let workers = try (0..<2).map { _ in try wq.start(["work", "--queue", "o", "--handler", "printer"]) }
            for worker in workers {
                try #require(try await worker.waitForStdout(containing: "Initial queue state: empty=True"), "\(worker.stderr)")
            }
            #expect(try await wq.run(["push", "--queue", "o", "a", "b", "c"]).termination == .exited(0))
            for _ in 0..<500 where try await redis.cli("get", "o:completed") != "3" {
                try await Task.sleep(for: .milliseconds(10))
            }
            for worker in workers {
                #expect(try await Self.stillRunning(worker, after: .milliseconds(300)), "\(worker.stderr)")
            }
            let (close, closed) = try await wq.run(["close", "--queue", "o"])
            #expect(closed == .exited(0), "\(close.stderr)")
            for worker in workers {
                #expect(try await worker.wait(timeout: .seconds(10)) == .exited(0), "\(worker.stderr)")
            }
            let worked = workers.flatMap { $0.stdoutLines.filter { $0.hasPrefix("Working on ") } }
            #expect(worked.sorted() == ["Working on a", "Working on b", "Working on c"])
        }
    }

    @Test func aProducerKilledHoldingTheMarkHoldsTheWorkersOnlyUntilItsTTL() async throws {
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            let feed = try Feed(wq.directory.file("feed"))
            let producer = try wq.start(["push", "--queue", "k", "--keep-open", "--ttl-seconds", "2", "--file", feed.path])
            feed.send("a")
            for _ in 0..<500 where try await redis.cli("llen", "k") != "1" {
                try await Task.sleep(for: .milliseconds(10))
            }
            let worker = try wq.start(["work", "--queue", "k", "--handler", "printer"])
            try #require(try await worker.waitForStdout(containing: "Working on a"), "\(worker.stderr)")
            producer.send(SIGKILL)
            _ = try await producer.wait()
            let killed = ContinuousClock.now
            #expect(try await redis.cli("exists", "k:open") == "1")
            #expect(try await worker.wait(timeout: .seconds(20)) == .exited(0), "\(worker.stderr)")
            let held = ContinuousClock.now - killed
            #expect(held < .seconds(5), "held \(held)")
            feed.close()
        }
    }

    @Test func sigtermEndsAKeepOpenPushWith143AndRemovesItsMark() async throws {
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            let feed = try Feed(wq.directory.file("feed"))
            let producer = try wq.start(["push", "--queue", "t", "--keep-open", "--file", feed.path])
            feed.send("a")
            for _ in 0..<500 where try await redis.cli("llen", "t") != "1" {
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(try await redis.cli("exists", "t:open") == "1")
            producer.send(SIGTERM)
            #expect(try await producer.wait(timeout: .seconds(10)) == .exited(143), "\(producer.stderr)")
            #expect(try await redis.cli("exists", "t:open") == "0")
            feed.close()
        }
    }

    @Test func aPushAfterTheJobDrainedIsRefusedWith78UnlessReopened() async throws {
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            try await redis.cli("rpush", "d", "a")
            #expect(try await wq.run(["work", "--queue", "d", "--handler", "printer"]).termination == .exited(0))
            #expect(try await redis.cli("exists", "d:drained") == "1")
            let (refused, status) = try await wq.run(["push", "--queue", "d", "late"])
            #expect(status == .exited(78), "\(refused.stderr)")
            #expect(refused.stderr.contains("Error: queue 'd' was drained and the Job's workers have exited"), "\(refused.stderr)")
            #expect(refused.stderr.contains("--reopen"))
            #expect(try await redis.cli("llen", "d") == "0")
            let (keepOpen, keepOpenStatus) = try await wq.run(["push", "--queue", "d", "--keep-open", "late"])
            #expect(keepOpenStatus == .exited(78), "\(keepOpen.stderr)")
            let (open, openStatus) = try await wq.run(["open", "--queue", "d"])
            #expect(openStatus == .exited(78), "\(open.stderr)")
            #expect(try await redis.cli("exists", "d:open") == "0")

            let (reopened, reopenedStatus) = try await wq.run(["push", "--queue", "d", "--reopen", "late"])
            #expect(reopenedStatus == .exited(0), "\(reopened.stderr)")
            #expect(try await redis.cli("lrange", "d", "0", "-1") == "late")
            #expect(try await redis.cli("exists", "d:drained") == "0")
            #expect(try await wq.run(["work", "--queue", "d", "--handler", "printer"]).termination == .exited(0))
            #expect(try await wq.run(["open", "--queue", "d", "--reopen", "--ttl-seconds", "5"]).termination == .exited(0))
            #expect(try await redis.cli("exists", "d:open") == "1")
            #expect(try await wq.run(["close", "--queue", "d"]).termination == .exited(0))
        }
    }
}

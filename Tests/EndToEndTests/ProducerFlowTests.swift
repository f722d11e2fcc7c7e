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

        /// What is still in the FIFO, written and not read by anyone (never blocks).
        func unread() -> String {
            var bytes: [UInt8] = []
            var request = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            while poll(&request, 1, 0) > 0 {
                var chunk = [UInt8](repeating: 0, count: 4096)
                let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                guard count > 0 else { break }
                bytes += chunk[0..<count]
            }
            return String(decoding: bytes, as: UTF8.self)
        }
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

    // MARK: holds (issue 17): every producer's hold is its own

    /// Waits (bounded) until `check` is true.
    static func eventually(_ what: String, timeout: Duration = .seconds(10), _ check: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await check() { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("timed out waiting until \(what)")
        throw CancellationError()
    }

    /// The issue's recipe: an operator's open, a waiting worker, a `push --keep-open` that ends.
    /// The push's end must not end the operator's hold: the worker keeps waiting, the next push
    /// is taken, and only `close` lets the worker exit 0.
    @Test func aKeepOpenPushEndingLeavesTheOperatorsHold() async throws {
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            let (open, opened) = try await wq.run(["open", "--queue", "q", "--ttl-seconds", "600"])
            #expect(opened == .exited(0), "\(open.stderr)")
            let worker = try wq.start(["work", "--queue", "q", "--handler", "printer"])
            defer { worker.send(SIGKILL) }
            try #require(try await worker.waitForStdout(containing: "Initial queue state: empty=True"), "\(worker.stderr)")
            let items = wq.directory.file("items")
            try Data("a\n".utf8).write(to: URL(fileURLWithPath: items))
            let (push, pushed) = try await wq.run(["push", "--queue", "q", "--keep-open", "--file", items])
            #expect(pushed == .exited(0), "\(push.stderr)")
            try #require(try await worker.waitForStdout(containing: "Working on a"), "\(worker.stderr)")
            #expect(try await Self.stillRunning(worker, after: .milliseconds(1500)), "the push's end ended the operator's hold: \(worker.stdout)")
            let (late, lateStatus) = try await wq.run(["push", "--queue", "q", "b"])
            #expect(lateStatus == .exited(0), "\(late.stderr)")
            try #require(try await worker.waitForStdout(containing: "Working on b"), "\(worker.stderr)")
            #expect(try await Self.stillRunning(worker, after: .milliseconds(300)))
            let (close, closed) = try await wq.run(["close", "--queue", "q"])
            #expect(closed == .exited(0), "\(close.stderr)")
            #expect(close.stdoutLines == ["Closed q (hold operator): its workers exit once it is drained"])
            #expect(try await worker.wait(timeout: .seconds(10)) == .exited(0), "\(worker.stderr)")
            #expect(try await redis.cli("exists", "q:holds") == "0")
            #expect(try await redis.cli("exists", "q:open") == "0")
        }
    }

    /// Two `push --keep-open` producers at once: the one that opened last ends first, and the
    /// other one's hold still keeps the worker waiting until it ends too.
    @Test func twoConcurrentKeepOpenPushesEachHoldTheQueue() async throws {
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            let first = try Feed(wq.directory.file("first"))
            let second = try Feed(wq.directory.file("second"))
            let producers = try [first, second].map { feed in
                try wq.start(["push", "--queue", "two", "--keep-open", "--file", feed.path])
            }
            defer { for producer in producers { producer.send(SIGKILL) } }
            // Both holds first: a worker started before them finds an empty queue nobody holds
            // and exits 0 (drained), as it should.
            var holds = ""
            for _ in 0..<200 where holds != "2" {
                holds = try await redis.cli("zcard", "two:holds")
                if holds != "2" { try await Task.sleep(for: .milliseconds(25)) }
            }
            try #require(holds == "2", "the two pushes did not take their holds: \(producers.map(\.stderr))")
            let worker = try wq.start(["work", "--queue", "two", "--handler", "printer"])
            defer { worker.send(SIGKILL) }
            first.send("a")
            try #require(try await worker.waitForStdout(containing: "Working on a"), "\(worker.stderr)")
            second.send("b")
            try #require(try await worker.waitForStdout(containing: "Working on b"), "\(worker.stderr)")
            second.close()
            #expect(try await producers[1].wait(timeout: .seconds(10)) == .exited(0), "\(producers[1].stderr)")
            #expect(try await Self.stillRunning(worker, after: .milliseconds(1500)), "one push's end ended the other's hold")
            first.send("c")
            try #require(try await worker.waitForStdout(containing: "Working on c"), "\(worker.stderr)")
            let closed = ContinuousClock.now
            first.close()
            #expect(try await producers[0].wait(timeout: .seconds(10)) == .exited(0), "\(producers[0].stderr)")
            #expect(producers.map(\.stdoutLines) == [["Pushed 2 items to two"], ["Pushed 1 item to two"]])
            #expect(try await worker.wait(timeout: .seconds(10)) == .exited(0), "\(worker.stderr)")
            #expect(ContinuousClock.now - closed < .seconds(5))
            #expect(try await redis.cli("exists", "two:holds") == "0")
        }
    }

    /// Each hold expires on its own: a killed producer's short hold lapses without ending the
    /// operator's, and the operator's lapses (no close) after its own TTL; `status` lists them.
    @Test func eachHoldExpiresOnItsOwn() async throws {
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            let opened = ContinuousClock.now
            let (open, openStatus) = try await wq.run(["open", "--queue", "x", "--ttl-seconds", "8"])
            #expect(openStatus == .exited(0), "\(open.stderr)")
            let worker = try wq.start(["work", "--queue", "x", "--handler", "printer"])
            defer { worker.send(SIGKILL) }
            let feed = try Feed(wq.directory.file("feed"))
            defer { feed.close() }
            let producer = try wq.start(["push", "--queue", "x", "--keep-open", "--ttl-seconds", "1", "--file", feed.path])
            defer { producer.send(SIGKILL) }
            feed.send("a")
            try #require(try await worker.waitForStdout(containing: "Working on a"), "\(worker.stderr)")
            let (status, _) = try await wq.run(["status", "--queue", "x", "--json"])
            let report = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any], "\(status.stdout)")
            let holds = report["holds"] as? [[String: Any]] ?? []
            #expect(holds.count == 2 && holds.contains { $0["name"] as? String == "operator" }, "\(status.stdout)")
            #expect(holds.allSatisfy { $0["legacy"] as? Bool == false && ($0["expires_in_ms"] as? Int ?? 0) > 0 })
            producer.send(SIGKILL)
            _ = try await producer.wait()
            // The push's hold (1 s, refreshed at most once since) lapses 1 s after the kill;
            // the operator's (8 s) still holds the worker. (Checked only while it surely lives:
            // a loaded machine may get here late.)
            try await Task.sleep(for: .milliseconds(2000))
            if ContinuousClock.now < opened + .seconds(7) {
                #expect(worker.poll() == nil, "the worker exited when the killed producer's hold expired: \(worker.stdout)")
            }
            #expect(try await worker.wait(timeout: .seconds(20)) == .exited(0), "\(worker.stderr)")
            let held = ContinuousClock.now - opened
            #expect(held >= .seconds(8) && held < .seconds(16), "held \(held)")
            #expect(try await redis.cli("exists", "x:holds") == "0")
        }
    }

    /// `dead retry` into a queue whose workers found it drained and exited is refused like a
    /// push (the items would wait forever), unless --reopen.
    @Test func deadRetryIntoADrainedQueueIsRefusedUnlessReopened() async throws {
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            try await redis.cli("rpush", "r", "bad")
            let worker = try wq.start(["work", "--queue", "r", "--handler", "factor", "--max-attempts", "1"])
            defer { worker.send(SIGKILL) }
            #expect(try await worker.wait(timeout: .seconds(20)) == .exited(0), "\(worker.stderr)")
            #expect(try await redis.cli("exists", "r:drained") == "1")
            let (refused, status) = try await wq.run(["dead", "--queue", "r", "retry"])
            #expect(status == .exited(78), "\(refused.stderr)")
            #expect(refused.stderr.contains("Error: queue 'r' was drained"), "\(refused.stderr)")
            #expect(refused.stderr.contains("--reopen"))
            #expect(try await redis.cli("llen", "r") == "0")
            #expect(try await redis.cli("lrange", "r:dead", "0", "-1") == "bad")
            let (retried, retriedStatus) = try await wq.run(["dead", "--queue", "r", "retry", "--reopen"])
            #expect(retriedStatus == .exited(0), "\(retried.stderr)")
            #expect(retried.stdoutLines == ["Moved 1 dead item of r back to pending"])
            #expect(try await redis.cli("lrange", "r", "0", "-1") == "bad")
            #expect(try await redis.cli("exists", "r:drained") == "0")
        }
    }

    /// SIGTERM reaching a `push --keep-open` while it waits on Redis: nothing it had read is
    /// dropped. The line whose push was under way is pushed, the lines written after it stay
    /// unread in the input (not read and thrown away), and stderr says how many were pushed.
    @Test func sigtermDropsNoLineItRead() async throws {
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            let feed = try Feed(wq.directory.file("feed"))
            defer { feed.close() }
            let producer = try wq.start(["push", "--queue", "st", "--keep-open", "--file", feed.path])
            defer { producer.send(SIGKILL) }
            feed.send("a")
            try await Self.eventually("a is pushed") { try await redis.cli("llen", "st") == "1" }
            redis.signal(SIGSTOP)
            var resumed = false
            defer { if !resumed { redis.signal(SIGCONT) } }
            feed.send("b")  // read at once; its push waits on the paused server
            try await Task.sleep(for: .milliseconds(300))
            feed.send("c")
            feed.send("d")
            try await Task.sleep(for: .milliseconds(100))
            producer.send(SIGTERM)
            try await Task.sleep(for: .milliseconds(200))
            redis.signal(SIGCONT)
            resumed = true
            #expect(try await producer.wait(timeout: .seconds(20)) == .exited(143), "\(producer.stderr)")
            #expect(try await redis.cli("lrange", "st", "0", "-1") == "a\nb", "\(producer.stderr)")
            #expect(feed.unread() == "c\nd\n", "lines read after the signal were neither pushed nor left in the input")
            #expect(producer.stderr.contains("pushed 2 items to st"), "\(producer.stderr)")
            #expect(try await redis.cli("exists", "st:holds") == "0")
            #expect(try await redis.cli("exists", "st:open") == "0")
        }
    }

    /// `close` ends only the hold it names (default: operator); `--all` ends every one.
    @Test func closeEndsOnlyTheHoldItNames() async throws {
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            #expect(try await wq.run(["open", "--queue", "n", "--hold", "nightly", "--ttl-seconds", "600"]).termination == .exited(0))
            let (open, _) = try await wq.run(["open", "--queue", "n", "--ttl-seconds", "600"])
            #expect(open.stdout.contains("(hold operator)") && open.stdout.contains("Other holds: nightly (expires in"), "\(open.stdout)")
            #expect(try await wq.run(["open", "--queue", "n", "--hold", "bad name"]).termination == .exited(64))
            let worker = try wq.start(["work", "--queue", "n", "--handler", "printer"])
            defer { worker.send(SIGKILL) }
            let (close, _) = try await wq.run(["close", "--queue", "n"])
            #expect(close.stdout.contains("Closed n (hold operator); still held open by nightly (expires in"), "\(close.stdout)")
            #expect(try await Self.stillRunning(worker, after: .milliseconds(1000)), "\(worker.stderr)")
            let (again, _) = try await wq.run(["close", "--queue", "n"])
            #expect(again.stdout.contains("n had no hold operator: nothing closed; still held open by nightly"), "\(again.stdout)")
            let (nightly, _) = try await wq.run(["close", "--queue", "n", "--hold", "nightly"])
            #expect(nightly.stdoutLines == ["Closed n (hold nightly): its workers exit once it is drained"])
            #expect(try await worker.wait(timeout: .seconds(10)) == .exited(0), "\(worker.stderr)")

            #expect(try await wq.run(["open", "--queue", "m", "--hold", "one"]).termination == .exited(0))
            #expect(try await wq.run(["open", "--queue", "m", "--hold", "two"]).termination == .exited(0))
            let (all, _) = try await wq.run(["close", "--queue", "m", "--all"])
            #expect(all.stdoutLines == ["Closed m (every hold): its workers exit once it is drained"])
            #expect(try await redis.cli("exists", "m:holds") == "0")
        }
    }
}

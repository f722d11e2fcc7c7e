import Foundation
import Testing
import TestSupport
import WorkQueue
@_spi(Testing) @testable import WorkQueueRedis

@Suite(.serialized) struct RedisQueueTests {
    @Test func sha224MatchesKnownVectors() {
        let vectors = [
            ("", "d14a028c2a3a2bc9476102bb288234c415a2b01f828ea62ac5b3e42f"),
            ("apple", "b7bbfdf1a1012999b3c466fdeb906a629caa5e3e022428d1eb702281"),
            ("abc", "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7"),
            (String(repeating: "a", count: 64), "a88cd5cde6d6fe9136a4e58b49167461ea95d388ca2bdb7afdc3cbf4"),
            (String(repeating: "x", count: 200), "3ef8bae4a84311d748956ef862adec84a5745f44618cb3909def1e13"),
        ]
        for (input, expected) in vectors {
            #expect(SHA224.hex(Array(input.utf8)) == expected)
        }
    }

    @Test func scriptSHA1sAreWhatRedisComputes() async throws {
        #expect(SHA1.hex(Array("abc".utf8)) == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(SHA1.hex([]) == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        try await LocalRedis.with { server in
            for script in RedisScript.all {
                let loaded = try await server.cli("script", "load", script.source)
                #expect(loaded == script.sha1, "\(script.name)")
            }
            // Every padding case, as `redis.sha1hex` (the purge-dead check) computes it.
            for length in [1, 55, 56, 63, 64, 65, 119, 120, 1000] {
                let text = String(repeating: "q", count: length)
                #expect(try await server.cli("eval", "return redis.sha1hex(ARGV[1])", "0", text) == SHA1.hex(Array(text.utf8)), "\(length)")
            }
        }
    }

    @Test func redisCliItemsAreLeasedFIFOAndCompleted() async throws {
        try await LocalRedis.with { server in
            try await server.cli("rpush", "job2", "apple", "banana")
            let queue = try await RedisQueue.connect(name: "job2", configuration: server.configuration)
            defer { Task { await queue.close() } }
            let first = try await queue.lease(max: 1, session: "s1", duration: .seconds(30))
            #expect(first.map(\.item) == ["apple"])
            #expect(first.first?.attempt == 1)
            // The lease: a fencing token of session s1 holding the item, with a deadline.
            let token = try #require(first.first?.token)
            #expect(token.hasPrefix("s1:"))
            #expect(try await server.cli("hget", "job2:lease-items", token) == "apple")
            #expect(try await server.cli("zscore", "job2:leases", token) != "")
            #expect(try await server.cli("llen", "job2:processing") == "0", "our leases leave no entry in the tutorial's list")
            #expect(try await queue.counts().processing == 1, "in flight: our lease")
            let second = try await queue.lease(max: 5, session: "s1", duration: .seconds(30))
            #expect(second.map(\.item) == ["banana"])
            for lease in first + second {
                #expect(try await queue.complete(lease, result: "ok") == .settled)
            }
            #expect(try await server.cli("hlen", "job2:lease-items") == "0")
            #expect(try await server.cli("zcard", "job2:leases") == "0")
            #expect(try await server.cli("llen", "job2:processing") == "0")
            let counts = try await queue.counts()
            #expect(counts.isDrained && counts.completed == 2)
            #expect(try await queue.complete(first[0], result: nil) == .leaseLost)
        }
    }

    @Test func deadPythonWorkerIsRecoveredAndLiveOneRespected() async throws {
        try await LocalRedis.with { server in
            try await server.cli("rpush", "job2", "apple", "banana")
            let queue = try await RedisQueue.connect(name: "job2", configuration: server.configuration,
                                                     options: .init(recoveryGrace: .zero))
            defer { Task { await queue.close() } }
            // Two rediswq.py-style workers: each BRPOPLPUSH then SETEX its lease.
            #expect(try await server.cli("brpoplpush", "job2", "job2:processing", "1") == "banana")
            try await server.cli("setex", "job2:leased_by_session:" + SHA224.hex(Array("banana".utf8)), "1", "dead-worker")
            #expect(try await server.cli("brpoplpush", "job2", "job2:processing", "1") == "apple")
            try await server.cli("setex", "job2:leased_by_session:" + SHA224.hex(Array("apple".utf8)), "600", "live-worker")
            #expect(try await queue.recoverExpiredLeases(maxAttempts: 5) == RecoveryReport())
            // Wait (bounded) for the dead worker's 1 s lease to expire.
            var report = RecoveryReport()
            for _ in 0..<100 where report.requeued == 0 {
                try await Task.sleep(for: .milliseconds(50))
                report = try await queue.recoverExpiredLeases(maxAttempts: 5)
            }
            #expect(report == RecoveryReport(requeued: 1))
            let leases = try await queue.lease(max: 5, session: "us", duration: .seconds(30))
            #expect(leases.map(\.item) == ["banana"])
            #expect(leases.first?.attempt == 2)
            #expect(try await queue.complete(leases[0], result: nil) == .settled)
            #expect(try await server.cli("lrange", "job2:processing", "0", "-1") == "apple")
        }
    }

    @Test func graceProtectsAFreshlyTakenItem() async throws {
        try await LocalRedis.with { server in
            try await server.cli("rpush", "job2", "apple")
            try await server.cli("rpoplpush", "job2", "job2:processing")
            let patient = try await RedisQueue.connect(name: "job2", configuration: server.configuration,
                                                       options: .init(recoveryGrace: .seconds(600)))
            #expect(try await patient.recoverExpiredLeases(maxAttempts: 5) == RecoveryReport())
            #expect(try await patient.recoverExpiredLeases(maxAttempts: 5) == RecoveryReport())
            await patient.close()
            let eager = try await RedisQueue.connect(name: "job2", configuration: server.configuration,
                                                     options: .init(recoveryGrace: .zero))
            defer { Task { await eager.close() } }
            #expect(try await eager.recoverExpiredLeases(maxAttempts: 5) == RecoveryReport(requeued: 1))
        }
    }

    @Test func wrongKeyTypeIsReportedAndNothingModified() async throws {
        try await LocalRedis.with { server in
            try await server.cli("set", "job2", "x")
            let queue = try await RedisQueue.connect(name: "job2", configuration: server.configuration)
            defer { Task { await queue.close() } }
            let expected = WorkQueueError.wrongKeyType(key: "job2", actual: "string", expected: "list")
            await #expect(throws: expected) { try await queue.lease(max: 1, session: "s", duration: .seconds(5)) }
            await #expect(throws: expected) { try await queue.counts() }
            await #expect(throws: expected) { try await queue.validateKeyTypes() }
            await #expect(throws: expected) { try await queue.enqueue(["a"]) }
            #expect(try await server.cli("get", "job2") == "x")
            #expect(try await server.cli("dbsize") == "1")
            // A wrong processing key stops the take before it pops anything.
            try await server.cli("del", "job2")
            try await server.cli("rpush", "job2", "apple")
            try await server.cli("hset", "job2:processing", "a", "b")
            await #expect(throws: WorkQueueError.wrongKeyType(key: "job2:processing", actual: "hash", expected: "list")) {
                try await queue.lease(max: 1, session: "s", duration: .seconds(5))
            }
            #expect(try await server.cli("lrange", "job2", "0", "-1") == "apple")
        }
    }

    @Test func failRetryDeadLetterAndRelease() async throws {
        try await LocalRedis.with { server in
            let queue = try await RedisQueue.connect(name: "q", configuration: server.configuration)
            defer { Task { await queue.close() } }
            try await queue.enqueue(["a", "b", "a"])
            let leases = try await queue.lease(max: 3, session: "s", duration: .seconds(30))
            #expect(leases.map(\.item) == ["a", "b", "a"])
            #expect(try await queue.fail(leases[0], error: "boom", disposition: .retry(after: .zero)) == .settled)
            #expect(try await queue.fail(leases[1], error: "bad", disposition: .deadLetter) == .settled)
            #expect(try await queue.release(leases[2]) == .settled)
            var counts = try await queue.counts()
            #expect(counts.pending == 1 && counts.scheduled == 1 && counts.dead == 1 && counts.processing == 0)
            #expect(!counts.isDrained)
            #expect(try await queue.promoteDueRetries() == 1)
            let dead = try await queue.deadLetters()
            #expect(dead == [DeadLetter(item: "b", lastError: "bad", attempts: 1)])
            let again = try await queue.lease(max: 5, session: "t", duration: .seconds(30))
            #expect(again.map(\.item) == ["a", "a"])
            #expect(again.map(\.attempt) == [2, 2])
            #expect(try await queue.retryDeadLetters() == 1)
            let b = try await queue.lease(max: 5, session: "t", duration: .seconds(30))
            #expect(b.map(\.item) == ["b"] && b.first?.attempt == 1)
            #expect(try await queue.renew(again + b, duration: .seconds(60)) == [true, true, true])
            #expect(try await queue.renew([Lease(item: "b", session: "other", attempt: 1)], duration: .seconds(60)) == [false])
            // Mixed sessions in one call: results keep the order of the leases.
            let mixed = [again[0], Lease(item: "b", session: "other", attempt: 1), b[0]]
            #expect(try await queue.renew(mixed, duration: .seconds(60)) == [true, false, true])
            for lease in again + b { _ = try await queue.complete(lease, result: nil) }
            counts = try await queue.counts()
            #expect(counts.isDrained)
            try await queue.enqueue(["z"])
            let z = try await queue.lease(max: 1, session: "s", duration: .seconds(30))
            _ = try await queue.fail(z[0], error: "x", disposition: .deadLetter)
            #expect(try await queue.purgeDeadLetters() == 1)
            #expect(try await queue.deadLetters().isEmpty)
        }
    }

    @Test func waitForWorkReturnsWhenPushedAndTakesNothing() async throws {
        try await LocalRedis.with { server in
            let queue = try await RedisQueue.connect(name: "w", configuration: server.configuration)
            defer { Task { await queue.close() } }
            try await queue.waitForWork(timeout: .milliseconds(100))
            try await queue.enqueue(["a", "b"])
            try await queue.waitForWork(timeout: .seconds(5))
            #expect(try await server.cli("lrange", "w", "0", "-1") == "a\nb")
        }
    }

    @Test func workerDyingBetweenTakeAndLeaseLosesNothing() async throws {
        try await LocalRedis.with { server in
            let queue = try await RedisQueue.connect(name: "f", configuration: server.configuration,
                                                     options: .init(recoveryGrace: .zero))
            defer { Task { await queue.close() } }
            try await queue.enqueue(["only"])
            queue.faultInjection = .init(dropConnectionAfterTake: true)
            await #expect(throws: RedisError.self) { try await queue.lease(max: 1, session: "dying", duration: .milliseconds(300)) }
            queue.faultInjection = .init()
            // Held by the dead session: nobody else gets it while the lease lives.
            #expect(try await queue.lease(max: 1, session: "live", duration: .seconds(30)).isEmpty)
            #expect(try await queue.recoverExpiredLeases(maxAttempts: 5) == RecoveryReport())
            var report = RecoveryReport()
            for _ in 0..<100 where report.requeued == 0 {
                try await Task.sleep(for: .milliseconds(50))
                report = try await queue.recoverExpiredLeases(maxAttempts: 5)
            }
            #expect(report.requeued == 1)
            let leases = try await queue.lease(max: 5, session: "live", duration: .seconds(30))
            #expect(leases.map(\.item) == ["only"] && leases.first?.attempt == 2)
        }
    }

    @Test func reconnectsAfterRestartAndFailsClearlyOnClosedPort() async throws {
        try await LocalRedis.with { server in
            let queue = try await RedisQueue.connect(name: "r", configuration: server.configuration, connectBudget: .seconds(10))
            defer { Task { await queue.close() } }
            try await queue.enqueue(["a"])
            try await server.restart()
            var pending: Int?
            for _ in 0..<50 where pending == nil {
                pending = try? await queue.counts().pending
                if pending == nil { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(pending == 0)  // no persistence: the restarted server is empty
        }
        let port = try LocalRedis.freePort()
        do {
            _ = try await RedisQueue.connect(name: "x", configuration: RedisConfiguration(host: "127.0.0.1", port: port),
                                             connectBudget: .milliseconds(500))
            Issue.record("connect should fail")
        } catch {
            #expect("\(error)".contains("127.0.0.1:\(port)"))
            #expect("\(error)".contains("Check"))
        }
    }

    @Test func countsWithLeasesTellsLiveLeasesFromItemsAwaitingRecovery() async throws {
        try await LocalRedis.with { server in
            try await server.cli("rpush", "job2", "apple", "banana", "cherry")
            let queue = try await RedisQueue.connect(name: "job2", configuration: server.configuration)
            _ = try await queue.lease(max: 1, session: "ours", duration: .seconds(30))
            // A rediswq.py worker that died between its take and its lease.
            try await server.cli("rpoplpush", "job2", "job2:processing")
            let counts = try await queue.countsWithLeases()
            #expect(counts.pending == 1 && counts.processing == 2 && counts.leased == 1)
            #expect(try await queue.counts().leased == nil)
            await queue.close()
        }
    }
}

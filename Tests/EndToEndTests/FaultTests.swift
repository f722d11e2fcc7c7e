import Foundation
import Testing
import TestSupport

/// Faults around `work` with real processes: a paused Redis at SIGTERM, missing ACL
/// permissions.
@Suite struct FaultTests {
    /// A worker (1 s grace) busy on the only item, `apple`, for 30 s.
    static func workerHoldingApple(_ redis: LocalRedis, queue: String) async throws -> ChildProcess {
        try await redis.cli("rpush", queue, "apple")
        let worker = try Workqueue(redis).start(["work", "--queue", queue, "--handler", "printer", "--option", "delay=30",
                                                 "--grace-seconds", "1"])
        #expect(try await worker.waitForStdout(containing: "Working on apple"), "\(worker.stderr)")
        return worker
    }

    @Test func sigtermWhileRedisIsPausedExits143WithinTheGracePeriodAndTheItemIsNotLost() async throws {
        try await LocalRedis.with { redis in
            let worker = try await Self.workerHoldingApple(redis, queue: "paused")
            redis.signal(SIGSTOP)
            let clock = ContinuousClock()
            let started = clock.now
            worker.send(SIGTERM)
            let termination = try await worker.wait(timeout: .seconds(20))
            let took = clock.now - started
            redis.signal(SIGCONT)
            #expect(termination == .exited(143), "\(worker.stderr)")
            #expect(took < .seconds(4), "exit took \(took); stderr: \(worker.stderr)")
            let processing = try await redis.cli("hvals", "paused:lease-items")
            let pending = try await redis.cli("lrange", "paused", "0", "-1")
            #expect(processing == "apple" || pending == "apple", "processing: \(processing); pending: \(pending)")
            #expect(try await redis.cli("get", "paused:completed") != "1")
        }
    }

    @Test func sigtermWhileRedisIsDownExitsPromptly() async throws {
        try await LocalRedis.with { redis in
            let worker = try await Self.workerHoldingApple(redis, queue: "down")
            await redis.stop()
            let clock = ContinuousClock()
            let started = clock.now
            worker.send(SIGTERM)
            let termination = try await worker.wait(timeout: .seconds(20))
            #expect(termination == .exited(143), "\(worker.stderr)")
            #expect(clock.now - started < .seconds(4), "stderr: \(worker.stderr)")
        }
    }

    @Test func aUserWithoutEVALSHAGetsNOPERMWithTheRuleAtOnce() async throws {
        try await LocalRedis.with { redis in
            try await redis.cli("rpush", "acl2", "apple")
            try await redis.cli(["ACL", "SETUSER", "worker", "on", ">s3cret", "~acl2", "~acl2:*", "+@all", "-evalsha"])
            let wq = try Workqueue(redis)
            let (refused, termination) = try await wq.run(
                ["work", "--queue", "acl2", "--handler", "printer"],
                environment: ["REDIS_URL": "redis://worker:s3cret@127.0.0.1:\(redis.port)"], timeout: .seconds(30))
            #expect(termination == .exited(78), "a permanent refusal exits 78 (EX_CONFIG)")
            #expect(refused.stderr.contains("NOPERM"), "\(refused.stderr)")
            #expect(refused.stderr.contains("ACL SETUSER worker on >PASSWORD resetkeys ~acl2 ~acl2:*"), "\(refused.stderr)")
            #expect(!refused.stderr.contains("retrying"), "\(refused.stderr)")
            #expect(try await redis.cli("lrange", "acl2", "0", "-1") == "apple")
        }
    }

    @Test func aMissingPermissionStopsAtOnceWithTheACLRuleAndTheRuleWorks() async throws {
        try await LocalRedis.with { redis in
            try await redis.cli("rpush", "acljob", "apple", "banana")
            // Everything but ZREM (which completing an item needs, inside a script, to end its lease).
            try await redis.cli(["ACL", "SETUSER", "worker", "on", ">s3cret", "~acljob", "~acljob:*", "+@all", "-zrem"])
            let wq = try Workqueue(redis)
            let url = "redis://worker:s3cret@127.0.0.1:\(redis.port)"
            let clock = ContinuousClock()
            let started = clock.now
            // The refused worker exits holding "apple" leased: a short lease brings it back soon.
            let (refused, termination) = try await wq.run(["work", "--queue", "acljob", "--handler", "printer", "--lease-seconds", "1"],
                                                          environment: ["REDIS_URL": url], timeout: .seconds(30))
            #expect(termination == .exited(78), "a permanent refusal exits 78 (EX_CONFIG)")
            #expect(clock.now - started < .seconds(10), "retried a permanent error: \(refused.stderr)")
            #expect(refused.stderr.contains("NOPERM") || refused.stderr.contains("can't run this command"), "\(refused.stderr)")
            #expect(!refused.stderr.contains("s3cret"))
            // The hint is the rule to apply: it works as printed (with the password filled in).
            let line = try #require(refused.stderr.split(separator: "\n").first { $0.contains("ACL SETUSER") })
            let rule = try #require(line.range(of: "ACL SETUSER").map { String(line[$0.lowerBound...]) })
            let words = rule.split(separator: " ").map(String.init).map { $0 == ">PASSWORD" ? ">s3cret" : $0 }
            #expect(words.contains("~acljob:*"))
            try await redis.cli(["ACL", "DELUSER", "worker"])
            let applied = try await redis.cli(words)
            #expect(applied == "OK", "\(rule) -> \(applied)")
            let (worked, status) = try await wq.run(["work", "--queue", "acljob", "--handler", "printer"],
                                                    environment: ["REDIS_URL": url])
            #expect(status == .exited(0), "\(worked.stderr)")
            #expect(worked.stdoutLines.contains("Working on apple"))
            #expect(worked.stdoutLines.last == "Queue empty, exiting")
            #expect(!worked.stderr.contains("heartbeat record was refused"), "\(worked.stderr)")
            let (listed, listStatus) = try await wq.run(["workers", "--queue", "acljob"], environment: ["REDIS_URL": url])
            #expect(listStatus == .exited(0), "the rule lacks what `workers` sends: \(listed.stderr)")
            // The worker exited 0, so the queue is marked drained: pushing more needs --reopen.
            let (pushed, pushStatus) = try await wq.run(["push", "--queue", "acljob", "--reopen", "cherry"], environment: ["REDIS_URL": url])
            #expect(pushStatus == .exited(0), "\(pushed.stderr)")
            let (status2, statusCode) = try await wq.run(["status", "--queue", "acljob", "--json"], environment: ["REDIS_URL": url])
            #expect(statusCode == .exited(0), "\(status2.stderr)")
        }
    }
}

/// The eviction policy check at start.
@Suite struct EvictionCheckTests {
    @Test func anEvictingPolicyIsWarnedAboutAndRefusedWithRequireNoEviction() async throws {
        try await LocalRedis.with { redis in
            try await redis.cli("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
            try await redis.cli("rpush", "evict", "apple")
            let wq = try Workqueue(redis)
            let (refused, code) = try await wq.run(["work", "--queue", "evict", "--handler", "printer", "--require-noeviction"])
            #expect(code == .exited(78))
            #expect(refused.stderr.contains("allkeys-lru") && refused.stderr.contains("--require-noeviction"), "\(refused.stderr)")
            #expect(try await redis.cli("lrange", "evict", "0", "-1") == "apple")
            let (envRefused, envCode) = try await wq.run(["work", "--queue", "evict", "--handler", "printer"],
                                                         environment: ["WORKQUEUE_REQUIRE_NOEVICTION": "1"])
            #expect(envCode == .exited(78), "\(envRefused.stderr)")
            let (warned, warnedCode) = try await wq.run(["work", "--queue", "evict", "--handler", "printer"])
            #expect(warnedCode == .exited(0), "\(warned.stderr)")
            #expect(warned.stderr.contains("WARNING: maxmemory-policy is allkeys-lru"), "\(warned.stderr)")
            #expect(warned.stdoutLines.contains("Working on apple"))
        }
    }
}

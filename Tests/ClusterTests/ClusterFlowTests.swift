import Foundation
import Testing
import TestSupport

/// The `workqueue` command on a real 6-node Redis Cluster: the tutorial's flow on `{job2}`,
/// several workers, a master killed mid-run, a slot migrated mid-run. Each test has its own
/// cluster; every wait is bounded.
@Suite(.serialized) struct ClusterFlowTests {
    static let fruits = ["apple", "banana", "cherry", "date", "fig", "grape", "lemon", "melon", "orange"]

    /// The finish line on a cluster, sharded over its masters: `wait` sums every shard, and
    /// the `--on-drained` claim (shard 0's keys, one slot) runs the hook once for three workers.
    @Test func waitAndOnDrainedOverShardsOnACluster() async throws {
        try await LocalRedisCluster.with { cluster in
            let wq = try ClusterWorkqueue(cluster)
            let log = wq.directory.file("hook.log")
            let items = (1...24).map { "item-\($0)" }
            #expect(try await wq.run(["push", "--queue", "fin", "--shards", "3"] + items).termination == .exited(0))
            let waiter = try wq.start(["wait", "--queue", "fin", "--shards", "3", "--json", "--interval", "0.1"])
            let hook = #"echo "completed=$WORKQUEUE_COMPLETED dead=$WORKQUEUE_DEAD" >> "$HOOK_LOG""#
            let workers = try (0..<3).map { _ in
                try wq.start(["work", "--queue", "fin", "--shards", "3", "--handler", "printer", "--on-drained", hook],
                             environment: ["HOOK_LOG": log])
            }
            for worker in workers { #expect(try await worker.wait(timeout: .seconds(60)) == .exited(0), "\(worker.stderr)") }
            #expect(try await waiter.wait(timeout: .seconds(60)) == .exited(0), "\(waiter.stderr)")
            let report = try #require(try JSONSerialization.jsonObject(with: Data(waiter.stdout.utf8)) as? [String: Any])
            #expect(report["completed"] as? Int == 24 && report["drained"] as? Bool == true, "\(waiter.stdout)")
            #expect(try String(contentsOfFile: log, encoding: .utf8) == "completed=24 dead=0\n")
            #expect(try await cluster.cli("HGET", "{fin:0}:on-drained", "state") == "done")
        }
    }

    /// Delayed and unique pushes on a cluster, over shards on its masters: `NAME:unique` is in
    /// each shard's slot, a re-run of a unique push adds nothing, and the workers wait for the
    /// delayed items before they exit 0.
    @Test func delayedAndUniquePushesOverShardsOnACluster() async throws {
        try await LocalRedisCluster.with { cluster in
            let wq = try ClusterWorkqueue(cluster)
            let items = (1...12).map { "item-\($0)" }
            for run in 0..<2 {
                let (push, pushed) = try await wq.run(["push", "--queue", "once", "--shards", "3", "--unique", "--delay", "2s"] + items)
                #expect(pushed == .exited(0), "\(push.stderr)")
                #expect(push.stdoutLines.first?.hasPrefix("Pushed \(run == 0 ? 12 : 0) items to once over 3 shards") == true,
                        "\(push.stdoutLines)")
            }
            let started = Date()
            let worker = try wq.start(["work", "--queue", "once", "--shards", "3", "--handler", "printer"])
            #expect(try await worker.wait(timeout: .seconds(60)) == .exited(0), "\(worker.stderr)")
            #expect(worker.stdoutLines.filter { $0.hasPrefix("Working on item-") }.count == 12, "\(worker.stdout)")
            #expect(Date().timeIntervalSince(started) >= 1, "the worker waited for the delayed items")
            var digests = 0
            for shard in 0..<3 { digests += Int(try await cluster.cli("ZCARD", "{once:\(shard)}:unique")) ?? -1 }
            #expect(digests == 12)
        }
    }

    /// Checkpoints on a cluster: a worker killed mid-item leaves its checkpoint in
    /// `{cp}:lease-checkpoints` (the queue's slot; by lease token), recovery hands it on, and
    /// the next worker resumes from it.
    @Test func aKilledWorkersItemResumesFromItsCheckpointOnACluster() async throws {
        try await LocalRedisCluster.with { cluster in
            let wq = try ClusterWorkqueue(cluster)
            #expect(try await wq.run(["push", "--queue", "{cp}", "40"]).termination == .exited(0))
            let options = ["--handler", "countdown", "--option", "step=0.1", "--lease-seconds", "1.5"]
            let first = try wq.start(["work", "--queue", "{cp}"] + options)
            #expect(try await first.waitForStdout(containing: "Working on 40"), "\(first.stderr)")
            var stored = ""
            for _ in 0..<100 where Int(stored) ?? 0 < 5 {
                try await Task.sleep(for: .milliseconds(100))
                stored = try await cluster.cli("HVALS", "{cp}:lease-checkpoints")
            }
            let saved = try #require(Int(stored), "no checkpoint stored: '\(stored)'")
            first.send(SIGKILL)
            _ = try await first.wait()
            let second = try wq.start(["work", "--queue", "{cp}", "--recovery-seconds", "0.5"] + options)
            #expect(try await second.wait(timeout: .seconds(60)) == .exited(0), "\(second.stderr)")
            let resumed = try #require(second.stdoutLines.first { $0.hasPrefix("Resuming 40 at step ") }, "\(second.stdout)")
            #expect((Int(resumed.dropFirst("Resuming 40 at step ".count)) ?? 0) >= saved)
            #expect(try await cluster.cli("HLEN", "{cp}:checkpoints") == "0")
            #expect(try await cluster.cli("HLEN", "{cp}:lease-checkpoints") == "0")
        }
    }

    @Test func tutorialFlowOnAHashTaggedQueueAndSeveralWorkers() async throws {
        try await LocalRedisCluster.with { cluster in
            let wq = try ClusterWorkqueue(cluster)
            let (push, pushed) = try await wq.run(["push", "--queue", "{job2}"] + Self.fruits)
            #expect(pushed == .exited(0), "\(push.stderr)")
            #expect(push.stdoutLines == ["Pushed 9 items to {job2}"])
            // The tutorial's layout: the list {job2} on its slot's master, raw items in order.
            #expect(try await cluster.cli("LRANGE", "{job2}", "0", "-1") == Self.fruits.joined(separator: "\n"))

            let workers = try (0..<2).map { _ in try wq.start(["work", "--queue", "{job2}", "--handler", "printer"]) }
            var handled: [String] = []
            for worker in workers {
                #expect(try await worker.wait(timeout: .seconds(60)) == .exited(0), "\(worker.stderr)")
                #expect(worker.stdoutLines.first?.hasPrefix("Worker with sessionID:") == true)
                #expect(worker.stdoutLines.last == "Queue empty, exiting")
                handled += handledItems(worker)
            }
            #expect(handled.sorted() == Self.fruits.sorted())
            let status = try await wq.status("{job2}")
            #expect(status["pending"] as? Int == 0)
            #expect(status["processing"] as? Int == 0)
            #expect(status["completed"] as? Int == 9)
            #expect(status["drained"] as? Bool == true)

            // One node as the only seed, cluster mode from the environment.
            let (single, singleExit) = try await wq.run(["status", "--queue", "{job2}"],
                                                        environment: ["REDIS_URL": cluster.url(port: cluster.ports[4]),
                                                                      "WORKQUEUE_CLUSTER": "1"])
            #expect(singleExit == .exited(0), "\(single.stderr)")

            // A name whose keys would span slots is refused like any configuration error.
            let (refused, refusedExit) = try await wq.run(["push", "--queue", "job2", "x"])
            #expect(refusedExit == .exited(78))
            #expect(refused.stderr.contains("{job2}"), "\(refused.stderr)")
            #expect(try await cluster.cli("EXISTS", "job2") == "0")

            // A cluster has only database 0.
            let (database, databaseExit) = try await wq.run(["status", "--queue", "{job2}"],
                                                            environment: ["REDIS_URL": cluster.url(port: cluster.ports[0]) + "/2",
                                                                          "WORKQUEUE_CLUSTER": "true"])
            #expect(databaseExit == .exited(64), "\(database.stderr)")
            #expect(database.stderr.contains("database 0"), "\(database.stderr)")

            // Without cluster mode, a node that does not serve the slot: refused with a hint.
            let owner = try await cluster.masterPort(ofSlot: cluster.slot(of: "{job2}"))
            let other = try #require(try await cluster.nodes().first { $0.isMaster && $0.port != owner }?.port)
            let (moved, movedExit) = try await wq.run(["status", "--queue", "{job2}"],
                                                      environment: ["REDIS_URL": cluster.url(port: other)])
            #expect(movedExit == .exited(78), "\(moved.stderr)")
            #expect(moved.stderr.contains("--cluster"), "\(moved.stderr)")

            // Several workers, two slots each, on one cluster queue.
            let items = (1...400).map { "item-\($0)" }
            let (bulk, bulkExit) = try await wq.run(["push", "--queue", "{many}", "--wait-replicas", "1"] + items)
            #expect(bulkExit == .exited(0), "\(bulk.stderr)")
            let crew = try (0..<4).map { _ in
                try wq.start(["work", "--queue", "{many}", "--handler", "printer", "--concurrency", "2"])
            }
            var done: [String] = []
            for worker in crew {
                #expect(try await worker.wait(timeout: .seconds(90)) == .exited(0), "\(worker.stderr)")
                done += handledItems(worker)
            }
            // At least once (exactly once unless a starved machine failed a node over anyway).
            #expect(Set(done) == Set(items))
            #expect(done.count >= items.count)
            try await expectEmpty(cluster, "{many}", completed: nil)
        }
    }

    /// Pause, cancel, restore and a rate limit on a sharded queue spread over the three masters:
    /// every control key lives in its shard's slot (`{NAME:i}:control`, `:cancelled`, `:rate`).
    @Test func pauseCancelRestoreAndARateLimitOverShardsOnACluster() async throws {
        try await LocalRedisCluster.with { cluster in
            let wq = try ClusterWorkqueue(cluster)
            let items = (1...12).map { "ctl-\($0)" }
            #expect(try await wq.run(["push", "--queue", "ctl", "--shards", "3"] + items).termination == .exited(0))
            #expect(try await wq.run(["pause", "--queue", "ctl", "--shards", "3"]).termination == .exited(0))
            let worker = try wq.start(["work", "--queue", "ctl", "--shards", "3", "--handler", "printer", "--rate-limit", "30/s"])
            defer { if worker.poll() == nil { worker.send(SIGKILL) } }
            #expect(try await worker.waitForStdout(containing: "Initial queue state"), "\(worker.stderr)")
            try await Task.sleep(for: .seconds(1))
            #expect(handledItems(worker).isEmpty, "a paused worker took items")
            let (cancel, cancelled) = try await wq.run(["cancel", "--queue", "ctl", "--shards", "3"])
            #expect(cancelled == .exited(0), "\(cancel.stderr)")
            #expect(cancel.stdoutLines.first?.hasPrefix("Cancelled ctl: moved 12 items aside") == true, "\(cancel.stdout)")
            #expect(try await worker.wait(timeout: .seconds(30)) == .exited(4), "\(worker.stderr)")
            let (list, _) = try await wq.run(["cancelled", "--queue", "ctl", "--shards", "3", "list"])
            #expect(list.stdoutLines.sorted() == items.sorted())
            #expect(try await wq.run(["resume", "--queue", "ctl", "--shards", "3", "--restore"]).termination == .exited(0))
            let drain = try wq.start(["work", "--queue", "ctl", "--shards", "3", "--handler", "printer", "--rate-limit", "30/s"])
            defer { if drain.poll() == nil { drain.send(SIGKILL) } }
            #expect(try await drain.wait(timeout: .seconds(60)) == .exited(0), "\(drain.stderr)")
            #expect(handledItems(drain).sorted() == items.sorted())
        }
    }

    /// A sharded job over the whole cluster: `push --shards 3` spreads the items over
    /// `{NAME:0}` ... `{NAME:2}`, whose slots (for the name picked here) belong to the three
    /// masters; three `work --shards 3` processes drain every shard and exit 0.
    @Test func shardedJobAcrossAllThreeMasters() async throws {
        try await LocalRedisCluster.with { cluster in try await Self.shardedJob(on: cluster) }
    }

    /// The sharded job on a cluster whose nodes serve TLS only, their bus and replication too:
    /// the worker reads the topology's `tls-port`s and verifies every master's certificate
    /// against the private CA. Trusting another CA, it stops at once with exit 78.
    @Test func shardedJobOnAClusterThatServesOnlyTLS() async throws {
        let certificates = try await TestCertificates()
        try await LocalRedisCluster.with(replicasPerMaster: 0, tls: certificates) { cluster in
            try await Self.shardedJob(on: cluster)
            let wq = try ClusterWorkqueue(cluster)
            let (untrusted, untrustedExit) = try await wq.run(["status", "--queue", "{job2}"],
                                                              environment: ["WORKQUEUE_TLS_CA_FILE": certificates.otherCAFile])
            #expect(untrustedExit == .exited(78), "\(untrusted.stderr)")
            #expect(untrusted.stderr.contains("certificate"), "\(untrusted.stderr)")
        }
    }

    /// 600 items pushed over three shards on three different masters, drained by three workers.
    private static func shardedJob(on cluster: LocalRedisCluster) async throws {
        let wq = try ClusterWorkqueue(cluster)
        // A name whose three shards are on three different masters (bounded search).
        var name: String?
        for candidate in (0..<200).map({ "spread\($0)" }) {
            var masters: Set<Int> = []
            for shard in 0..<3 { masters.insert(try await cluster.masterPort(ofSlot: cluster.slot(of: "{\(candidate):\(shard)}"))) }
            if masters.count == 3 { name = candidate; break }
        }
        let queue = try #require(name, "no name among 200 whose 3 shards are on 3 masters")
        let items = (1...600).map { "item-\($0)" }
        let (push, pushed) = try await wq.run(["push", "--queue", queue, "--shards", "3", "--file", try itemsFile(wq, items)])
        #expect(pushed == .exited(0), "\(push.stderr)")
        for shard in 0..<3 { #expect(try await cluster.cli("LLEN", "{\(queue):\(shard)}") == "200") }

        let crew = try (0..<3).map { _ in
            try wq.start(["work", "--queue", queue, "--shards", "3", "--handler", "printer", "--concurrency", "2"])
        }
        var done: [String] = []
        for worker in crew {
            #expect(try await worker.wait(timeout: .seconds(90)) == .exited(0), "\(worker.stderr)")
            #expect(worker.stdoutLines.last == "Queue empty, exiting")
            done += handledItems(worker)
        }
        #expect(Set(done) == Set(items))
        for shard in 0..<3 { try await expectEmpty(cluster, "{\(queue):\(shard)}", completed: 200) }
        let (status, statusExit) = try await wq.run(["status", "--queue", queue, "--shards", "3", "--json"])
        #expect(statusExit == .exited(0), "\(status.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
        #expect(report["pending"] as? Int == 0)
        #expect(report["completed"] as? Int == 600)
        #expect((report["shards"] as? [Any])?.count == 3)

        // Completion records on a cluster: each shard's stream lives in its shard's slot, and
        // `results` merges them by ID.
        let numbers = (2...31).map(String.init)
        #expect(try await wq.run(["push", "--queue", queue + "r", "--shards", "3"] + numbers).termination == .exited(0))
        let (factor, factorExit) = try await wq.run(["work", "--queue", queue + "r", "--shards", "3", "--handler", "factor"])
        #expect(factorExit == .exited(0), "\(factor.stderr)")
        let (results, resultsExit) = try await wq.run(["results", "--queue", queue + "r", "--shards", "3", "--consume"])
        #expect(resultsExit == .exited(0), "\(results.stderr)")
        #expect(results.stdoutLines.count == numbers.count)
        #expect(Set(results.stdoutLines.compactMap { line in numbers.first { line.contains(#""item":"\#($0)""#) } }) == Set(numbers))
        for shard in 0..<3 { #expect(try await cluster.cli("XLEN", "{\(queue)r:\(shard)}:results") == "0") }
    }

    /// The queue's master is killed (SIGKILL) mid-run; its replica takes over after the node
    /// timeout. Workers carry on; every item acknowledged by a replica (push --wait-replicas 1)
    /// is handled at least once; nothing is left pending, in processing or leased.
    @Test func masterFailoverMidRun() async throws {
        try await LocalRedisCluster.with(nodeTimeout: 1000) { cluster in
            let wq = try ClusterWorkqueue(cluster)
            let queue = "{job2}"
            let items = (1...600).map { "item-\($0)" }
            let (open, openExit) = try await wq.run(["open", "--queue", queue, "--ttl-seconds", "120"])
            #expect(openExit == .exited(0), "\(open.stderr)")
            let (push, pushExit) = try await wq.run(["push", "--queue", queue, "--wait-replicas", "1", "--file", try itemsFile(wq, items)])
            #expect(pushExit == .exited(0), "\(push.stderr)")

            let workers = try (0..<3).map { _ in
                try wq.start(["work", "--queue", queue, "--handler", "printer", "--option", "delay=0.01",
                              "--lease-seconds", "3", "--recovery-seconds", "1", "--backend-retry-seconds", "60"])
            }
            try await waitForCompleted(cluster, queue, atLeast: 100)

            // Make the master's last writes unreplicated: freeze its replica, cut the link (the
            // frozen replica cannot reconnect), push without waiting (the master acknowledges),
            // then a guarded push: WAIT sees no replica within 0.2 s, so it fails. Then kill the
            // master and let the replica, which never saw those pushes, take over.
            let slot = try await cluster.slot(of: queue)
            let master = try await cluster.masterPort(ofSlot: slot)
            let replica = try #require(try await cluster.replicaPorts(of: master).first)
            cluster.signal(port: replica, SIGSTOP)
            try await cluster.cli(port: master, ["CLIENT", "KILL", "TYPE", "replica"])
            let unguarded = (1...20).map { "unguarded-\($0)" }
            try await cluster.cli(port: master, ["RPUSH", queue] + unguarded)
            let guarded = (1...20).map { "guarded-\($0)" }
            let (late, lateExit) = try await wq.run(["push", "--queue", queue, "--wait-replicas", "1", "--wait-seconds", "0.2"] + guarded)
            await cluster.kill(port: master)
            let killed = ContinuousClock.now
            cluster.signal(port: replica, SIGCONT)

            let promoted = try await cluster.waitForFailover(ofSlot: slot, from: master)
            let failoverTime = ContinuousClock.now - killed
            // The workers carry on against the new master while the old one is still down.
            let completedAtFailover = Int(try await cluster.cli("GET", "\(queue):completed")) ?? 0
            try await waitForCompleted(cluster, queue, atLeast: completedAtFailover + 50, within: .seconds(20))
            // The old master rejoins as the new one's replica (so later pushes can be acknowledged).
            try await cluster.restart(port: master)
            let after = (1...50).map { "after-\($0)" }
            var afterExit = ChildProcess.Termination.exited(-1)
            var afterError = ""
            for _ in 0..<40 where afterExit != .exited(0) {
                let (process, termination) = try await wq.run(["push", "--queue", queue, "--wait-replicas", "1", "--wait-seconds", "1"] + after)
                (afterExit, afterError) = (termination, process.stderr)
                if termination != .exited(0) { try await Task.sleep(for: .milliseconds(250)) }
            }
            #expect(afterExit == .exited(0), "push after the failover: \(afterError)")
            let (close, closeExit) = try await wq.run(["close", "--queue", queue])
            #expect(closeExit == .exited(0), "\(close.stderr)")

            var handled: [String: Int] = [:]
            for worker in workers {
                #expect(try await worker.wait(timeout: .seconds(90)) == .exited(0), "\(worker.stderr)")
                for item in handledItems(worker) { handled[item, default: 0] += 1 }
            }
            let missing = (items + after).filter { handled[$0] == nil }
            #expect(missing.isEmpty, "lost: \(missing.prefix(10)) (\(missing.count))")
            // The guarded push said it was not safe (exit 1, naming the flag).
            #expect(lateExit == .exited(1), "\(late.stderr)")
            #expect(late.stderr.contains("--wait-replicas"), "\(late.stderr)")
            try await expectEmpty(cluster, queue, completed: nil)
            let duplicates = handled.values.filter { $0 > 1 }.count
            let unguardedKept = unguarded.filter { handled[$0] != nil }.count
            let guardedKept = guarded.filter { handled[$0] != nil }.count
            print("""
                failover: master \(master) -> \(promoted) in \(failoverTime); items handled more than once: \(duplicates); \
                unguarded pushes kept: \(unguardedKept)/20; guarded push exit \(lateExit), kept \(guardedKept)/20
                """)
        }
    }

    /// The queue's slot migrates to another master while workers run (TRYAGAIN while some of
    /// its keys are missing on a node, ASK once they have moved, MOVED after): nothing is lost,
    /// nothing left behind, and the keys end up on the new master.
    @Test func reshardMidRun() async throws {
        try await LocalRedisCluster.with { cluster in
            let wq = try ClusterWorkqueue(cluster)
            let queue = "{job2}"
            let items = (1...600).map { "item-\($0)" }
            let (push, pushExit) = try await wq.run(["push", "--queue", queue, "--file", try itemsFile(wq, items)])
            #expect(pushExit == .exited(0), "\(push.stderr)")
            let workers = try (0..<3).map { _ in
                try wq.start(["work", "--queue", queue, "--handler", "printer", "--option", "delay=0.01",
                              "--lease-seconds", "5", "--recovery-seconds", "1"], environment: ["WORKQUEUE_LOG_LEVEL": "debug"])
            }
            try await waitForCompleted(cluster, queue, atLeast: 100)
            let slot = try await cluster.slot(of: queue)
            let source = try await cluster.masterPort(ofSlot: slot)
            let target = try #require(try await cluster.nodes().first { $0.isMaster && !$0.isFailed && $0.port != source }?.port)
            try await cluster.migrate(slot: slot, to: target, pause: .milliseconds(500))

            var handled: [String: Int] = [:]
            for worker in workers {
                #expect(try await worker.wait(timeout: .seconds(90)) == .exited(0), "\(worker.stderr)")
                for item in handledItems(worker) { handled[item, default: 0] += 1 }
            }
            let missing = items.filter { handled[$0] == nil }
            #expect(missing.isEmpty, "lost: \(missing.prefix(10)) (\(missing.count))")
            #expect(try await cluster.masterPort(ofSlot: slot) == target)
            #expect(try await cluster.cli(port: target, ["EXISTS", "\(queue):completed"]) == "1")
            try await expectEmpty(cluster, queue, completed: nil)
            // The workers met every kind of redirect (their debug log shows each one).
            let logs = workers.map(\.stderr).joined()
            for reply in ["TRYAGAIN", "ASK \(slot)", "MOVED \(slot)"] { #expect(logs.contains(reply), "no \(reply) redirect seen") }
            print("reshard: slot \(slot) \(source) -> \(target); items handled more than once: \(handled.values.filter { $0 > 1 }.count)")
        }
    }
}

/// Writes items one per line to a file of the run's directory.
private func itemsFile(_ wq: ClusterWorkqueue, _ items: [String]) throws -> String {
    let path = wq.directory.file("items-\(UUID().uuidString).txt")
    try Data((items.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: path))
    return path
}

/// Polls `NAME:completed` until it reaches `count` (bounded).
private func waitForCompleted(_ cluster: LocalRedisCluster, _ queue: String, atLeast count: Int,
                              within limit: Duration = .seconds(60)) async throws {
    let deadline = ContinuousClock.now + limit
    while ContinuousClock.now < deadline {
        if let done = Int(try await cluster.cli("GET", "\(queue):completed")), done >= count { return }
        try await Task.sleep(for: .milliseconds(50))
    }
    Issue.record("\(queue):completed did not reach \(count) within \(limit)")
}

/// Nothing pending, in processing, leased or scheduled; `completed` when given.
private func expectEmpty(_ cluster: LocalRedisCluster, _ queue: String, completed: Int?) async throws {
    #expect(try await cluster.cli("LLEN", queue) == "0")
    #expect(try await cluster.cli("LLEN", "\(queue):processing") == "0")
    #expect(try await cluster.cli("ZCARD", "\(queue):leases") == "0")
    #expect(try await cluster.cli("HLEN", "\(queue):lease-items") == "0")
    #expect(try await cluster.cli("ZCARD", "\(queue):retry") == "0")
    if let completed { #expect(try await cluster.cli("GET", "\(queue):completed") == "\(completed)") }
}

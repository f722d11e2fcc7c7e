import Foundation
import Testing
import TestSupport

/// `workqueue dashboard` and `status --serve` over HTTP without a browser: the cache that makes
/// every viewer cost Redis one script call per interval, the token on actions, the security
/// headers, the loopback Host check. The page itself is tested in a browser by
/// Tests/DashboardBrowserTests.
@Suite struct DashboardServeTests {
    struct Reply {
        var status: Int
        var body: String
        var headers: String
    }

    /// One request with curl: status, body and headers.
    static func fetch(_ url: String, method: String = "GET", headers: [String] = [], body: String? = nil,
                      directory: String, maxTime: Int = 10) async throws -> Reply {
        let id = UUID().uuidString
        let bodyPath = directory + "/body-\(id)", headerPath = directory + "/headers-\(id)"
        var arguments = ["curl", "-sS", "--max-time", "\(maxTime)", "-X", method, "-o", bodyPath, "-D", headerPath, "-w", "%{http_code}"]
        for header in headers { arguments += ["-H", header] }
        if let body { arguments += ["--data-binary", body] }
        let (process, _) = try await ChildProcess.run("/usr/bin/env", arguments + [url], directory: directory, label: "curl-\(id)")
        let read = { (path: String) in FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) } ?? "" }
        return Reply(status: Int(process.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0, body: read(bodyPath),
                     headers: read(headerPath))
    }

    /// `EVALSHA_RO` calls Redis has run: the dashboard's snapshots, and nothing else.
    static func snapshotCalls(_ redis: LocalRedis) async throws -> Int {
        let stats = try await redis.cli("info", "commandstats")
        guard let line = stats.split(whereSeparator: \.isNewline).first(where: { $0.hasPrefix("cmdstat_evalsha_ro:calls=") }) else { return 0 }
        return Int(line.dropFirst("cmdstat_evalsha_ro:calls=".count).prefix(while: \.isNumber)) ?? 0
    }

    static func waitForServer(_ url: String, _ process: ChildProcess, directory: String) async throws {
        for _ in 0..<200 {
            if let reply = try? await fetch(url, directory: directory), reply.status == 200 { return }
            if process.poll() != nil { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("the server at \(url) did not answer: \(process.stderr)")
    }

    @Test func twoViewersCostOneScriptCallPerQueuePerInterval() async throws {
        try await LocalRedis.with { redis in
            try await redis.cli(["rpush", "jobs", "a", "b", "c"])
            let wq = try Workqueue(redis)
            let port = try LocalRedis.freePort()
            let dashboard = try wq.start(["dashboard", "--queue", "jobs", "--port", "\(port)", "--interval", "1"])
            defer { dashboard.send(SIGKILL) }
            let url = "http://127.0.0.1:\(port)/api/snapshot"
            try await Self.waitForServer(url, dashboard, directory: wq.directory.path)
            // Past the interval of the snapshot the wait above took, then two viewers polling
            // ten times a second each for 3 s.
            try await Task.sleep(for: .milliseconds(1100))
            let before = try await Self.snapshotCalls(redis)
            let start = ContinuousClock.now
            var replies = 0
            try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<2 {
                    group.addTask {
                        var ok = 0
                        while ContinuousClock.now - start < .seconds(3) {
                            if try await Self.fetch(url, directory: wq.directory.path).status == 200 { ok += 1 }
                            try await Task.sleep(for: .milliseconds(100))
                        }
                        return ok
                    }
                }
                for try await ok in group { replies += ok }
            }
            let elapsed = ContinuousClock.now - start
            let calls = try await Self.snapshotCalls(redis) - before
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            #expect(replies >= 20, "both viewers were served: \(replies) replies")
            // One call per started interval: at most ceil(elapsed / 1 s) + 1.
            #expect(calls >= 2 && Double(calls) <= seconds.rounded(.up) + 1, "\(calls) snapshot calls in \(seconds) s for \(replies) replies")
            let snapshot = try await Self.fetch(url, directory: wq.directory.path)
            let json = try #require(try JSONSerialization.jsonObject(with: Data(snapshot.body.utf8)) as? [String: Any])
            let queue = try #require((json["queues"] as? [[String: Any]])?.first)
            #expect((queue["counts"] as? [String: Any])?["pending"] as? Int == 3, "\(snapshot.body)")
            #expect((json["actions"] as? [String: Any])?["enabled"] as? Bool == false)
        }
    }

    @Test func actionsNeedTheTokenAndThePageIsServedUnderAStrictPolicy() async throws {
        try await LocalRedis.with { redis in
            try await redis.cli(["rpush", "jobs:dead", "x", "y"])
            let wq = try Workqueue(redis)
            let tokenPath = wq.directory.path + "/token"
            try "right-token\n".write(toFile: tokenPath, atomically: true, encoding: .utf8)
            let port = try LocalRedis.freePort(), readOnlyPort = try LocalRedis.freePort()
            let dashboard = try wq.start(["dashboard", "--queue", "jobs", "--port", "\(port)", "--token-file", tokenPath])
            defer { dashboard.send(SIGKILL) }
            let readOnly = try wq.start(["dashboard", "--queue", "jobs", "--port", "\(readOnlyPort)"])
            defer { readOnly.send(SIGKILL) }
            let base = "http://127.0.0.1:\(port)", directory = wq.directory.path
            try await Self.waitForServer(base + "/", dashboard, directory: directory)
            try await Self.waitForServer("http://127.0.0.1:\(readOnlyPort)/", readOnly, directory: directory)

            let page = try await Self.fetch(base + "/", directory: directory)
            #expect(page.body.contains("<script src=\"/dashboard.js\"></script>"))
            #expect(page.headers.contains("Content-Security-Policy: default-src 'none'; script-src 'self'"), "\(page.headers)")
            #expect(page.headers.contains("X-Content-Type-Options: nosniff"))
            #expect(try await Self.fetch(base + "/dashboard.js", directory: directory).body.contains("textContent"))
            // Bound to loopback: a request naming another host (DNS rebinding) is refused.
            #expect(try await Self.fetch(base + "/api/snapshot", headers: ["Host: evil.example:\(port)"], directory: directory).status == 403)

            let json = ["Content-Type: application/json"]
            let purge = "{\"queue\":\"jobs\"}"
            // No token file: actions are disabled, with a message saying how to enable them.
            let disabled = try await Self.fetch("http://127.0.0.1:\(readOnlyPort)/api/dead/purge", method: "POST", headers: json,
                                                body: purge, directory: directory)
            #expect(disabled.status == 403 && disabled.body.contains("--token-file"), "\(disabled)")
            // No token, a wrong one: 401, nothing changed.
            let missing = try await Self.fetch(base + "/api/dead/purge", method: "POST", headers: json, body: purge, directory: directory)
            #expect(missing.status == 401 && missing.body.contains("token"), "\(missing)")
            let wrong = try await Self.fetch(base + "/api/dead/purge", method: "POST", headers: json + ["Authorization: Bearer right-tokeN"],
                                             body: purge, directory: directory)
            #expect(wrong.status == 401, "\(wrong)")
            #expect(try await redis.cli("llen", "jobs:dead") == "2")
            // The right token: retry all moves them back.
            let retried = try await Self.fetch(base + "/api/dead/retry-all", method: "POST", headers: json + ["Authorization: Bearer right-token"],
                                               body: purge, directory: directory)
            #expect(retried.status == 200 && retried.body.contains("Moved 2 dead letters"), "\(retried)")
            #expect(try await redis.cli("lrange", "jobs", "0", "-1") == "x\ny")
            #expect(try await redis.cli("llen", "jobs:dead") == "0")
        }
    }

    @Test func pauseResumeAndCancelThroughTheAPINeedTheTokenAndReachEveryShard() async throws {
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            let (push, pushed) = try await wq.run(["push", "--queue", "sj", "--shards", "2", "a", "b", "c", "d"])
            #expect(pushed == .exited(0), "\(push.stderr)")
            try await redis.cli(["rpush", "jobs", "x", "y", "z"])
            let tokenPath = wq.directory.path + "/token"
            try "right-token\n".write(toFile: tokenPath, atomically: true, encoding: .utf8)
            let port = try LocalRedis.freePort(), shardedPort = try LocalRedis.freePort(), readOnlyPort = try LocalRedis.freePort()
            let dashboard = try wq.start(["dashboard", "--queue", "jobs", "--port", "\(port)", "--token-file", tokenPath, "--interval", "0.2"])
            defer { dashboard.send(SIGKILL) }
            let sharded = try wq.start(["dashboard", "--queue", "sj", "--shards", "2", "--port", "\(shardedPort)", "--token-file", tokenPath,
                                        "--interval", "0.2"])
            defer { sharded.send(SIGKILL) }
            let readOnly = try wq.start(["dashboard", "--queue", "jobs", "--port", "\(readOnlyPort)"])
            defer { readOnly.send(SIGKILL) }
            let base = "http://127.0.0.1:\(port)", directory = wq.directory.path
            try await Self.waitForServer(base + "/", dashboard, directory: directory)
            try await Self.waitForServer("http://127.0.0.1:\(shardedPort)/", sharded, directory: directory)
            try await Self.waitForServer("http://127.0.0.1:\(readOnlyPort)/", readOnly, directory: directory)
            let json = ["Content-Type: application/json"], right = json + ["Authorization: Bearer right-token"]
            let body = "{\"queue\":\"jobs\"}"
            func control(_ url: String = base) async throws -> [String: Any] {
                let reply = try await Self.fetch(url + "/api/snapshot", directory: directory)
                let snapshot = try JSONSerialization.jsonObject(with: Data(reply.body.utf8)) as? [String: Any]
                return ((snapshot?["queues"] as? [[String: Any]])?.first?["control"] as? [String: Any]) ?? [:]
            }

            // Refused without the token (or with a wrong one), and on a read-only dashboard: nothing changes.
            let disabled = try await Self.fetch("http://127.0.0.1:\(readOnlyPort)/api/queue/pause", method: "POST", headers: json,
                                                body: body, directory: directory)
            #expect(disabled.status == 403 && disabled.body.contains("--token-file"), "\(disabled)")
            let missing = try await Self.fetch(base + "/api/queue/pause", method: "POST", headers: json, body: body, directory: directory)
            #expect(missing.status == 401 && missing.body.contains("token"), "\(missing)")
            let wrong = try await Self.fetch(base + "/api/queue/cancel", method: "POST", headers: json + ["Authorization: Bearer nope"],
                                             body: body, directory: directory)
            #expect(wrong.status == 401, "\(wrong)")
            #expect(try await redis.cli("exists", "jobs:control") == "0")
            #expect(try await redis.cli("llen", "jobs") == "3")
            #expect(try await control()["paused"] as? Bool == false)

            // With the token: pause sets NAME:control, the snapshot says so at once, resume clears it.
            let pause = try await Self.fetch(base + "/api/queue/pause", method: "POST", headers: right, body: body, directory: directory)
            #expect(pause.status == 200 && pause.body.contains("Paused jobs"), "\(pause)")
            #expect(try await redis.cli("hget", "jobs:control", "paused") == "1")
            #expect(try await control()["paused"] as? Bool == true)
            let resume = try await Self.fetch(base + "/api/queue/resume", method: "POST", headers: right, body: body, directory: directory)
            #expect(resume.status == 200 && resume.body.contains("Resumed jobs"), "\(resume)")
            #expect(try await redis.cli("hexists", "jobs:control", "paused") == "0")

            // Cancel moves the pending items aside; the snapshot counts them.
            let cancel = try await Self.fetch(base + "/api/queue/cancel", method: "POST", headers: right, body: body, directory: directory)
            #expect(cancel.status == 200 && cancel.body.contains("moved 3 items aside"), "\(cancel)")
            #expect(try await redis.cli("llen", "jobs:cancelled") == "3")
            #expect(try await redis.cli("llen", "jobs") == "0")
            let cancelled = try await control()
            #expect(cancelled["cancelled"] as? Bool == true && cancelled["cancelled_items"] as? Int == 3, "\(cancelled)")
            let unknown = try await Self.fetch(base + "/api/queue/explode", method: "POST", headers: right, body: body, directory: directory)
            #expect(unknown.status == 404 && unknown.body.contains("pause, resume or cancel"), "\(unknown)")

            // --shards: every shard.
            let shardedBase = "http://127.0.0.1:\(shardedPort)", shardedBody = "{\"queue\":\"sj\"}"
            let shardedPause = try await Self.fetch(shardedBase + "/api/queue/pause", method: "POST", headers: right, body: shardedBody,
                                                    directory: directory)
            #expect(shardedPause.status == 200, "\(shardedPause)")
            #expect(try await redis.cli("hget", "{sj:0}:control", "paused") == "1")
            #expect(try await redis.cli("hget", "{sj:1}:control", "paused") == "1")
            #expect(try await control(shardedBase)["paused"] as? Bool == true)
            let shardedCancel = try await Self.fetch(shardedBase + "/api/queue/cancel", method: "POST", headers: right, body: shardedBody,
                                                     directory: directory)
            #expect(shardedCancel.status == 200 && shardedCancel.body.contains("moved 4 items aside"), "\(shardedCancel)")
            #expect(try await control(shardedBase)["cancelled_items"] as? Int == 4)
            _ = try await Self.fetch(shardedBase + "/api/queue/resume", method: "POST", headers: right, body: shardedBody, directory: directory)
            #expect(try await redis.cli("hlen", "{sj:0}:control") == "0")
            #expect(try await redis.cli("hlen", "{sj:1}:control") == "0")
        }
    }

    @Test func statusServeServesTheDashboardNextToTheMetrics() async throws {
        try await LocalRedis.with { redis in
            try await redis.cli(["rpush", "jobs", "1", "2"])
            let wq = try Workqueue(redis)
            let port = try LocalRedis.freePort()
            let exporter = try wq.start(["status", "--queue", "jobs", "--serve", "\(port)", "--bind", "127.0.0.1"])
            defer { exporter.send(SIGKILL) }
            let base = "http://127.0.0.1:\(port)"
            try await Self.waitForServer(base + "/metrics", exporter, directory: wq.directory.path)
            #expect(try await Self.fetch(base + "/metrics", directory: wq.directory.path).body.contains("workqueue_queue_pending{queue=\"jobs\"} 2"))
            #expect(try await Self.fetch(base + "/", directory: wq.directory.path).body.contains("workqueue dashboard"))
            let snapshot = try await Self.fetch(base + "/api/snapshot", directory: wq.directory.path)
            #expect(snapshot.body.contains("\"pending\":2"), "\(snapshot.body)")
        }
    }
}

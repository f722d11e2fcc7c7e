import Foundation
import Testing
import TestSupport

/// The dashboard's HTTP server under hostile clients (issue 26, defects 1 and 8): idle and
/// slow connections are closed, a low open-file limit with many idle sockets leaves it
/// answering, and a huge dead letter costs a page what its preview costs, with concurrent
/// viewers of one page sharing one call.
@Suite struct DashboardHTTPLimitsTests {
    /// A TCP connection to 127.0.0.1:`port`, or nil.
    static func connect(_ port: Int) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if result != 0 { close(fd); return nil }
        return fd
    }

    /// Whether the server closed `fd` (a read gives end of file or an error) within `limit`.
    static func closedByServer(_ fd: Int32, within limit: Duration) async -> Bool {
        let deadline = ContinuousClock.now + limit
        var buffer = [UInt8](repeating: 0, count: 4096)
        while ContinuousClock.now < deadline {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&poller, 1, 0) > 0 {
                let count = read(fd, &buffer, buffer.count)
                if count <= 0 { return true }
                continue
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    @Test func idleAndSlowConnectionsAreClosedAfterTheIdleTimeout() async throws {
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            let port = try LocalRedis.freePort()
            let dashboard = try wq.start(["dashboard", "--queue", "jobs", "--port", "\(port)", "--http-idle-seconds", "1"])
            defer { dashboard.send(SIGKILL) }
            let base = "http://127.0.0.1:\(port)"
            try await DashboardServeTests.waitForServer(base + "/api/snapshot", dashboard, directory: wq.directory.path)
            // An idle connection (nothing sent) and a slow one (half a request head).
            let idle = try #require(Self.connect(port))
            defer { close(idle) }
            let slow = try #require(Self.connect(port))
            defer { close(slow) }
            let partial = Array("GET /api/snapshot HTTP/1.1\r\nHost: 127.0.0.1\r\n".utf8)
            #expect(write(slow, partial, partial.count) == partial.count)
            #expect(await Self.closedByServer(idle, within: .seconds(10)), "an idle connection stayed open")
            #expect(await Self.closedByServer(slow, within: .seconds(10)), "a connection sending its head slowly stayed open")
            // The server still answers.
            #expect(try await DashboardServeTests.fetch(base + "/api/snapshot", directory: wq.directory.path).status == 200)
        }
    }

    @Test func aLowFileLimitAndManyIdleSocketsLeaveTheServerAnswering() async throws {
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            let port = try LocalRedis.freePort()
            // The dashboard with at most 64 descriptors (`ulimit -n 64` in a shell that then
            // becomes it).
            let executable = try Workqueue.executable()
            let dashboard = try ChildProcess(
                "/bin/sh", ["-c", "ulimit -n 64 && exec \"$0\" dashboard --queue jobs --port \(port) --http-idle-seconds 2", executable],
                environment: ["REDIS_URL": redis.url, "WORKQUEUE_LOG_LEVEL": "notice"], directory: wq.directory.path,
                label: "dashboard-low-fd", keeping: wq.directory)
            defer { dashboard.send(SIGKILL) }
            let base = "http://127.0.0.1:\(port)"
            try await DashboardServeTests.waitForServer(base + "/api/snapshot", dashboard, directory: wq.directory.path)
            // 150 idle connections: more than the server has descriptors.
            var sockets: [Int32] = []
            defer { for fd in sockets { close(fd) } }
            for _ in 0..<150 {
                if let fd = Self.connect(port) { sockets.append(fd) }
            }
            #expect(sockets.count >= 64, "the backlog took the connections (\(sockets.count))")
            // Real requests are answered, once the idle ones ahead of them are closed (each
            // gets three tries: a connection refused while the backlog is full is retried after
            // the kernel's SYN backoff, which a loaded machine stretches).
            var answered = 0
            for _ in 0..<3 {
                for _ in 0..<3 {
                    let reply = try await DashboardServeTests.fetch(base + "/api/snapshot", directory: wq.directory.path, maxTime: 30)
                    if reply.status == 200 { answered += 1; break }
                }
            }
            #expect(answered == 3, "the server stopped answering: \(dashboard.stderr.suffix(2000))")
            #expect(dashboard.poll() == nil, "the server exited: \(dashboard.stderr.suffix(2000))")
        }
    }

    @Test func aHugeDeadLetterCostsAPageWhatItsPreviewCostsAndViewersShareOneCall() async throws {
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            // A 32 MiB item over the size limit: the take dead-letters it (with its record).
            let huge = String(repeating: "h", count: 32 << 20)
            let file = wq.directory.path + "/huge"
            try Data(huge.utf8).write(to: URL(fileURLWithPath: file))
            _ = try await ChildProcess.run("/bin/sh", ["-c", "redis-cli -p \(redis.port) -x rpush jobs < \(file)"],
                                           directory: wq.directory.path, label: "push-huge")
            try await redis.cli(["rpush", "jobs", "small"])
            let worker = try await wq.run(["work", "--queue", "jobs", "--handler", "printer", "--max-item-bytes", "1024"])
            #expect(worker.termination == .exited(0), "\(worker.process.stderr)")
            #expect(try await redis.cli("llen", "jobs:dead") == "1")
            #expect(try await redis.cli("llen", "jobs:dead-previews") == "1")

            let port = try LocalRedis.freePort()
            let tokenPath = wq.directory.path + "/token"
            try "t0ken\n".write(toFile: tokenPath, atomically: true, encoding: .utf8)
            let dashboard = try wq.start(["dashboard", "--queue", "jobs", "--port", "\(port)", "--interval", "5", "--token-file", tokenPath])
            defer { dashboard.send(SIGKILL) }
            let base = "http://127.0.0.1:\(port)"
            try await DashboardServeTests.waitForServer(base + "/api/snapshot", dashboard, directory: wq.directory.path)
            let snapshot = try await DashboardServeTests.fetch(base + "/api/snapshot", directory: wq.directory.path)
            #expect(snapshot.body.contains("\"size\":\(32 << 20)"), "\(snapshot.body.prefix(2000))")
            #expect(snapshot.body.count < 64 << 10, "the snapshot carries previews, not the letter")

            // Six viewers of the same page at once (Redis paused for a moment, so that all six
            // arrive while the first read waits): one script call; the page's text is a preview.
            let before = try await DashboardServeTests.snapshotCalls(redis)
            try await redis.cli("client", "pause", "1500", "all")
            let url = base + "/api/dead?queue=jobs&start=0"
            let replies = try await withThrowingTaskGroup(of: DashboardServeTests.Reply.self) { group in
                for _ in 0..<6 { group.addTask { try await DashboardServeTests.fetch(url, directory: wq.directory.path) } }
                var all: [DashboardServeTests.Reply] = []
                for try await reply in group { all.append(reply) }
                return all
            }
            #expect(replies.allSatisfy { $0.status == 200 && $0.body.count < 4096 }, "\(replies.map { ($0.status, $0.body.count) })")
            #expect(replies.allSatisfy { $0.body.contains("\"size\":\(32 << 20)") && $0.body.contains("\"cut\":true") })
            let after = try await DashboardServeTests.snapshotCalls(redis)
            #expect(after - before == 1, "six concurrent viewers of one page cost \(after - before) script calls")

            // Retry from the page reads the letter whole, so it refuses one this large (by its record).
            let retry = try await DashboardServeTests.fetch(
                base + "/api/dead/retry", method: "POST", headers: ["Authorization: Bearer t0ken", "Content-Type: application/json"],
                body: "{\"queue\":\"jobs\",\"shard\":0,\"index\":0,\"digest\":\"\"}", directory: wq.directory.path)
            #expect(retry.status == 409 && retry.body.contains("too large to retry from the page"), "\(retry)")
            #expect(try await redis.cli("llen", "jobs:dead") == "1")
        }
    }
}

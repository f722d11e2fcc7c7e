import Foundation
import Testing
import TestSupport

/// `status --watch` in a real terminal (a tmux pane of a fixed size) and on a pipe.
@Suite struct StatusWatchTerminalTests {
    /// A private tmux server: its own socket name (`tmux -L`), never the user's default server,
    /// killed when ``with(directory:_:)`` ends, also when the test fails or throws.
    struct Tmux {
        static var isAvailable: Bool { (try? LocalRedis.locate("tmux")) != nil }

        /// The socket name, unique to this server.
        let name: String
        let directory: String

        /// Runs `body` with a fresh private server name, then kills that server (awaited, and
        /// immune to the test's cancellation), whether `body` returned or threw. Records an
        /// issue if the server is still running afterwards.
        static func with<T>(directory: String, _ body: (Tmux) async throws -> T) async throws -> T {
            let tmux = Tmux(name: "workqueue-test-\(UUID().uuidString)", directory: directory)
            let value: T
            do {
                value = try await body(tmux)
            } catch {
                await tmux.killServer()
                throw error
            }
            await tmux.killServer()
            return value
        }

        /// The server's process id and socket path (nil when no server runs on this socket).
        func server() async -> (pid: pid_t, socket: String)? {
            guard let text = try? await run(["display-message", "-p", "#{pid} #{socket_path}"], check: false),
                  let space = text.firstIndex(of: " "), let pid = pid_t(text[..<space]) else { return nil }
            return (pid, String(text[text.index(after: space)...]).trimmingCharacters(in: .newlines))
        }

        /// `kill-server` on this socket only, then SIGKILL if its process is still there, and
        /// the socket file removed (tmux leaves it); run in a task of its own so that a
        /// cancelled test still waits for it.
        func killServer() async {
            await Task {
                let known = await server()
                _ = try? await run(["kill-server"], check: false)
                guard let (pid, socket) = known else { return }
                for _ in 0..<200 where kill(pid, 0) == 0 {
                    try? await Task.sleep(for: .milliseconds(10))
                }
                if kill(pid, 0) == 0 {
                    kill(pid, SIGKILL)
                    Issue.record("tmux server \(pid) (-L \(name)) survived kill-server and was killed with SIGKILL")
                }
                unlink(socket)
            }.value
            if let (pid, _) = await server() { Issue.record("tmux server \(pid) (-L \(name)) is still running") }
        }

        /// `tmux -L NAME ARGS`; with `check`, anything but exit 0 records an issue and throws;
        /// without it, nil.
        @discardableResult
        func run(_ arguments: [String], check: Bool = true) async throws -> String? {
            let (process, termination) = try await ChildProcess.run(
                try LocalRedis.locate("tmux"), ["-L", name] + arguments, directory: directory,
                label: "tmux-\(UUID().uuidString)", timeout: .seconds(20))
            guard termination == .exited(0) else {
                if check { try #require(termination == .exited(0), "tmux \(arguments) failed: \(process.stderr)") }
                return nil
            }
            return process.stdout
        }

        /// The pane's whole history and screen, one string per row, trailing blanks dropped.
        func rows() async throws -> [String] {
            (try await run(["capture-pane", "-p", "-t", "watch", "-S", "-", "-E", "-"]) ?? "")
                .split(separator: "\n", omittingEmptySubsequences: false).map { String($0) }
        }

        /// Polls the pane (bounded) until a row contains `text`; records an issue with the
        /// pane's rows if none does in time.
        func expectRow(containing text: String, timeout: Duration = .seconds(30),
                       sourceLocation: SourceLocation = #_sourceLocation) async throws {
            let deadline = ContinuousClock.now + timeout
            var rows: [String] = []
            while ContinuousClock.now < deadline {
                rows = try await self.rows()
                if rows.contains(where: { $0.contains(text) }) { return }
                try await Task.sleep(for: .milliseconds(100))
            }
            Issue.record("no row contains '\(text)': \(rows)", sourceLocation: sourceLocation)
        }
    }

    @Test(.enabled(if: Tmux.isAvailable, "tmux is not installed: scripts/lib/deps.sh installs it (apt-get install tmux)"))
    func theWatchRedrawsOneLineInPlaceInATerminal() async throws {
        try await LocalRedis.with { redis in
            try await redis.cli(["rpush", "tq", "1", "2", "3", "4", "5"])
            let wq = try Workqueue(redis)
            try await Tmux.with(directory: wq.directory.path) { tmux in
                // 60 columns: narrower than the progress line, which must be cut, not wrapped.
                try await tmux.run(["new-session", "-d", "-s", "watch", "-x", "60", "-y", "12", "env PS1='$ ' TERM=xterm sh"])
                let raw = wq.directory.path + "/pane.raw"
                try await tmux.run(["pipe-pane", "-t", "watch", "-o", "cat >> '\(raw)'"])
                let command = "REDIS_URL=\(redis.url) \(try Workqueue.executable()) status --queue tq --watch --interval 0.2; echo EXIT=$?"
                try await tmux.run(["send-keys", "-t", "watch", "-l", command])
                try await tmux.run(["send-keys", "-t", "watch", "Enter"])
                try await tmux.expectRow(containing: "0 done, 5 left")
                // Several refreshes later there is still one progress row: redrawn in place.
                try await Task.sleep(for: .seconds(1))
                var rows = try await tmux.rows()
                #expect(rows.filter { $0.contains(" done, ") }.count == 1, "\(rows)")
                #expect(rows.filter { $0.contains(" done, ") }.allSatisfy { $0.count < 60 }, "the progress row fills the width: \(rows)")

                try await redis.cli(["rpush", "tq", "6", "7", "8", "9", "10"])
                try await tmux.expectRow(containing: "0 done, 10 left")
                let (worker, termination) = try await wq.run(["work", "--queue", "tq", "--handler", "noop"])
                #expect(termination == .exited(0), "\(worker.stderr)")
                try await tmux.expectRow(containing: "EXIT=0")
                rows = try await tmux.rows()
                let progress = rows.filter { $0.contains(" done, ") }
                #expect(progress.count == 1, "\(rows)")
                #expect(progress.first?.contains("100% 10 done, 0 left") == true, "\(rows)")
                // No screen clears or cursor homing (a flicker on every refresh): only \r and erase-line.
                let bytes = try String(contentsOfFile: raw, encoding: .utf8)
                #expect(bytes.contains("\r\u{1B}[K["), "no in-place redraw in the raw output")
                for clear in ["\u{1B}[2J", "\u{1B}[H", "\u{1B}c"] {
                    #expect(!bytes.contains(clear), "the watch wrote \(clear.debugDescription)")
                }
            }
        }
    }

    @Test func onAPipeTheWatchPrintsOnePlainLinePerRefresh() async throws {
        try await LocalRedis.with { redis in
            try await redis.cli(["rpush", "pq", "a", "b", "c"])
            let wq = try Workqueue(redis)
            let watch = try wq.start(["status", "--queue", "pq", "--watch", "--interval", "0.1"])
            #expect(try await watch.waitForStdout(containing: "3 left"), "\(watch.stdout)")
            try await redis.cli(["rpush", "pq", "d"])
            #expect(try await watch.waitForStdout(containing: "4 left"), "\(watch.stdout)")
            let (worker, termination) = try await wq.run(["work", "--queue", "pq", "--handler", "noop"])
            #expect(termination == .exited(0), "\(worker.stderr)")
            #expect(try await watch.wait(timeout: .seconds(20)) == .exited(0), "\(watch.stderr)")
            let output = watch.stdout
            #expect(!output.contains("\u{1B}") && !output.contains("\r"), "escape sequences on a pipe: \(output.debugDescription)")
            let lines = watch.stdoutLines
            #expect(lines.count >= 3, "\(lines)")
            #expect(lines.allSatisfy { $0.hasPrefix("[") && $0.contains(" done, ") }, "\(lines)")
            #expect(lines.last?.contains("4 done, 0 left") == true && lines.last?.contains("drained") == true, "\(lines)")
        }
    }
}

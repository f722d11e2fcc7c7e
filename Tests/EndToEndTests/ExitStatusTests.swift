import Foundation
import Testing
import TestSupport

/// The exit statuses, a contract a Job's podFailurePolicy matches on (docs/commands.md "Exit status"):
/// each checked with the real command.
@Suite struct ExitStatusTests {
    /// The codes the README's table lists as permanent (fail the Job at once).
    static let permanent: Set<Int32> = [4, 64, 78]

    @Test func badFlagsAndVariablesExit64() async throws {
        try await LocalRedis.with { redis in
            try await redis.cli("rpush", "q", "a")
            let wq = try Workqueue(redis)
            let base = ["work", "--queue", "q"]
            for (arguments, environment) in [
                (base + ["--handler", "printer", "--concurrency", "0"], [String: String]()),
                (base + ["--handler", "printer", "--concurrency", "many"], [:]),  // ArgumentParser's own
                (base + ["--handler", "printer"], ["WORKQUEUE_LEASE_SECONDS": "soon"]),
                (base + ["--handler", "printer", "--option", "delay"], [:]),
                (base, [:]),  // neither --handler nor --plugin
                (["work", "--handler", "printer"], [:]),  // no queue
                // An item bound whose take could not fit a reply (the client's bound is 512 MiB).
                (base + ["--handler", "printer", "--max-item-bytes", "600000000"], [:]),
                (base + ["--handler", "printer"], ["WORKQUEUE_MAX_ITEM_BYTES": "268435457"]),
                (["wait", "--queue", "q", "--timeout", "-1"], [:]),
                (base + ["--handler", "printer", "--on-drained", ""], [:]),
                // A worker that keeps running never marks the queue drained: its hook would never run.
                (base + ["--handler", "printer", "--on-drained", "true", "--keep-running"], [:]),
                (base + ["--handler", "printer", "--keep-running"], ["WORKQUEUE_ON_DRAINED": "true"]),
                (base + ["--handler", "printer", "--rate-limit", "fast"], [:]),
                (base + ["--handler", "printer"], ["WORKQUEUE_RATE_LIMIT": "0/s"]),
            ] {
                let (worker, termination) = try await wq.run(arguments, environment: environment)
                #expect(termination == .exited(64), "\(arguments) \(environment): \(worker.stderr)")
                #expect(worker.stderr.contains("Error: "), "\(arguments): \(worker.stderr)")
            }
            #expect(try await redis.cli("lrange", "q", "0", "-1") == "a")
        }
    }

    @Test func permanentConfigurationErrorsExit78() async throws {
        try await LocalRedis.with { redis in
            try await redis.cli("rpush", "q", "a")
            try await redis.cli("set", "s", "not a list")
            let wq = try Workqueue(redis)
            for (arguments, message) in [
                (["work", "--queue", "q", "--handler", "nope"], "unknown handler 'nope'"),
                (["work", "--queue", "q", "--plugin", wq.directory.file("libmissing.so")], "libmissing.so"),
                (["work", "--queue", "q", "--handler", "printer", "--option", "delay=soon"], "delay=soon"),
                (["work", "--queue", "s", "--handler", "printer"], "'s' holds a string"),
                (["push", "--queue", "s", "x"], "'s' holds a string"),
            ] {
                let (process, termination) = try await wq.run(arguments)
                #expect(termination == .exited(78), "\(arguments): \(process.stderr)")
                #expect(process.stderr.contains("Error: ") && process.stderr.contains(message), "\(arguments): \(process.stderr)")
            }
            #expect(try await redis.cli("lrange", "q", "0", "-1") == "a")
            #expect(try await redis.cli("get", "s") == "not a list")
        }
    }

    @Test func redisRefusingTheLoginOrACommandExits78() async throws {
        let redis = try await LocalRedis()
        try await redis.cli("ACL", "SETUSER", "worker", "on", ">s3cret", "~*", "&*", "+@all")
        // Allowed to log in, not to load the queue's scripts.
        try await redis.cli("ACL", "SETUSER", "noscripts", "on", ">s3cret", "~*", "&*", "+@all", "-script")
        let wq = try Workqueue(redis)
        for (url, command) in [
            ("redis://worker:wrong@127.0.0.1:\(redis.port)", ["work", "--queue", "q", "--handler", "printer"]),
            ("redis://worker:wrong@127.0.0.1:\(redis.port)", ["status", "--queue", "q"]),
            ("redis://worker:wrong@127.0.0.1:\(redis.port)", ["push", "--queue", "q", "x"]),
            ("redis://noscripts:s3cret@127.0.0.1:\(redis.port)", ["work", "--queue", "q", "--handler", "printer"]),
            ("redis://worker:s3cret@127.0.0.1:\(redis.port)/99", ["dead", "--queue", "q", "list"]),  // SELECT refused
        ] {
            let (process, termination) = try await wq.run(command + ["--connect-timeout", "2"], environment: ["REDIS_URL": url])
            #expect(termination == .exited(78), "\(url) \(command): \(process.stderr)")
            #expect(process.stderr.contains("Error: "), "\(process.stderr)")
            #expect(!process.stderr.contains("wrong@"), "the password is never printed: \(process.stderr)")
        }
        await redis.stop()
    }

    @Test func sigintStopsAnIdleWorkerWith143() async throws {
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            let worker = try wq.start(["work", "--queue", "idle", "--handler", "printer", "--keep-running"])
            try #require(try await worker.waitForStdout(containing: "Initial queue state"), "\(worker.stderr)")
            worker.send(SIGINT)
            #expect(try await worker.wait(timeout: .seconds(20)) == .exited(143), "\(worker.stderr)")
        }
    }

    @Test func theREADMETableAndTheHelpListEveryCode() async throws {
        let readme = try String(contentsOf: ManifestTests.repository.appendingPathComponent("docs/commands.md"), encoding: .utf8)
        let table = try #require(ManifestTests.exitStatusTable(readme), "docs/commands.md has no exit status table")
        #expect(Set(table.keys) == [0, 1, 2, 3, 4, 5, 64, 70, 78, 124, 143])
        #expect(Set(table.filter { $0.value }.keys) == Self.permanent)
        try await LocalRedis.with { redis in
            // `wait`'s own codes in its help, every other one in `work`'s.
            let waitOnly: Set<Int32> = [2, 124]
            for command in ["work", "wait"] {
                let (help, _) = try await Workqueue(redis).run([command, "--help"])
                let text = help.stdout.replacingOccurrences(of: "\n", with: " ")
                for code in table.keys.sorted() where code != 0 && waitOnly.contains(code) == (command == "wait") {
                    #expect(text.contains("\(code) "), "`\(command) --help` does not mention exit status \(code)")
                }
            }
        }
    }
}

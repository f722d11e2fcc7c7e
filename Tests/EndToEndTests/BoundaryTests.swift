import Foundation
import Testing
import TestSupport

/// Issue 27: where plugins, `push` and `results` meet the outside, with a real redis-server, the
/// built `workqueue` and a hostile C plugin built here against the plugin header.
@Suite struct BoundaryTests {
    /// The hostile plugin: what it does depends on the item.
    /// - `exit0`: calls exit(0); `exit7`: exit(7).
    /// - `hang...`: ignores cancellation, sleeping 30 s (bounded).
    /// - `bigfail`: fails with a 5 MiB message whose first line forges a log line.
    /// - anything else: sleeps 300 ms, returns the item.
    static let source = """
        #include <stdint.h>
        #include <stdlib.h>
        #include <string.h>
        #include <unistd.h>
        #include "HEADER"
        static int32_t create(const char *const *k, const char *const *v, size_t n, void **s, char **e) { return 0; }
        static int starts(const uint8_t *item, size_t len, const char *word) {
            return len >= strlen(word) && memcmp(item, word, strlen(word)) == 0;
        }
        static int32_t handle(void *s, const uint8_t *item, size_t len, const workqueue_plugin_context *c,
                              const volatile int32_t *cancelled, uint8_t **out, size_t *out_len) {
            if (starts(item, len, "exit0")) exit(0);
            if (starts(item, len, "exit7")) exit(7);
            if (starts(item, len, "hang")) {
                for (int i = 0; i < 300; i++) usleep(100000);  /* 30 s, whatever the flag says */
            }
            if (starts(item, len, "bigfail")) {
                const char *forged = "first\\n2026-12-07T15:00:00+0000 notice workqueue: [WorkQueue] FORGED all items completed\\n";
                size_t size = 5 << 20;
                char *text = malloc(size);
                memset(text, 'x', size);
                memcpy(text, forged, strlen(forged));
                *out = (uint8_t *)text;
                *out_len = size;
                return WORKQUEUE_PLUGIN_FAILED;
            }
            usleep(300000);
            *out = malloc(len ? len : 1);
            if (len) memcpy(*out, item, len);
            *out_len = len;
            return WORKQUEUE_PLUGIN_OK;
        }
        static void destroy(void *s) {}
        static void release(void *b) { free(b); }
        static const workqueue_plugin table = {WORKQUEUE_PLUGIN_ABI_VERSION, sizeof(workqueue_plugin), "hostile", NULL,
                                               create, handle, destroy, release};
        const workqueue_plugin *workqueue_plugin_entry(void) { return &table; }
        """

    static func header(file: String = #filePath) -> String {
        URL(fileURLWithPath: file).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/CWorkQueuePlugin/include/workqueue_plugin.h").path
    }

    /// Builds the hostile plugin into `directory`; returns its path.
    static func plugin(in directory: TemporaryDirectory) async throws -> String {
        let sourcePath = directory.file("hostile.c")
        try Data(source.replacingOccurrences(of: "HEADER", with: header()).utf8).write(to: URL(fileURLWithPath: sourcePath))
        let library = directory.file("libhostile.so")
        let (cc, built) = try await ChildProcess.run(try LocalRedis.locate("cc"), ["-shared", "-fPIC", "-o", library, sourcePath],
                                                     directory: directory.path, label: "cc")
        try #require(built == .exited(0), "\(cc.stderr)")
        chmod(library, 0o755)
        return library
    }

    /// Pending + our leases + completed: no item may be lost.
    static func accounted(_ redis: LocalRedis, _ queue: String) async throws -> Int {
        let pending = Int(try await redis.cli("llen", queue)) ?? -1
        let processing = Int(try await redis.cli("hlen", queue + ":lease-items")) ?? -1
        let completed = Int(try await redis.cli("get", queue + ":completed")) ?? 0
        return pending + processing + completed
    }

    /// Defect 1: a handler's exit(0) (or exit(7)) while items are in flight ends the worker with
    /// 70 and a message, never 0; its items stay leased for recovery.
    @Test func aHandlersExitIsACrashWithItsOwnStatus() async throws {
        try await LocalRedis.with { redis in
            let directory = try TemporaryDirectory()
            let plugin = try await Self.plugin(in: directory)
            let wq = try Workqueue(redis)
            for word in ["exit0", "exit7"] {
                let queue = "q" + word
                try await redis.cli("rpush", queue, "a1", word, "a2", "a3")
                let (worker, termination) = try await wq.run(["work", "--queue", queue, "--plugin", plugin, "--concurrency", "2"])
                #expect(termination == .exited(70), "\(word): \(worker.stderr)")
                #expect(worker.stderr.contains("calling exit() in a handler is a crash"), "\(worker.stderr)")
                #expect(!worker.stdout.contains("Queue empty, exiting"))
                #expect(try await Self.accounted(redis, queue) == 4, "no item lost")
            }
        }
    }

    /// Defect 2: a handler that ignores its time limit does not freeze the items behind it;
    /// when abandoned handlers hold every spare thread the worker stops (5) and releases.
    @Test func aRunawayHandlerDoesNotStopTheItemsBehindIt() async throws {
        try await LocalRedis.with { redis in
            let directory = try TemporaryDirectory()
            let plugin = try await Self.plugin(in: directory)
            let wq = try Workqueue(redis)
            let flags = ["--plugin", plugin, "--item-timeout", "1", "--concurrency", "1", "--prefetch", "1", "--max-attempts", "1"]
            try await redis.cli("rpush", "r", "hang", "b", "c")
            let (worker, termination) = try await wq.run(["work", "--queue", "r"] + flags, timeout: .seconds(25))
            #expect(termination == .exited(0), "\(worker.stderr)")
            #expect(try await redis.cli("get", "r:completed") == "2")
            #expect(try await redis.cli("lrange", "r:dead", "0", "-1").contains("hang"))

            try await redis.cli("rpush", "s", "hang 1", "hang 2", "c")
            let (stuck, stopped) = try await wq.run(["work", "--queue", "s"] + flags, timeout: .seconds(25))
            #expect(stopped == .exited(5), "\(stuck.stderr)")
            #expect(stuck.stderr.contains("spare thread"), "\(stuck.stderr)")
            #expect(try await redis.cli("lrange", "s", "0", "-1") == "c", "released, not lost")
        }
    }

    /// Defect 6: a 5 MiB failure message whose text holds a newline is logged cut and escaped.
    @Test func aHandlersFailureTextIsLoggedBoundedAndEscaped() async throws {
        try await LocalRedis.with { redis in
            let directory = try TemporaryDirectory()
            let plugin = try await Self.plugin(in: directory)
            let wq = try Workqueue(redis)
            try await redis.cli("rpush", "f", "bigfail")
            let (worker, termination) = try await wq.run(["work", "--queue", "f", "--plugin", plugin, "--max-attempts", "2",
                                                          "--retry-base-seconds", "0.01"])
            #expect(termination == .exited(0), "\(worker.stderr.prefix(2000))")
            #expect(worker.stderr.utf8.count < 64 << 10, "stderr: \(worker.stderr.utf8.count) bytes")
            let forged = worker.stderr.split(separator: "\n").filter { $0.contains("FORGED") && !$0.contains("failed: first") }
            #expect(forged.isEmpty, "a forged line: \(forged.map { $0.prefix(200) })")
            #expect(worker.stderr.contains(#"failed: first\x0a2026-12-07T15:00:00+0000 notice"#))
        }
    }

    /// Defects 3 and 8: `push --file` of a missing file or a folder is a permanent error (78,
    /// not the transient 1); a line above the worker's 256 MiB bound is refused (78) naming it.
    @Test func pushRefusesBadFilesAndItemsAboveTheBound() async throws {
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            let directory = try TemporaryDirectory()
            for path in ["/nonexistent", directory.path] {
                let (push, termination) = try await wq.run(["push", "--queue", "p", "--file", path])
                #expect(termination == .exited(78), "\(path): \(push.stderr)")
                #expect(push.stderr.contains(path))
            }
            // A sparse file of 257 MiB without a newline: read fast, never pushed.
            let huge = directory.file("huge")
            #expect(FileManager.default.createFile(atPath: huge, contents: Data("small\n".utf8)))
            #expect(truncate(huge, (257 << 20) + 6) == 0)
            let (push, termination) = try await wq.run(["push", "--queue", "p", "--file", huge])
            #expect(termination == .exited(78), "\(push.stderr)")
            #expect(push.stderr.contains("268435456 bytes (256 MiB"), "\(push.stderr)")
            #expect(try await redis.cli("lrange", "p", "0", "-1") == "small", "the line before it was pushed, not the huge one")
        }
    }

    /// Defect 8: a --signature of the wrong form is a bad flag (64), not a configuration error.
    @Test func anInvalidSignatureExits64() async throws {
        try await LocalRedis.with { redis in
            let directory = try TemporaryDirectory()
            let plugin = try await Self.plugin(in: directory)
            let wq = try Workqueue(redis)
            let (worker, termination) = try await wq.run(["work", "--queue", "x", "--plugin", plugin, "--symbol", "handle",
                                                          "--signature", "nonsense"])
            #expect(termination == .exited(64), "\(worker.stderr)")
            #expect(worker.stderr.contains("invalid --signature"))
        }
    }

    /// Defect 5: `--consume` into a pipe is refused (nothing deleted); `--output FILE` writes and
    /// fsyncs the records before deleting them.
    @Test func consumeNeverDeletesWhatAPipeMayNotHaveRead() async throws {
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            let items = (2...11).map(String.init)
            #expect(try await wq.run(["push", "--queue", "r"] + items).termination == .exited(0))
            #expect(try await wq.run(["work", "--queue", "r", "--handler", "factor"]).termination == .exited(0))
            let command = "{ '\(try Workqueue.executable())' results --queue r --consume; echo \"status=$?\" >&2; } | head -c 100"
            let (piped, termination) = try await ChildProcess.run("/bin/sh", ["-c", command], environment: ["REDIS_URL": redis.url],
                                                                  directory: wq.directory.path, label: "piped")
            #expect(termination == .exited(0))
            #expect(piped.stderr.contains("status=64"), "\(piped.stderr)")
            #expect(piped.stderr.contains("refusing --consume with stdout a pipe"), "\(piped.stderr)")
            #expect(try await redis.cli("xlen", "r:results") == "10", "nothing deleted")

            let output = wq.directory.file("results.jsonl")
            let (consumed, done) = try await wq.run(["results", "--queue", "r", "--consume", "--output", output])
            #expect(done == .exited(0), "\(consumed.stderr)")
            #expect(consumed.stderr.contains("wrote and deleted 10 records"))
            let written = try String(contentsOfFile: output, encoding: .utf8)
            #expect(written.split(separator: "\n").count == 10)
            #expect(try await redis.cli("xlen", "r:results") == "0")
        }
    }
}

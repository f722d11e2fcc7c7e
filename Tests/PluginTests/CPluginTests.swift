import Foundation
import Logging
import Synchronization
import Testing
import TestSupport
import WorkQueue
import WorkQueuePlugins
import WorkQueueTesting

/// The plain-C plugin `Examples/CPlugin` (libCPrinterPlugin.so).
@Suite struct CPluginTests {
    @Test func loadsAndRunsThroughTheRunner() async throws {
        let path = try builtPlugin("CPrinterPlugin")
        let handler = try PluginLoader.loadPlugin(path: path, options: ["prefix": "> "])
        #expect(handler.name == "cupper")
        #expect(handler.summary.contains("plain C"))
        #expect(handler.execution == .dedicatedThread)
        let report = try await HandlerHarness(handler).run(["apple", "Banana", WorkItem([0x63, 0x00, 0xC3, 0xA9])])
        #expect(report.results == ["apple": "> APPLE", "Banana": "> BANANA", WorkItem([0x63, 0x00, 0xC3, 0xA9]): "> C\0é"])
        #expect(report.deadLetters.isEmpty)
        // A result that is not UTF-8 (the item's 0xFF echoed) fails the attempt instead of
        // being stored changed (issue 27).
        let binary = try await HandlerHarness(handler).run([WorkItem([0x63, 0xFF])])
        #expect(binary.deadLetters.map(\.item) == [WorkItem([0x63, 0xFF])])
        #expect(binary.deadLetters.first?.lastError?.contains("not valid UTF-8") == true)
    }

    @Test func progressAndCheckpointsReachTheHost() async throws {
        let handler = try PluginLoader.load(path: try builtPlugin("CPrinterPlugin"), options: [:])
        let context = WorkContext(attempt: 2, maxAttempts: 3, leaseDeadline: WorkInstant(sinceOrigin: .seconds(60)),
                                  session: "s", options: [:], logger: Logger(label: "plugin-tests"), checkpoint: Array("step 1".utf8))
        #expect(try await handler.handle("checkpoint", context: context) == "saved 0 after step 1")
        #expect(context.progress.savedCheckpoint == Array("step 2".utf8))
        #expect(context.progress.progress?.fraction == 0.5)
        #expect(context.progress.progress?.note == "halfway")
        #expect(try await handler.handle("checkpoint", context: makeContext()) == "saved 0 after none")
    }

    @Test func oneStateServesConcurrentSlots() async throws {
        let handler = try PluginLoader.loadPlugin(path: try builtPlugin("CPrinterPlugin"), options: [:])
        var harness = HandlerHarness(handler)
        harness.options.concurrency = 4
        let items = (0..<40).map { WorkItem("item \($0)") }
        let report = try await harness.run(items)
        #expect(report.results == Dictionary(uniqueKeysWithValues: items.map { ($0, $0.string.uppercased()) }))
    }

    @Test func loadReturnsAWorkHandler() async throws {
        let handler = try PluginLoader.load(path: try builtPlugin("CPrinterPlugin"), options: [:])
        #expect(try await handler.handle("ok", context: makeContext()) == "OK")
    }

    @Test func aFailingItemIsRetriedThenDeadLetteredWithThePluginsMessage() async throws {
        let handler = try PluginLoader.load(path: try builtPlugin("CPrinterPlugin"), options: ["fail": "BAD"])
        await #expect {
            _ = try await handler.handle("bad", context: makeContext())
        } throws: { error in
            "\(error)" == "cupper: item contains 'BAD' (option fail)"
        }
        let report = try await HandlerHarness(handler).run(["good", "bad apple"])
        #expect(report.completed == ["good"])
        #expect(report.failures.map(\.attempt) == [1, 2, 3])
        #expect(report.deadLetters.map(\.item) == ["bad apple"])
        #expect(report.deadLetters.first?.lastError == "cupper: item contains 'BAD' (option fail)")
    }

    @Test func aRejectedItemIsDeadLetteredOnItsFirstAttempt() async throws {
        let handler = try PluginLoader.load(path: try builtPlugin("CPrinterPlugin"), options: ["reject": "BAD", "fail": "WORSE"])
        await #expect(throws: UnprocessableItem("cupper: item contains 'BAD' (option reject)")) {
            _ = try await handler.handle("bad", context: makeContext())
        }
        let report = try await HandlerHarness(handler).run(["good", "bad apple", "worse"])
        #expect(report.completed == ["good"])
        #expect(report.failures.map(\.attempt) == [1, 1, 2, 3])
        #expect(Set(report.deadLetters) == [
            DeadLetter(item: "bad apple", lastError: "unprocessable item: cupper: item contains 'BAD' (option reject)", attempts: 1),
            DeadLetter(item: "worse", lastError: "cupper: item contains 'WORSE' (option fail)", attempts: 3),
        ])
    }

    /// A plugin returning a status this host does not know (a newer plugin's) fails the attempt,
    /// retried as WORKQUEUE_PLUGIN_FAILED is; REJECTED without a message still says who rejected.
    @Test func anUnknownStatusIsAFailureAndAnEmptyRejectionIsNamed() async throws {
        let directory = try TemporaryDirectory()
        let path = try directory.compileSharedObject("libstatuses.so", source: """
            #include <stdlib.h>
            #include <string.h>
            #include "\(cPluginHeader())"
            static int32_t create(const char *const *k, const char *const *v, size_t n, void **s, char **e) { return 0; }
            static int32_t handle(void *s, const uint8_t *item, size_t len, const workqueue_plugin_context *c,
                                  const volatile int32_t *cancelled, uint8_t **out, size_t *out_len) {
                if (len == 1 && item[0] == 'r') return WORKQUEUE_PLUGIN_REJECTED;
                *out = (uint8_t *)strdup("seven");
                *out_len = 5;
                return 7;
            }
            static void destroy(void *s) {}
            static void release(void *b) { free(b); }
            static const workqueue_plugin table = {WORKQUEUE_PLUGIN_ABI_VERSION, sizeof(workqueue_plugin), "statuses", NULL,
                                                   create, handle, destroy, release};
            const workqueue_plugin *workqueue_plugin_entry(void) { return &table; }
            """)
        let report = try await HandlerHarness(try PluginLoader.load(path: path, options: [:])).run(["7", "r"])
        #expect(Set(report.deadLetters) == [
            DeadLetter(item: "7", lastError: "seven (status 7, unknown to this worker, counts as a failure)", attempts: 3),
            DeadLetter(item: "r", lastError: "unprocessable item: plugin statuses rejected the item and gave no reason", attempts: 1),
        ])
    }

    @Test func createFailureCarriesThePluginsMessageAndTheFile() throws {
        let path = try builtPlugin("CPrinterPlugin")
        #expect(
            throws: PluginError.createFailed(
                path: path, message: "cupper: unknown option 'colour'; it accepts fail=TEXT, reject=TEXT and prefix=TEXT"
            )
        ) {
            try PluginLoader.loadPlugin(path: path, options: ["colour": "red"])
        }
    }

    @Test func runnerCancellationSetsThePluginsFlag() async throws {
        let handler = try PluginLoader.load(path: try builtPlugin("CPrinterPlugin"), options: [:])
        let flag = CancellationFlag()
        let context = makeContext(cancellation: flag)
        // The item "wait" blocks until the flag is seen (or fails after 10 s).
        let thread = TestThreadExecutor()
        defer { thread.finish() }
        let call = Task(executorPreference: thread) { try await handler.handle("wait", context: context) }
        // Usually lets the call start, so the host's watcher carries the flag (if not, the
        // host's first check does: both paths end in WorkCancelled). No timing is asserted.
        try await Task.sleep(for: .milliseconds(50))
        flag.cancel(.leaseLost)
        await #expect(throws: WorkCancelled.self) { _ = try await call.value }
    }

    /// The item time limit reaches a plugin as its stop flag: the call returns, and the attempt
    /// fails as timed out.
    @Test func theItemTimeLimitSetsThePluginsFlag() async throws {
        let handler = try PluginLoader.load(path: try builtPlugin("CPrinterPlugin"), options: [:])
        let clock = TestClock()
        let queue = InMemoryQueue(items: ["wait"], clock: clock)
        var options = WorkerOptions()
        options.itemTimeout = .seconds(10)
        options.maxAttempts = 1
        options.idlePollInterval = .milliseconds(100)
        let worker = try Worker(backend: queue, handler: handler, options: options, clock: clock)
        let finished = Atomic<Bool>(false)
        let run = Task {
            defer { finished.store(true, ordering: .relaxed) }
            return try await worker.runUntilStopped()
        }
        let started = ContinuousClock.now
        // The plugin's "wait" blocks until its flag is set (or fails by itself after 10 s).
        while queue.deadItems.isEmpty && ContinuousClock.now - started < .seconds(30) {
            await clock.advance(by: .milliseconds(100))
            try await Task.sleep(for: .milliseconds(1))
        }
        #expect(ContinuousClock.now - started < .seconds(8), "the plugin stopped at its flag, not by itself")
        #expect(queue.deadItems == ["wait"])
        #expect(queue.lastError(for: "wait") == "timed out after 10 s")
        while !finished.load(ordering: .relaxed) && ContinuousClock.now - started < .seconds(30) {
            await clock.advance(by: .milliseconds(100))
            try await Task.sleep(for: .milliseconds(1))
        }
        let summary = try await run.value
        #expect(summary.deadLettered == 1)
    }

    @Test func taskCancellationSetsThePluginsFlag() async throws {
        let handler = try PluginLoader.load(path: try builtPlugin("CPrinterPlugin"), options: [:])
        let thread = TestThreadExecutor()
        defer { thread.finish() }
        let call = Task(executorPreference: thread) { try await handler.handle("wait", context: makeContext()) }
        call.cancel()
        await #expect(throws: WorkCancelled.self) { _ = try await call.value }
    }
}

import Foundation
import Testing
import TestSupport
import WorkQueue
import WorkQueuePlugins
import WorkQueueTesting

/// Issue 27: a plugin's output crosses the boundary checked: a result that is not UTF-8 fails
/// the attempt (it is never changed silently), an implausible output length (SIZE_MAX) fails it
/// too (the buffer is never read), and the worker lives on.
@Suite struct HostilePluginTests {
    static let source = """
        #include <stdint.h>
        #include <stdlib.h>
        #include <string.h>
        #include "\(cPluginHeader())"
        static int32_t create(const char *const *k, const char *const *v, size_t n, void **s, char **e) { return 0; }
        static int is(const uint8_t *item, size_t len, const char *word) {
            return len == strlen(word) && memcmp(item, word, len) == 0;
        }
        static int32_t handle(void *s, const uint8_t *item, size_t len, const workqueue_plugin_context *c,
                              const volatile int32_t *cancelled, uint8_t **out, size_t *out_len) {
            if (is(item, len, "binary")) {
                *out = malloc(4);
                memcpy(*out, "\\xff\\xfe\\x80z", 4);
                *out_len = 4;
                return WORKQUEUE_PLUGIN_OK;
            }
            if (is(item, len, "sizemax") || is(item, len, "sizemax-fail")) {
                *out = malloc(4);
                memcpy(*out, "oops", 4);
                *out_len = SIZE_MAX;
                return is(item, len, "sizemax") ? WORKQUEUE_PLUGIN_OK : WORKQUEUE_PLUGIN_FAILED;
            }
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

    @Test func aResultThatIsNotUTF8FailsTheAttemptAndAnImplausibleLengthIsRejected() async throws {
        let directory = try TemporaryDirectory()
        let path = try directory.compileSharedObject("libhostile.so", source: Self.source)
        let handler = try PluginLoader.load(path: path, options: [:])
        await #expect(throws: PluginError.resultNotUTF8(plugin: "hostile", offset: 0, length: 4)) {
            _ = try await handler.handle("binary", context: makeContext())
        }
        for item in ["sizemax", "sizemax-fail"] {
            await #expect(throws: PluginError.implausibleOutput(plugin: "hostile", length: UInt.max)) {
                _ = try await handler.handle(WorkItem(item), context: makeContext())
            }
        }
        // Through the runner: retried, then dead-lettered with the reason; the rest completes.
        let report = try await HandlerHarness(handler).run(["fine", "binary", "sizemax"])
        #expect(report.results == ["fine": "fine"])
        #expect(Set(report.deadLetters.map(\.item)) == ["binary", "sizemax"])
        let reasons = report.deadLetters.compactMap(\.lastError).joined(separator: "\n")
        #expect(reasons.contains("not valid UTF-8 (byte 0 of 4)"), "\(reasons)")
        #expect(reasons.contains("output length of \(UInt.max) bytes"), "\(reasons)")
    }
}

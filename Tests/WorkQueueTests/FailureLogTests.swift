import Logging
import Synchronization
import Testing
import WorkQueue
import WorkQueueTesting

/// Issue 27: a handler's failure text reaches the log cut (as the dead letter's text is) and
/// escaped (as item labels are): a huge message cannot flood stderr, a newline cannot forge a line.
@Suite struct FailureLogTests {
    typealias T = WorkerTests

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Keeps every message logged.
    final class Capture: Sendable {
        let lines = Mutex<[String]>([])
    }

    struct CapturingHandler: LogHandler {
        let capture: Capture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            capture.lines.withLock { $0.append(event.message.description) }
        }
    }

    @Test func aHugeMessageWithNewlinesIsLoggedCutAndEscaped() async throws {
        let clock = TestClock()
        let queue = InMemoryQueue(items: ["bad"], clock: clock)
        let message = "first\n2026-12-07T15:00:00Z notice workqueue: [WorkQueue] FORGED all items completed\n"
            + String(repeating: "x", count: 1 << 20)
        let handler = ClosureHandler { _, _ in throw Failure(description: message) }
        let capture = Capture()
        let logger = Logger(label: "test") { _ in CapturingHandler(capture: capture) }
        let options = T.options { $0.maxAttempts = 2 }
        let worker = try Worker(backend: queue, handler: handler, options: options, clock: clock, logger: logger)
        let running = T.Running(worker)
        try await T.drive(clock) { running.isFinished }
        _ = try await running.task.value
        let failures = capture.lines.withLock { $0 }.filter { $0.contains("failed:") }
        #expect(failures.count == 2, "one line per attempt")
        for line in failures {
            #expect(line.utf8.count < 4096 + 200, "cut to 4 KiB: \(line.utf8.count) bytes")
            #expect(!line.contains("\n"), "no line break reaches the log")
            #expect(line.contains(#"first\x0a2026-12-07T15:00:00Z notice workqueue: [WorkQueue] FORGED"#))
            #expect(line.contains("…[truncated, \(message.utf8.count) bytes in all]"))
        }
        #expect(queue.lastError(for: "bad")?.hasPrefix("first\n") == true, "the stored text keeps the message itself")
    }
}

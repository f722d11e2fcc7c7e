import Logging
import NoopHandler
import PrinterHandler
import Testing
import WorkQueue
import WorkQueueTesting

/// The `printer` and `noop` handlers.
@Suite struct PrinterTests {
    @Test func delayOptionIsParsedAndChecked() throws {
        #expect(try Printer(options: [:]).delay == .zero)
        #expect(try Printer(options: ["delay": "1.5"]).delay == .milliseconds(1500))
        for bad in ["soon", "-1", "nan", "1e9"] {
            #expect(throws: WorkQueueError.invalidOption(key: "delay", value: bad, expected: "a number of seconds from 0 to 86400")) {
                try Printer(options: ["delay": bad])
            }
        }
        #expect(throws: WorkQueueError.self) { try Printer(options: ["dealy": "1"]) }
    }

    @Test func itemsWithInvalidUTF8AreShownEscapedAndComplete() async throws {
        let report = try await HandlerHarness(try Printer(options: [:])).run(["apple", WorkItem([0x66, 0xFF, 0x0A])])
        #expect(report.completed.count == 2)
        #expect(WorkItem([0x66, 0xFF, 0x0A]).escaped == "f\\xff\\x0a")
    }

    @Test func theDelayEndsEarlyWhenTheWorkIsCancelled() async throws {
        let printer = try Printer(options: ["delay": "60"])
        let flag = CancellationFlag()
        let context = WorkContext(attempt: 1, maxAttempts: 1, leaseDeadline: SystemClock().now, session: "s",
                                  options: [:], logger: .init(label: "test"), cancellation: flag)
        let task = Task { try await printer.handle("slow", context: context) }
        try await Task.sleep(for: .milliseconds(50))
        flag.cancel(.leaseLost)
        task.cancel()
        await #expect(throws: WorkCancelled(reason: .leaseLost)) { _ = try await task.value }
    }

    @Test func noopCompletesEverything() async throws {
        let report = try await HandlerHarness(try Noop(options: [:])).run(["a", "b"])
        #expect(report.completed.count == 2)
        #expect(throws: WorkQueueError.self) { try Noop(options: ["x": "1"]) }
    }
}

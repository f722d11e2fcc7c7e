// The samples of WorkQueueCore.docc: the landing page (WorkQueueCore.md) and the article
// "Writing handlers" (WritingHandlers.md). scripts/docs checks that every line of each
// ```swift block there (imports aside) appears here as it is; the tests below run them. The
// samples of the doc comments of WorkHandler, TypedWorkHandler, UnprocessableItem,
// HandlerHarness and PluginExport are these and those of the other files here.
import Logging
import Testing
import WorkQueue
import WorkQueueTesting
import WorkQueueTyped

/// WorkQueueCore.md (nested: its `Shout` is a named handler, the article's is not).
enum LandingPage {
    public struct Shout: NamedWorkHandler {
        public static let name = "shout"
        public static let summary = "upper-cases each item"
        public init(options: [String: String]) throws {}

        public func handle(_ item: WorkItem, context: WorkContext) async throws -> String? {
            guard !item.bytes.isEmpty else { throw UnprocessableItem("an empty item") }
            StandardOutput.line("Working on \(item.escaped)")
            return item.string.uppercased()
        }
    }
}

// WritingHandlers.md, "Raw items".
struct Shout: WorkHandler {
    func handle(_ item: WorkItem, context: WorkContext) async throws -> String? {
        print("Working on \(item.escaped)")
        return item.string.uppercased()
    }
}

// WritingHandlers.md, "Typed items".
struct WordCount: TypedWorkHandler {
    struct Input: Codable, Sendable { var text: String }
    struct Output: Codable, Sendable, Equatable { var words: Int }

    func handle(_ input: Input, context: WorkContext) async throws -> Output {
        Output(words: input.text.split(separator: " ").count)
    }
}

// WritingHandlers.md, "Where a handler runs".
struct Factor: WorkHandler {
    var execution: HandlerExecution { .dedicatedThread }
    func handle(_ item: WorkItem, context: WorkContext) async throws -> String? {
        // ... a long computation that checks context.isCancelled now and then
        return nil
    }
}

@Suite struct WritingHandlersSamples {
    @Test func theLandingPagesNamedHandler() async throws {
        let report = try await HandlerHarness(try LandingPage.Shout(options: [:])).run(["hi", ""])
        #expect(report.results == ["hi": "HI"])
        #expect(report.deadLettered == [""])
        #expect(LandingPage.Shout.name == "shout")
    }

    @Test func theArticlesHandlers() async throws {
        #expect(try await HandlerHarness(Shout()).run(["a"]).results == ["a": "A"])
        let counted = try await HandlerHarness(WordCount()).run(typed: [WordCount.Input(text: "one two three")])
        #expect(try counted.results(as: WordCount.Output.self) == [WordCount.Output(words: 3)])
        #expect(Factor().execution == .dedicatedThread)
        #expect(try await HandlerHarness(Factor()).run(["12"]).completed == ["12"])
    }
}

// WritingHandlers.md, "Progress and checkpoints".
struct Resumable: WorkHandler {
    func handle(_ item: WorkItem, context: WorkContext) async throws -> String? {
        let lines = item.string.split(separator: "\n")
        // Where an earlier attempt got to, or 0.
        var next = context.checkpoint.flatMap { Int(String(decoding: $0, as: UTF8.self)) } ?? 0
        while next < lines.count {
            try context.checkCancellation()
            try await process(lines[next])
            next += 1
            try context.saveCheckpoint(Array(String(next).utf8))
            context.reportProgress(Double(next) / Double(lines.count), note: "line \(next) of \(lines.count)")
        }
        return "\(lines.count) lines"
    }

    func process(_ line: Substring) async throws {}
}

@Test func resumableResumesFromItsCheckpoint() async throws {
    let report = try await HandlerHarness(Resumable()).run(["a\nb\nc"])
    #expect(report.results == ["a\nb\nc": "3 lines"])
}

/// TestContext's doc comment (WorkQueueTesting): a handler called directly, no runner.
@Test func resumesFromItsCheckpoint() async throws {
    let test = TestContext(attempt: 2, checkpoint: Array("2".utf8))
    #expect(try await Resumable().handle("a\nb\nc", context: test.context) == "3 lines")
    #expect(test.savedCheckpoint == Array("3".utf8))
}

/// What else a TestContext shows: the progress reported, and a cancellation.
@Test func aTestContextShowsProgressAndCancels() async throws {
    let test = TestContext(attempt: 2, checkpoint: Array("2".utf8))
    _ = try await Resumable().handle("a\nb\nc", context: test.context)
    #expect(test.progress?.fraction == 1)
    #expect(test.progress?.note == "line 3 of 3")
    let cancelled = TestContext()
    cancelled.cancel(.leaseLost)
    #expect(cancelled.context.cancellationReason == .leaseLost)
    await #expect(throws: WorkCancelled(reason: .leaseLost)) {
        try await Resumable().handle("a", context: cancelled.context)
    }
}

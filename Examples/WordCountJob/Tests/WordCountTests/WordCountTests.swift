import Testing
import WordCount
import WorkQueueTyped
import WorkQueueTesting

/// The handler under the real runner over the in-memory queue: no Redis, no process.
@Suite struct WordCountTests {
    @Test func countsWordsAndStoresTheResult() async throws {
        let report = try await HandlerHarness(WordCount()).run(typed: [
            WordCount.Input(id: "a", text: "the quick brown fox"),
            WordCount.Input(id: "b", text: ""),
        ])
        #expect(report.deadLetters.isEmpty)
        #expect(try report.results(as: WordCount.Output.self) == [
            WordCount.Output(words: 4, longest: "quick"),
            WordCount.Output(words: 0, longest: nil),
        ])
    }

    @Test func minLengthOptionSkipsShortWords() async throws {
        let handler = try WordCount(options: ["min-length": "3"])
        let report = try await HandlerHarness(handler).run(typed: [WordCount.Input(id: "a", text: "a bb ccc, dddd!")])
        #expect(try report.results(as: WordCount.Output.self) == [WordCount.Output(words: 2, longest: "dddd")])
    }

    @Test func aBadItemIsDeadLetteredAtOnceWithTheReason() async throws {
        let report = try await HandlerHarness(WordCount()).run([WorkItem(#"{"id": "c"}"#)])
        #expect(report.completed.isEmpty)
        let dead = try #require(report.deadLetters.first)
        #expect(dead.attempts == 1)   // never retried: it cannot decode next time either
        #expect(dead.lastError?.contains("missing key 'text'") == true)
    }

    @Test(arguments: [["min-length": "0"], ["min-length": "x"], ["minimum": "3"]])
    func badOptionsAreRefused(options: [String: String]) {
        #expect(throws: WorkQueueError.self) { try WordCount(options: options) }
    }
}

import Testing
import WordCount
import WorkQueueCore
import WorkQueueTesting

/// The handler under the real runner over the in-memory queue: no Redis, no process.
@Suite struct WordCountTests {
    @Test func countsWordsAndStoresTheResult() async throws {
        let items = [
            try TypedItem.encode(WordCount.Input(id: "a", text: "the quick brown fox")),
            try TypedItem.encode(WordCount.Input(id: "b", text: "")),
        ]
        let report = try await HandlerHarness(WordCount()).run(items)
        #expect(report.deadLetters.isEmpty)
        let results = try items.map { try TypedItem.decodeResult(WordCount.Output.self, from: #require(report.results[$0])) }
        #expect(results == [WordCount.Output(words: 4, longest: "quick"), WordCount.Output(words: 0, longest: nil)])
    }

    @Test func minLengthOptionSkipsShortWords() async throws {
        let item = try TypedItem.encode(WordCount.Input(id: "a", text: "a bb ccc, dddd!"))
        let report = try await HandlerHarness(try WordCount(options: ["min-length": "3"])).run([item])
        let result = try TypedItem.decodeResult(WordCount.Output.self, from: #require(report.results[item]))
        #expect(result == WordCount.Output(words: 2, longest: "dddd"))
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

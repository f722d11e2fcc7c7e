import Testing
import WordCountHandler
import WorkQueue
import WorkQueueTesting

/// The typed `wordcount` handler, driven with typed values through the harness.
@Suite struct WordCountTests {
    @Test func countsWordsAtLeastMinLong() async throws {
        let report = try await HandlerHarness(WordCount()).run(typed: [
            WordCount.Input(text: "to be or not", min: 3),
            WordCount.Input(text: "  to be\tor\nnot to be "),
            WordCount.Input(text: ""),
            WordCount.Input(text: "héllo wörld, ça va", min: 5),
        ])
        #expect(report.deadLetters.isEmpty)
        #expect(try report.results(as: WordCount.Output.self) == [1, 6, 0, 2].map { WordCount.Output(words: $0) })
        #expect(report.results[#"{"min":3,"text":"to be or not"}"#] == #"{"words":1}"#)
    }

    @Test func aMalformedItemOrAMinBelowOneIsDeadLetteredAtOnce() async throws {
        let report = try await HandlerHarness(WordCount()).run(["{\"text\": 3}", "{\"text\": \"a b\", \"min\": 0}", "{\"text\": \"a b\"}"])
        #expect(report.completed == ["{\"text\": \"a b\"}"])
        #expect(report.failures.map(\.attempt) == [1, 1])
        let errors = Dictionary(uniqueKeysWithValues: report.deadLetters.map { ($0.item.string, $0.lastError ?? "") })
        #expect(errors["{\"text\": 3}"]?.hasPrefix("unprocessable item: the item does not decode as Input at $.text: expected String") == true,
                "\(errors)")
        #expect(errors["{\"text\": \"a b\", \"min\": 0}"] == "unprocessable item: min is 0; it must be at least 1")
    }

    @Test func takesNoOptions() {
        #expect(throws: WorkQueueError.self) { try WordCount(options: ["min": "3"]) }
        #expect(WordCount.name == "wordcount")
    }
}

import Testing
import WorkQueue
import WorkQueueTesting

/// TypedWorkHandler: JSON items decoded, JSON results stored, an item that does not decode (or
/// that the handler calls unprocessable) dead-lettered on its first attempt; other errors retried.
@Suite struct TypedHandlerTests {
    /// Sums a named list of sizes.
    struct Sizes: TypedWorkHandler {
        struct Input: Codable, Sendable {
            var name: String
            var sizes: [Int]
        }

        struct Output: Codable, Sendable, Equatable {
            var name: String
            var total: Int
        }

        struct Flaky: Error, CustomStringConvertible {
            var description: String { "flaky" }
        }

        func handle(_ input: Input, context: WorkContext) async throws -> Output {
            switch input.name {
            case "nobody": throw UnprocessableItem("no such name 'nobody'")
            case "flaky": throw Flaky()
            default: return Output(name: input.name, total: input.sizes.reduce(0, +))
            }
        }
    }

    /// Returns nil (an optional output): no result is stored.
    struct Silent: TypedWorkHandler {
        func handle(_ input: [Int], context: WorkContext) async throws -> Int? { nil }
    }

    @Test func decodesItemsAndStoresResultsAsJSON() async throws {
        let report = try await HandlerHarness(Sizes()).run(typed: [
            Sizes.Input(name: "a", sizes: [1, 2, 3]),
            Sizes.Input(name: "b", sizes: []),
        ])
        #expect(report.deadLetters.isEmpty)
        #expect(try report.results(as: Sizes.Output.self) == [Sizes.Output(name: "a", total: 6), Sizes.Output(name: "b", total: 0)])
        // The stored result is the output's JSON, keys sorted; the item is the input's JSON.
        #expect(report.results[#"{"name":"a","sizes":[1,2,3]}"#] == #"{"name":"a","total":6}"#)
    }

    @Test func anOutputOfNullStoresNoResult() async throws {
        let report = try await HandlerHarness(Silent()).run(typed: [[1, 2]])
        #expect(report.completed == ["[1,2]"])
        #expect(report.results == ["[1,2]": ""])
        #expect(try report.results(as: Int.self) == [nil])
    }

    /// Malformed items, each with the coding path and problem its dead letter must name.
    static let malformed: [(item: String, names: [String])] = [
        (#"{"name": "a", "sizes": [1, 2"#, ["at $:", "not valid JSON"]),
        ("", ["at $:", "not valid JSON"]),
        (#"{"sizes": [1]}"#, ["at $.name:", "missing key 'name'"]),
        (#"{"name": "a", "sizes": [1, "two", 3]}"#, ["at $.sizes[1]:", "expected Int"]),
        (#"{"name": null, "sizes": []}"#, ["at $.name:", "expected String, found null"]),
        (#"["a", [1]]"#, ["at $:", "expected"]),
    ]

    @Test(arguments: malformed)
    func aMalformedItemIsDeadLetteredOnItsFirstAttemptNamingThePath(item: String, names: [String]) async throws {
        let harness = HandlerHarness(Sizes())
        #expect(harness.options.maxAttempts == 3)
        let report = try await harness.run([WorkItem(item), "{\"name\": \"ok\", \"sizes\": [5]}"])
        #expect(report.completed == ["{\"name\": \"ok\", \"sizes\": [5]}"])
        #expect(report.failures.map(\.attempt) == [1], "never retried")
        #expect(report.summary.retried == 0)
        let letter = try #require(report.deadLetters.first)
        #expect(report.deadLetters.count == 1)
        #expect(letter.item == WorkItem(item))
        #expect(letter.attempts == 1)
        let error = letter.lastError ?? ""
        #expect(error.hasPrefix("unprocessable item: the item does not decode as Input "), "\(error)")
        for name in names { #expect(error.contains(name), "\(error)") }
    }

    @Test func aHandlerThrowingUnprocessableItemIsDeadLetteredAtOnce() async throws {
        let report = try await HandlerHarness(Sizes()).run(typed: [Sizes.Input(name: "nobody", sizes: [1])])
        #expect(report.failures.map(\.attempt) == [1])
        #expect(report.deadLetters.map(\.attempts) == [1])
        #expect(report.deadLetters.first?.lastError == "unprocessable item: no such name 'nobody'")
    }

    @Test func otherErrorsAreStillRetried() async throws {
        let report = try await HandlerHarness(Sizes()).run(typed: [Sizes.Input(name: "flaky", sizes: [])])
        #expect(report.failures.map(\.attempt) == [1, 2, 3])
        #expect(report.failures.map(\.error) == ["flaky", "flaky", "flaky"])
        #expect(report.deadLetters.map(\.attempts) == [3])
    }

    @Test func typedItemsEncodeWithSortedKeysAndResultsDecode() throws {
        struct Unordered: Encodable { var zeta = 1, alpha = "/x" }
        #expect(try TypedItem.encode(Unordered()) == #"{"alpha":"/x","zeta":1}"#)
        #expect(try TypedItem.result(Int?.none) == nil)
        #expect(try TypedItem.decodeResult(Sizes.Output.self, from: #"{"name":"n","total":2}"#) == Sizes.Output(name: "n", total: 2))
        #expect(throws: UnprocessableItem.self) { try TypedItem.decode(Int.self, from: "seven") }
    }

    /// Issue 27: a number that does not fit its field is named with its path and the number,
    /// as a wrong type is (JSONDecoder itself reports it at `$` as "not valid JSON").
    @Test func aNumberThatDoesNotFitNamesItsField() throws {
        let cases: [(String, String, String)] = [
            (#"{"name":"a","sizes":[1,2.5,3]}"#, "$.sizes[1]", "2.5"),
            (#"{"name":"a","sizes":[1e400]}"#, "$.sizes[0]", "1e400"),
            (#"{"sizes":[99999999999999999999], "name":"a"}"#, "$.sizes[0]", "99999999999999999999"),
        ]
        for (json, path, number) in cases {
            #expect {
                _ = try TypedItem.decode(Sizes.Input.self, from: WorkItem(json))
            } throws: { error in
                let text = "\(error)"
                return text.contains("at \(path): the number \(number) does not fit") && !text.contains("not valid JSON")
            }
        }
        // Not JSON at all is still said so.
        #expect {
            _ = try TypedItem.decode(Sizes.Input.self, from: WorkItem(#"{"name": "a", "sizes": [1,"#))
        } throws: { error in "\(error)".contains("at $") }
        // Duplicate keys: the first value is used (documented).
        let input = try TypedItem.decode(Sizes.Input.self, from: WorkItem(#"{"name":"first","name":"second","sizes":[]}"#))
        #expect(input.name == "first")
    }
}

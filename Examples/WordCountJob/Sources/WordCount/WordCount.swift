import WorkQueueTyped

/// The `word-count` handler: each item is a JSON document `{"id": "...", "text": "..."}`; the
/// handler prints `<id>: <n> words` and stores `{"longest": "...", "words": n}` as the item's
/// result. Words are runs of letters and digits; `--option min-length=N` counts only words of
/// at least N characters (default 1). An item that is not such a document is dead-lettered at
/// once, with the reason (`workqueue dead list`).
public struct WordCount: TypedWorkHandler, NamedWorkHandler {
    public struct Input: Codable, Sendable {
        public var id: String
        public var text: String
        public init(id: String, text: String) {
            self.id = id
            self.text = text
        }
    }

    public struct Output: Codable, Sendable, Equatable {
        public var words: Int
        /// The first of the longest words, nil when there is none.
        public var longest: String?
        public init(words: Int, longest: String?) {
            self.words = words
            self.longest = longest
        }
    }

    public static let name = "word-count"
    public static let summary = "counts the words of {\"id\", \"text\"} JSON items (--option min-length=N)"

    /// The shortest word counted.
    public let minimumLength: Int

    public init(minimumLength: Int = 1) {
        self.minimumLength = minimumLength
    }

    /// Options: `min-length=N` (a whole number from 1 to 1000).
    public init(options: [String: String]) throws {
        for key in options.keys.sorted() where key != "min-length" {
            throw WorkQueueError.invalidOption(
                key: key, value: options[key] ?? "", expected: "no such option: word-count takes min-length=N")
        }
        guard let text = options["min-length"] else {
            self.init()
            return
        }
        guard let length = Int(text), (1...1000).contains(length) else {
            throw WorkQueueError.invalidOption(key: "min-length", value: text, expected: "a whole number from 1 to 1000")
        }
        self.init(minimumLength: length)
    }

    public func handle(_ input: Input, context: WorkContext) async throws -> Output {
        var words = 0
        var longest: Substring?
        for word in input.text.split(whereSeparator: { !($0.isLetter || $0.isNumber) })
        where word.count >= minimumLength {
            words += 1
            if word.count > longest?.count ?? 0 { longest = word }
        }
        StandardOutput.line("\(input.id): \(words) words")
        return Output(words: words, longest: longest.map(String.init))
    }
}

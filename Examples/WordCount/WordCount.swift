import WorkQueueTyped

/// The `wordcount` handler, a `TypedWorkHandler`: each item is a JSON object
/// `{"text": "to be or not", "min": 3}`; it returns `{"words":1}`, the number of words in `text`
/// (runs of non-whitespace) at least `min` characters long (`min` is optional, default 1).
///
/// An item that is not such an object (not JSON, `text` missing, `min` not an integer) or whose
/// `min` is below 1 can never succeed: it is dead-lettered on its first attempt, its error
/// naming the coding path (`$.min`) and the problem.
public struct WordCount: NamedWorkHandler, TypedWorkHandler {
    public static let name = "wordcount"
    public static let summary = #"counts the words of each JSON item {"text": "...", "min": 3}: returns {"words": N} (a typed handler)"#

    /// An item: the text and the shortest word that counts.
    public struct Input: Codable, Sendable, Hashable {
        /// The text whose words are counted.
        public var text: String
        /// Words shorter than this many characters are not counted; nil counts every word.
        public var min: Int?

        public init(text: String, min: Int? = nil) {
            self.text = text
            self.min = min
        }
    }

    /// A result: how many words counted.
    public struct Output: Codable, Sendable, Hashable {
        public var words: Int

        public init(words: Int) { self.words = words }
    }

    /// A `wordcount` handler (it has no options).
    public init() {}

    /// Takes no options.
    public init(options: [String: String]) throws {
        if let key = options.keys.sorted().first {
            throw WorkQueueError.invalidOption(key: key, value: options[key] ?? "", expected: "no options: wordcount takes none")
        }
    }

    public func handle(_ input: Input, context: WorkContext) async throws -> Output {
        let min = input.min ?? 1
        guard min >= 1 else { throw UnprocessableItem("min is \(min); it must be at least 1") }
        let words = input.text.split(whereSeparator: \.isWhitespace)
        return Output(words: words.count { $0.count >= min })
    }
}

import WorkQueueCore

/// The `noop` handler: completes every item at once, doing nothing. It measures the
/// framework's own overhead (`scripts/bench`); with `--option result-bytes=N` it returns a
/// result of N bytes for every item, to measure the completion records (`scripts/bench-results`).
public struct Noop: NamedWorkHandler {
    public static let name = "noop"
    public static let summary = "does nothing: measures the framework's own overhead; --option result-bytes=N returns N bytes"

    /// The result returned for every item: nil unless `result-bytes` is given.
    let result: String?

    /// Takes `result-bytes=N` (0 to 4096): return a result of N bytes (`r` repeated).
    public init(options: [String: String]) throws {
        for key in options.keys.sorted() where key != "result-bytes" {
            throw WorkQueueError.invalidOption(key: key, value: options[key] ?? "",
                                               expected: "no such option: noop takes result-bytes=N")
        }
        if let text = options["result-bytes"] {
            guard let bytes = Int(text), (0...4096).contains(bytes) else {
                throw WorkQueueError.invalidOption(key: "result-bytes", value: text, expected: "a whole number of bytes, 0 to 4096")
            }
            result = String(repeating: "r", count: bytes)
        } else {
            result = nil
        }
    }

    public func handle(_ item: WorkItem, context: WorkContext) async throws -> String? { result }
}

import WorkQueueCore

/// The `noop` handler: completes every item at once, doing nothing. It measures the
/// framework's own overhead (`scripts/bench`).
public struct Noop: NamedWorkHandler {
    public static let name = "noop"
    public static let summary = "does nothing: measures the framework's own overhead"

    /// Takes no options.
    public init(options: [String: String]) throws {
        if let key = options.keys.sorted().first {
            throw WorkQueueError.invalidOption(key: key, value: options[key] ?? "", expected: "no options: noop takes none")
        }
    }

    public func handle(_ item: WorkItem, context: WorkContext) async throws -> String? { nil }
}

import WorkQueueCore

/// The `printer` handler, the Kubernetes tutorial's worker: prints `Working on <item>` (the
/// item as UTF-8, invalid bytes shown as `\xNN`), then sleeps `delay` seconds
/// (`--option delay=SECONDS`, default 0) to stand in for the tutorial's `time.sleep(10)`.
/// The sleep ends early when the lease is lost or the worker shuts down.
public struct Printer: NamedWorkHandler {
    public static let name = "printer"
    public static let summary = "prints `Working on <item>`, then sleeps --option delay=SECONDS (default 0), like the tutorial's worker"

    /// How long each item takes.
    public let delay: Duration

    /// Options: `delay=SECONDS` (a number from 0 to 86400).
    public init(options: [String: String]) throws {
        for key in options.keys.sorted() where key != "delay" {
            throw WorkQueueError.invalidOption(key: key, value: options[key] ?? "", expected: "no such option: printer takes delay=SECONDS")
        }
        guard let text = options["delay"] else {
            delay = .zero
            return
        }
        guard let seconds = Double(text), seconds.isFinite, seconds >= 0, seconds <= 86_400 else {
            throw WorkQueueError.invalidOption(key: "delay", value: text, expected: "a number of seconds from 0 to 86400")
        }
        delay = .nanoseconds(Int64((seconds * 1e9).rounded()))
    }

    public func handle(_ item: WorkItem, context: WorkContext) async throws -> String? {
        StandardOutput.line("Working on \(item.escaped)")
        if delay > .zero {
            do {
                try await Task.sleep(for: delay)
            } catch {
                try context.checkCancellation()
                throw error
            }
            try context.checkCancellation()
        }
        return nil
    }
}

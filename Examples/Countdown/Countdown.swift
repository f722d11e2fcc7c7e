import WorkQueueCore

/// The `countdown` handler, a long item that resumes: the item is a number of steps N (1 to
/// 1,000,000); it prints `Working on <item>`, then runs the steps one by one, sleeping
/// `step` seconds each (`--option step=SECONDS`, default 0.1). After each step it reports
/// progress and saves the next step as its checkpoint, so an attempt after a crash or a lost
/// lease prints `Resuming <item> at step K` and goes on from there. Its result is
/// `counted N steps from K` (K = 0 when it started from scratch).
public struct Countdown: NamedWorkHandler {
    public static let name = "countdown"
    public static let summary = "counts an item's N steps, --option step=SECONDS each (default 0.1), resuming from its checkpoint"

    /// How long each step takes.
    public let step: Duration

    /// Options: `step=SECONDS` (a number from 0 to 3600).
    public init(options: [String: String]) throws {
        for key in options.keys.sorted() where key != "step" {
            throw WorkQueueError.invalidOption(key: key, value: options[key] ?? "", expected: "no such option: countdown takes step=SECONDS")
        }
        let text = options["step"] ?? "0.1"
        guard let seconds = Double(text), seconds.isFinite, seconds >= 0, seconds <= 3600 else {
            throw WorkQueueError.invalidOption(key: "step", value: text, expected: "a number of seconds from 0 to 3600")
        }
        step = .nanoseconds(Int64((seconds * 1e9).rounded()))
    }

    public func handle(_ item: WorkItem, context: WorkContext) async throws -> String? {
        guard let steps = Int(item.string), (1...1_000_000).contains(steps) else {
            throw UnprocessableItem("countdown items are a number of steps from 1 to 1000000, not '\(item.escaped)'")
        }
        StandardOutput.line("Working on \(item.escaped)")
        // The step an earlier attempt reached, saved as its checkpoint (decimal text).
        let first = context.checkpoint.flatMap { Int(String(decoding: $0, as: UTF8.self)) }.map { min(max($0, 0), steps) } ?? 0
        if first > 0 { StandardOutput.line("Resuming \(item.escaped) at step \(first)") }
        for done in first..<steps {
            try context.checkCancellation()
            if step > .zero { try await Task.sleep(for: step) }
            try context.saveCheckpoint(Array(String(done + 1).utf8))
            context.reportProgress(Double(done + 1) / Double(steps), note: "step \(done + 1) of \(steps)")
        }
        return "counted \(steps) steps from \(first)"
    }
}

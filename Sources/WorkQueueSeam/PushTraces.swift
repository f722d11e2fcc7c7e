/// A backend that keeps, beside the queue, the trace context of the push that added an item,
/// so that the span a worker makes for the item links to the push's span (tracing, see
/// docs/tracing.md). The items themselves stay raw bytes.
///
/// Entries are per item *value*: equal items share one entry, the latest push's. Only a push
/// made while tracing is on writes one, so a queue without tracing pays nothing. An entry is
/// read when a worker with tracing on starts the item, and forgotten once the item completed or
/// was dead-lettered; what is left (items pushed with tracing on and worked without it) goes
/// with the store's own expiry (Redis: `NAME:push-traces`, 7 days after the last traced push).
public protocol PushTraceStore: Sendable {
    /// Records `context` (an encoded carrier, ``PushTraceContext``) for each of `items`.
    func storePushTrace(_ context: String, for items: [WorkItem]) async throws
    /// The stored context of each of `items`, in their order; nil where there is none.
    func pushTraces(for items: [WorkItem]) async throws -> [String?]
    /// Forgets the stored contexts of `items` (nothing happens for an item without one).
    func forgetPushTraces(for items: [WorkItem]) async throws
}

/// The trace context of a push as stored beside the queue: the carrier a tracer's propagator
/// injected (for W3C Trace Context, `traceparent` and maybe `tracestate`), as `key=value` lines.
public enum PushTraceContext {
    /// The longest encoded context stored (bytes); a longer carrier is not stored at all.
    public static let maxBytes = 1024

    /// `carrier` as `key=value` lines, sorted by key; nil when it is empty, too long, or has a
    /// key or value that cannot round-trip (a newline, or `=` in a key).
    public static func encode(_ carrier: [String: String]) -> String? {
        guard !carrier.isEmpty else { return nil }
        var text = ""
        for (key, value) in carrier.sorted(by: { $0.key < $1.key }) {
            guard !key.isEmpty, !key.contains("="), !key.contains("\n"), !value.contains("\n") else { return nil }
            if !text.isEmpty { text += "\n" }
            text += key + "=" + value
        }
        return text.utf8.count <= maxBytes ? text : nil
    }

    /// The carrier `text` encodes; lines without `=` are skipped.
    public static func decode(_ text: String) -> [String: String] {
        var carrier: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            carrier[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        return carrier
    }
}

#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Logging
import Synchronization
import WorkQueue

/// `--log-format json`: one JSON object per line on stderr, for log collectors. Every line has
/// `time` (UTC, ISO 8601 with milliseconds), `level`, `message` and `label`, then the metadata
/// (the worker's `session`; for an item, `item`, escaped and at most 80 characters, and
/// `attempt`) as string fields. stdout keeps the tutorial's lines.
struct JSONLogHandler: LogHandler {
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?
    let label: String

    init(label: String) { self.label = label }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var fields = metadata
        if let provided = metadataProvider?.get() { fields.merge(provided) { $1 } }
        if let extra = event.metadata { fields.merge(extra) { $1 } }
        var line = "{\"time\":" + JSONString.quoted(Self.timestamp())
        line += ",\"level\":" + JSONString.quoted(event.level.rawValue)
        line += ",\"message\":" + JSONString.quoted(event.message.description)
        line += ",\"label\":" + JSONString.quoted(label)
        for key in fields.keys.sorted() where !["time", "level", "message", "label"].contains(key) {
            if let value = fields[key] { line += "," + JSONString.quoted(key) + ":" + JSONString.quoted("\(value)") }
        }
        line += "}\n"
        Self.output.withLock { _ in Self.writeStandardError(line) }
    }

    /// One line at a time, whole, from any thread.
    private static let output = Mutex(())

    /// Writes `text` to file descriptor 2 (retrying short writes and EINTR).
    private static func writeStandardError(_ text: String) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress.map { $0 + offset }, $0.count - offset) }
            if written > 0 {
                offset += written
            } else if written < 0 && errno == EINTR {
                continue
            } else {
                return
            }
        }
    }

    /// Now, as `2026-11-24T02:31:22.123Z`.
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let millis = Int(now.tv_nsec / 1_000_000)
        let fraction = millis < 10 ? "00\(millis)" : millis < 100 ? "0\(millis)" : "\(millis)"
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T"
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(fraction)Z"
    }
}

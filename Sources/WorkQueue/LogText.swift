/// A handler's failure text as the worker logs it: cut to ``maxBytes`` as the dead letter's
/// stored text is (with the marker `…[truncated, N bytes in all]`), and escaped as item labels
/// are (``WorkItem/escaped``: control characters, a newline too, and invalid bytes as `\xNN`,
/// a backslash as `\\`), so that a huge message cannot flood the log and a message holding a
/// newline cannot forge a log line. Formatted only when the line is actually logged.
struct FailureText: CustomStringConvertible, Sendable {
    /// The most bytes of the message logged: 4 KiB, as `NAME:errors` stores.
    static let maxBytes = 4096

    let message: String

    init(_ message: String) { self.message = message }

    var description: String {
        let utf8 = message.utf8
        let total = utf8.count
        guard total > Self.maxBytes else { return WorkItem(Array(utf8)).escaped }
        let marker = "…[truncated, \(total) bytes in all]"
        var end = utf8.index(utf8.startIndex, offsetBy: Self.maxBytes - marker.utf8.count)
        // Back off to the start of a character (a UTF-8 continuation byte is 0b10xxxxxx).
        while end > utf8.startIndex, utf8[end] & 0xC0 == 0x80 { end = utf8.index(before: end) }
        return WorkItem(Array(utf8[..<end])).escaped + marker
    }
}

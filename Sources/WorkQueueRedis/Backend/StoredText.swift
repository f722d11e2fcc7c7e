/// The size bound of the texts the queue stores per item (a handler's result in
/// `NAME:results`, the last error in `NAME:errors`): a handler returning megabytes, or an error
/// quoting a huge item, must not grow Redis without bound.
public enum StoredText {
    /// The most UTF-8 bytes stored per result or error: 4 KiB.
    public static let maxBytes = 4096

    /// `text` itself when it fits in ``maxBytes``; otherwise its longest prefix that fits
    /// together with the marker `…[truncated, N bytes in all]`, cut at a character boundary.
    public static func bounded(_ text: String) -> String {
        let total = text.utf8.count
        guard total > maxBytes else { return text }
        let marker = "…[truncated, \(total) bytes in all]"
        let budget = maxBytes - marker.utf8.count
        var end = text.utf8.index(text.utf8.startIndex, offsetBy: budget)
        // Back off to the start of a character (a UTF-8 continuation byte is 0b10xxxxxx).
        while end > text.utf8.startIndex, text.utf8[end] & 0xC0 == 0x80 {
            end = text.utf8.index(before: end)
        }
        return String(decoding: text.utf8[..<end], as: UTF8.self) + marker
    }
}

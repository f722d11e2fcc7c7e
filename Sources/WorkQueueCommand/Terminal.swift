#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import WorkQueue

/// The one-line redraw of `status --watch` on a terminal: carriage return, erase the line, the
/// new text cut to the terminal's width. A line as wide as the terminal would wrap, and the
/// next carriage return would go back to its last row only: the rows above would be left
/// behind, one per refresh, and the screen would scroll.
enum Terminal {
    /// stdout's width in columns, read per call (the terminal may be resized); nil when stdout
    /// is not a terminal or does not say.
    static var columns: Int? {
        var size = winsize()
        guard ioctl(1, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return nil }
        return Int(size.ws_col)
    }

    /// `text` cut to fit in `columns - 1` characters (so the cursor never reaches the margin).
    static func fitted(_ text: String, columns: Int?) -> String {
        guard let columns, text.count >= columns else { return text }
        return String(text.prefix(max(1, columns - 1)))
    }

    /// Replaces the current line with `text`, in place.
    static func redraw(_ text: String) {
        StandardOutput.write("\r\u{1B}[K" + fitted(text, columns: columns))
    }
}

// No Foundation here: with it imported, Swift 6 rejects every use of C's `stdout`.
#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#elseif canImport(Darwin)
@preconcurrency import Darwin
#endif

/// Lines on stdout for the worker's log contract (`Working on <item>`, `Queue empty,
/// exiting`). In a pod stdout is a pipe, which C buffers in 4 KiB blocks: a line could sit
/// unseen for minutes, or be lost to a `kill -9`. Each ``line(_:)`` is written whole (lines of
/// concurrent slots never interleave) and flushed at once.
public enum StandardOutput {
    /// Writes `text` and a newline to stdout and flushes it.
    public static func line(_ text: String) {
        var bytes = Array(text.utf8)
        bytes.append(0x0A)
        bytes.withUnsafeBytes { buffer in
            _ = fwrite(buffer.baseAddress, 1, buffer.count, stdout)
        }
        fflush(stdout)
    }

    /// Writes `text` without a newline and flushes it (progress bars redrawn with `\r`).
    package static func write(_ text: String) {
        fputs(text, stdout)
        fflush(stdout)
    }

    /// Makes C's stdout line-buffered, so that lines a handler or a C plugin prints with
    /// `print` or `printf` also reach the log at once. Call it first thing in a worker process.
    package static func useLineBuffering() {
        setvbuf(stdout, nil, _IOLBF, 0)
    }

    /// True when stdout is a terminal.
    package static var isTerminal: Bool { isatty(1) == 1 }
}

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import WorkQueue

/// Items from standard input or a file, one per line, handed out as they arrive (a producer
/// may stream for minutes): each call waits at most a bounded time, so the caller can refresh
/// its open mark and notice a signal in between.
final class LineSource {
    private let descriptor: Int32
    private let closesDescriptor: Bool
    private let label: String
    private var partial: [UInt8] = []
    private var ended = false

    /// Standard input.
    init() {
        descriptor = 0
        closesDescriptor = false
        label = "standard input"
    }

    /// The file at `path`, opened now (a missing file fails before anything is pushed).
    init(path: String) throws {
        let opened = open(path, O_RDONLY | O_CLOEXEC)
        guard opened >= 0 else {
            let reason = switch errno {
            case ENOENT: "no such file"
            case EACCES: "permission denied"
            default: "open failed with errno \(errno)"
            }
            throw CommandError.unreadable(path: path, reason: reason)
        }
        descriptor = opened
        closesDescriptor = true
        label = path
    }

    /// Bytes read after the last newline: the start of a line that has not ended yet.
    var unfinishedLineBytes: Int { partial.count }

    deinit {
        if closesDescriptor { close(descriptor) }
    }

    /// The complete lines that arrived within `timeoutMilliseconds` (possibly none), or nil
    /// once the input has ended and every line was returned.
    func next(timeoutMilliseconds: Int32) throws -> [WorkItem]? {
        guard !ended else { return nil }
        var request = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        let ready = poll(&request, 1, timeoutMilliseconds)
        if ready < 0 {
            if errno == EINTR { return [] }
            throw CommandError.unreadable(path: label, reason: "poll failed with errno \(errno)")
        }
        guard ready > 0 else { return [] }
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        if count < 0 {
            if errno == EINTR || errno == EAGAIN { return [] }
            let reason = errno == EISDIR ? "it is a directory, not a regular file" : "read failed with errno \(errno)"
            throw CommandError.unreadable(path: label, reason: reason)
        }
        if count == 0 {
            ended = true
            defer { partial = [] }
            return Push.lines(Data(partial))
        }
        partial.append(contentsOf: chunk[0..<count])
        guard let lastNewline = partial.lastIndex(of: 0x0A) else { return [] }
        let complete = Data(partial[...lastNewline])
        partial.removeSubrange(...lastNewline)
        return Push.lines(complete)
    }
}

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
import WorkQueueRedis

/// Items from standard input or a file, one per line, handed out as they arrive (a producer
/// may stream for minutes): each call waits at most a bounded time, so the caller can refresh
/// its open mark and notice a signal in between.
///
/// Each byte read is searched for a newline once (a line of many chunks costs linear time), and
/// a line longer than ``maxLineBytes`` is refused (``LineTooLong``) before it is all in memory.
final class LineSource {
    /// A line longer than the source's bound: `bytes` read so far without its newline.
    struct LineTooLong: Error {
        let label: String
        let bytes: Int
        let limit: Int
    }

    private let descriptor: Int32
    private let closesDescriptor: Bool
    let label: String
    /// The most bytes of one line: the worker's hard bound of an item by default. (Checked on
    /// lines that span reads; a line within one 64 KiB read is shorter than any real bound.)
    let maxLineBytes: Int
    private var partial: [UInt8] = []
    /// The read buffer, reused by every read.
    private var chunk = [UInt8](repeating: 0, count: 64 * 1024)
    private var ended = false
    /// Bytes searched for a newline so far (each byte read once: tests check that it is linear).
    private(set) var bytesSearched = 0

    /// Standard input.
    init(maxLineBytes: Int = RedisQueue.maxItemBytesLimit) {
        descriptor = 0
        closesDescriptor = false
        label = "standard input"
        self.maxLineBytes = maxLineBytes
    }

    /// The file at `path`, opened now (a missing file or a folder fails before anything is
    /// pushed, with ``CommandError/inputFile(path:reason:)``).
    init(path: String, maxLineBytes: Int = RedisQueue.maxItemBytesLimit) throws {
        let opened = open(path, O_RDONLY | O_CLOEXEC)
        guard opened >= 0 else {
            let reason = switch errno {
            case ENOENT: "no such file"
            case EACCES: "permission denied"
            case ENOTDIR: "a component of the path is not a folder"
            default: "open failed: \(String(cString: strerror(errno)))"
            }
            throw CommandError.inputFile(path: path, reason: reason)
        }
        var info = stat()
        if fstat(opened, &info) == 0, info.st_mode & S_IFMT == S_IFDIR {
            close(opened)
            throw CommandError.inputFile(path: path, reason: "it is a folder, not a file")
        }
        descriptor = opened
        closesDescriptor = true
        label = path
        self.maxLineBytes = maxLineBytes
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
        let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        if count < 0 {
            if errno == EINTR || errno == EAGAIN { return [] }
            let reason = errno == EISDIR ? "it is a directory, not a regular file" : "read failed with errno \(errno)"
            throw CommandError.unreadable(path: label, reason: reason)
        }
        if count == 0 {
            ended = true
            defer { partial = [] }
            return Push.lines(partial)
        }
        // Only the new bytes are searched: the partial line before them holds no newline.
        bytesSearched += count
        let (firstNewline, lastNewline) = chunk.withUnsafeBufferPointer { buffer -> (Int?, Int?) in
            guard let base = buffer.baseAddress, let first = memchr(base, 0x0A, count) else { return (nil, nil) }
            var last = count - 1
            while buffer[last] != 0x0A { last -= 1 }
            return (UnsafePointer<UInt8>(first.assumingMemoryBound(to: UInt8.self)) - base, last)
        }
        guard let firstNewline, let lastNewline else {
            guard partial.count + count <= maxLineBytes else {
                throw LineTooLong(label: label, bytes: partial.count + count, limit: maxLineBytes)
            }
            partial.append(contentsOf: chunk[0..<count])
            return []
        }
        if partial.count + firstNewline > maxLineBytes {
            throw LineTooLong(label: label, bytes: partial.count + firstNewline, limit: maxLineBytes)
        }
        var complete = partial
        partial = []
        complete.append(contentsOf: chunk[...lastNewline])
        partial.append(contentsOf: chunk[(lastNewline + 1)..<count])
        if firstNewline == lastNewline {
            // One line (a long one, typically): it becomes the item without another copy.
            complete.removeLast()
            if complete.last == 0x0D { complete.removeLast() }
            return complete.isEmpty ? [] : [WorkItem(complete)]
        }
        return Push.lines(complete)
    }
}

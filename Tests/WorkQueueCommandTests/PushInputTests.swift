import Foundation
import Testing
import WorkQueue
import WorkQueuePlugins
@testable import WorkQueueCommand

/// Issue 27: how `push` reads its input, and the exit statuses of bad input.
@Suite struct PushInputTests {
    static func file(_ bytes: [UInt8]) throws -> String {
        let path = NSTemporaryDirectory() + "push-input-\(UUID().uuidString)"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Every line read from `source` until its end (bounded).
    static func drain(_ source: LineSource) throws -> [WorkItem] {
        var items: [WorkItem] = []
        for _ in 0..<100_000 {
            guard let lines = try source.next(timeoutMilliseconds: 1000) else { return items }
            items += lines
        }
        Issue.record("the input did not end")
        return items
    }

    /// A long line is searched once per byte, not once per chunk read (which made a line of
    /// N chunks cost N²/2 chunk searches).
    @Test func aLongLineIsSearchedOncePerByte() throws {
        let long = [UInt8](repeating: UInt8(ascii: "a"), count: 4 << 20)
        let bytes = Array("first\n".utf8) + long + Array("\nlast".utf8)
        let path = try Self.file(bytes)
        defer { unlink(path) }
        let source = try LineSource(path: path)
        let items = try Self.drain(source)
        #expect(items == [WorkItem("first"), WorkItem(long), WorkItem("last")])
        #expect(source.bytesSearched <= bytes.count, "searched \(source.bytesSearched) bytes of \(bytes.count)")
    }

    /// A line above the bound is refused while it is read, naming the bound; the lines before
    /// it were handed out.
    @Test func aLineAboveTheBoundIsRefused() throws {
        let bytes = Array("ok\n".utf8) + [UInt8](repeating: UInt8(ascii: "b"), count: 300_000) + Array("\n".utf8)
        let path = try Self.file(bytes)
        defer { unlink(path) }
        let source = try LineSource(path: path, maxLineBytes: 200_000)
        var items: [WorkItem] = []
        #expect(throws: LineSource.LineTooLong.self) {
            for _ in 0..<1000 {
                guard let lines = try source.next(timeoutMilliseconds: 1000) else { return }
                items += lines
            }
        }
        #expect(items == [WorkItem("ok")])
        // The same without a newline at the end: refused while it is read, not at the end.
        let unended = try Self.file([UInt8](repeating: UInt8(ascii: "c"), count: 300_000))
        defer { unlink(unended) }
        let reader = try LineSource(path: unended, maxLineBytes: 200_000)
        #expect(throws: LineSource.LineTooLong.self) { _ = try Self.drain(reader) }
        let error = CommandError.itemTooLarge(source: path, bytes: 262_144, limit: 268_435_456, pushed: 1)
        #expect(error.description.contains("longer than 268435456 bytes (256 MiB"))
        #expect(ExitStatus.code(for: error) == 78)
    }

    /// A missing file and a folder are permanent errors (78), not the transient 1.
    @Test func aMissingFileOrAFolderIsAPermanentError() throws {
        for path in ["/nonexistent/items.txt", NSTemporaryDirectory()] {
            #expect {
                _ = try LineSource(path: path)
            } throws: { error in
                ExitStatus.code(for: error) == 78 && "\(error)".contains(path)
            }
        }
    }

    /// A --signature of the wrong form is a bad flag value (64), like any other.
    @Test func anInvalidSignatureIsAUsageError() {
        #expect(ExitStatus.code(for: PluginError.invalidSignature(signature: "x(", reason: "no")) == 64)
        #expect(ExitStatus.code(for: PluginError.noSuchFile(path: "/x.so")) == 78)
    }
}

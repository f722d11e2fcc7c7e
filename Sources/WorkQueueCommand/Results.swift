import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import WorkQueue
import WorkQueueRedis

/// `workqueue results`: exports the completion records (`NAME:results`, a stream) as JSON lines
/// or CSV, streaming, a page at a time.
struct Results: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the completion records (NAME:results) as JSON lines or CSV, oldest first.",
        discussion: """
            One record per completion whose handler returned a result (equal items completed \
            twice are two records), kept in Redis until deleted (--consume) or dropped by the \
            workers' --results-max (the oldest go first). A JSON line has the fields id (the \
            record's stream ID), time_ms (when it was recorded, ms since the epoch, Redis \
            clock), item, result, attempt, worker (the session that completed it) and, with \
            --shards M, shard; an item or result that is not valid UTF-8 is given as \
            item_base64 or result_base64 instead (standard base64 of the raw bytes). --csv \
            writes a header line, then the same columns, the raw bytes quoted where needed \
            (RFC 4180); a cell starting with = + - @, tab or CR gets a leading ' (quoted) so \
            that spreadsheets show it as text, and a record holding a NUL byte is refused \
            (exit 78). With --shards M the shards' records are merged by ID. --output FILE \
            appends to FILE instead of stdout, fsynced before each --consume delete; --consume \
            refuses a pipe or socket for stdout (exit 64): a record written into a pipe is not \
            read yet, and deleting it then could lose it. On stderr: how many records were \
            written and how many the bound dropped. Exit 0 once written (with --follow: once \
            the queue is drained), 1 when the output or Redis fails, 78 when NAME:results holds \
            an earlier version's hash (the message says how to migrate) or --output cannot be \
            opened.
            """
    )

    @OptionGroup var common: QueueOptions

    @Flag(name: Catalog.resultsFollow.name, help: Catalog.resultsFollow.help)
    var follow = false

    @Flag(name: Catalog.resultsConsume.name, help: Catalog.resultsConsume.help)
    var consume = false

    @Option(name: Catalog.resultsOutput.name, help: Catalog.resultsOutput.help)
    var output: String?

    @Flag(name: Catalog.resultsCSV.name, help: Catalog.resultsCSV.help)
    var csv = false

    func run() async throws {
        // A closed stdout is reported (EPIPE) instead of killing the process mid-page.
        signal(SIGPIPE, SIG_IGN)
        let settings = Settings()
        let logger = try common.bootstrap(settings)
        let name = try common.queueName(settings)
        let follow = try settings.flag(self.follow, Catalog.resultsFollow)
        let consume = try settings.flag(self.consume, Catalog.resultsConsume)
        let csv = try settings.flag(self.csv, Catalog.resultsCSV)
        // Opened (and checked) before connecting: nothing is read or deleted when it fails.
        let target = try Self.target(path: settings.string(output, Catalog.resultsOutput), consume: consume)
        defer { if target.descriptor != 1 { close(target.descriptor) } }
        try await withProducer(common, settings, logger: logger) { producer in
            let sharded = producer.shardNames.count > 1
            var reader = try await producer.completionReader()
            var out = RecordWriter(csv: csv, sharded: sharded, descriptor: target.descriptor, durable: target.durable,
                                   name: target.name)
            if csv && target.empty { try out.header() }
            var written = 0
            var drainedSeen = false
            // The next page is read while this one is written (Redis, the network and the
            // parsing overlap the encoding): at most two pages in memory.
            var prefetched: Task<(CompletionReader, [CompletionReader.Entry]), any Error>?
            while true {
                let page: [CompletionReader.Entry]
                if let pending = prefetched {
                    (reader, page) = try await pending.value
                    prefetched = nil
                } else {
                    page = try await reader.next(limit: 1000)
                }
                if !page.isEmpty {
                    let current = reader
                    prefetched = Task {
                        var next = current
                        let page = try await next.next(limit: 1000)
                        return (next, page)
                    }
                }
                if page.isEmpty {
                    if !out.buffer.isEmpty { try out.flush() }
                    guard follow, !drainedSeen else { break }
                    // Drained as `wait` means it (nothing pending, in flight or scheduled, no
                    // hold): every completion is recorded by then, so one more read ends it.
                    let counts = QueueCounts(summing: try await producer.countsByShard())
                    if counts.isDrained, try await producer.holds().isEmpty {
                        drainedSeen = true
                    } else {
                        try await Task.sleep(for: .milliseconds(200))
                    }
                    continue
                }
                for index in page.indices { try out.append(page[index]) }
                written += page.count
                // Written in large buffers: a write once RecordWriter.flushBytes are encoded, at
                // once when the reader caught up (a short page), and before every delete.
                if consume || page.count < 1000 || out.buffer.count >= RecordWriter.flushBytes { try out.flush() }
                if consume { try await reader.delete(page) }
            }
            let counts = try await producer.completionCounts()
            let verb = consume ? "wrote and deleted" : "wrote"
            Self.stderr("\(ProgramName.current) results: \(verb) \(written) record\(written == 1 ? "" : "s") of \(name); "
                + (counts.dropped > 0
                    ? "\(counts.dropped) older record\(counts.dropped == 1 ? " was" : "s were") dropped by the workers' --results-max (raise it to keep more)"
                    : "none dropped by --results-max"))
        }
    }

    /// Where the records go: the `--output` file (appended to, fsynced before each delete), or
    /// stdout. With `--consume` and no `--output`, stdout must not be a pipe or socket: a page
    /// written there is only in the kernel's buffer, and a reader that stops early (`| head`)
    /// would lose records already deleted; a regular file is fsynced like `--output`.
    static func target(path: String?, consume: Bool) throws
        -> (descriptor: Int32, durable: Bool, empty: Bool, name: String) {
        if let path {
            let descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            guard descriptor >= 0 else {
                throw CommandError.outputFile(path: path, reason: String(cString: strerror(errno)))
            }
            var info = stat()
            guard fstat(descriptor, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
                close(descriptor)
                throw CommandError.outputFile(path: path, reason: "it is not a regular file")
            }
            // A new file's name is made durable too: fsync its folder once.
            let folder = path.contains("/") ? String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)]) : "."
            let directory = open(folder.isEmpty ? "/" : folder, O_RDONLY | O_CLOEXEC)
            if directory >= 0 {
                _ = fsync(directory)
                close(directory)
            }
            return (descriptor, true, info.st_size == 0, path)
        }
        var info = stat()
        guard fstat(1, &info) == 0 else { return (1, false, true, "stdout") }
        let kind = info.st_mode & S_IFMT
        if consume && (kind == S_IFIFO || kind == S_IFSOCK) {
            throw CommandError.consumeToPipe("""
                refusing --consume with stdout a pipe or socket: a record written into a pipe has not been read yet, and \
                one deleted from Redis then is lost if the reader stops early (e.g. `| head`) or fails. Write to a \
                file with \(Catalog.resultsOutput.flag) PATH (each page is fsynced before it is deleted) and read that, \
                or export without --consume
                """)
        }
        return (1, kind == S_IFREG, true, "stdout")
    }

    /// One line on stderr (fd 2).
    static func stderr(_ line: String) {
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }
}

/// Encodes records as JSON lines or CSV into a buffer and writes it to stdout (fd 1) with
/// write(2), so that a failed write is known before anything is deleted.
struct RecordWriter {
    let csv: Bool
    let sharded: Bool
    /// Where ``flush()`` writes: stdout (1) or the `--output` file.
    let descriptor: Int32
    /// fsync after each flush (a regular file): what a delete after it may rely on.
    let durable: Bool
    /// The target's name for messages.
    let name: String
    private(set) var buffer: [UInt8] = []
    /// How many encoded bytes `workqueue results` gathers before it writes them (unless it
    /// caught up or deletes).
    static let flushBytes = 1 << 20

    init(csv: Bool, sharded: Bool, descriptor: Int32 = 1, durable: Bool = false, name: String = "stdout") {
        self.csv = csv
        self.sharded = sharded
        self.descriptor = descriptor
        self.durable = durable
        self.name = name
        buffer.reserveCapacity(Self.flushBytes + (1 << 18))
    }

    mutating func header() throws {
        buffer.append(contentsOf: (sharded ? "id,time_ms,shard,attempt,worker,item,result\n" : "id,time_ms,attempt,worker,item,result\n").utf8)
        try flush()
    }

    /// Appends one record; throws for a CSV record holding a NUL byte (nothing of it appended).
    mutating func append(_ entry: borrowing CompletionReader.Entry) throws {
        if csv {
            let record = entry.record
            // Many CSV readers end a cell (or the file) at a NUL: refused, never written raw.
            if record.item.bytes.contains(0) || record.result.utf8.contains(0) || record.worker.utf8.contains(0) {
                throw CommandError.csvNUL(recordID: record.id)
            }
            buffer.append(contentsOf: record.id.utf8)
            buffer.append(UInt8(ascii: ","))
            appendNumber(record.milliseconds)
            buffer.append(UInt8(ascii: ","))
            if sharded {
                appendNumber(entry.shard)
                buffer.append(UInt8(ascii: ","))
            }
            appendNumber(record.attempt)
            buffer.append(UInt8(ascii: ","))
            appendCSV(record.worker.utf8)
            buffer.append(UInt8(ascii: ","))
            appendCSV(record.item.bytes)
            buffer.append(UInt8(ascii: ","))
            appendCSV(record.result.utf8)
            buffer.append(UInt8(ascii: "\n"))
            return
        }
        append(#"{"id":""#)
        appendText(entry.record.id)
        append(#"","time_ms":"#)
        appendNumber(entry.record.milliseconds)
        if sharded {
            append(#","shard":"#)
            appendNumber(entry.shard)
        }
        entry.record.item.bytes.withUnsafeBufferPointer { appendField("item", $0) }
        // A String is valid UTF-8: the result is always written as text.
        append(#","result":"#)
        appendJSONString(entry.record.result)
        append(#","attempt":"#)
        appendNumber(entry.record.attempt)
        append(#","worker":"#)
        appendJSONString(entry.record.worker)
        append("}\n")
    }

    /// A literal's bytes.
    private mutating func append(_ literal: StaticString) {
        buffer.append(contentsOf: UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

    /// A String's UTF-8 as it is.
    private mutating func appendText(_ string: String) {
        if string.utf8.withContiguousStorageIfAvailable({ buffer.append(contentsOf: $0) }) == nil {
            buffer.append(contentsOf: string.utf8)
        }
    }

    /// `,"name":"text"` for valid UTF-8, else `,"name_base64":"..."`.
    private mutating func appendField(_ name: StaticString, _ bytes: UnsafeBufferPointer<UInt8>) {
        append(#",""#)
        append(name)
        if Self.isValidUTF8(bytes) {
            append("\":")
            appendJSONString(bytes)
        } else {
            append("_base64\":\"")
            buffer.append(contentsOf: Data(bytes).base64EncodedString().utf8)
            buffer.append(UInt8(ascii: "\""))
        }
    }

    /// `value` in decimal, formatted in place (the RESP encoder's digits).
    private mutating func appendNumber(_ value: Int) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0) // 24 bytes: enough for Int.min
        withUnsafeMutableBytes(of: &digits) { out in
            let count = RESPCommand.formatDecimal(value, into: out)
            buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: out[(out.count - count)...]))
        }
    }

    private static let hex = Array("0123456789abcdef".utf8)

    /// A JSON string of a String's UTF-8.
    private mutating func appendJSONString(_ string: String) {
        if string.utf8.withContiguousStorageIfAvailable({ appendJSONString($0) }) == nil {
            Array(string.utf8).withUnsafeBufferPointer { appendJSONString($0) }
        }
    }

    /// A JSON string of valid UTF-8 bytes: quote, backslash and control characters escaped.
    private mutating func appendJSONString(_ bytes: UnsafeBufferPointer<UInt8>) {
        buffer.append(UInt8(ascii: "\""))
        // Most text needs no escape: copied at once.
        if !Self.needsEscape(bytes) {
            buffer.append(contentsOf: bytes)
            buffer.append(UInt8(ascii: "\""))
            return
        }
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "\""): buffer += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): buffer += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case UInt8(ascii: "\n"): buffer += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case UInt8(ascii: "\r"): buffer += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case UInt8(ascii: "\t"): buffer += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0..<0x20, 0x7F:
                buffer.append(contentsOf: "\\u00".utf8)
                buffer.append(Self.hex[Int(byte >> 4)])
                buffer.append(Self.hex[Int(byte & 0xF)])
            default: buffer.append(byte)
            }
        }
        buffer.append(UInt8(ascii: "\""))
    }

    /// A CSV field: as is, or quoted with quotes doubled when it holds a comma, quote, CR or LF.
    /// A field a spreadsheet would read as a formula (starting with `=`, `+`, `-`, `@`, a tab or
    /// a CR) gets a leading `'` and is quoted, so that it is shown as text, never evaluated.
    private mutating func appendCSV(_ bytes: some Collection<UInt8>) {
        let neutralised = bytes.first.map(Self.startsFormula) ?? false
        let special = neutralised
            || bytes.contains { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == 10 || $0 == 13 }
        guard special else { buffer += bytes; return }
        buffer.append(UInt8(ascii: "\""))
        if neutralised { buffer.append(UInt8(ascii: "'")) }
        for byte in bytes {
            if byte == UInt8(ascii: "\"") { buffer.append(byte) }
            buffer.append(byte)
        }
        buffer.append(UInt8(ascii: "\""))
    }

    /// A first byte that makes spreadsheets (Excel, LibreOffice, Google Sheets) read the cell
    /// as a formula: `=`, `+`, `-`, `@`, tab, CR.
    static func startsFormula(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "=") || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "@")
            || byte == 0x09 || byte == 0x0D
    }

    /// Whether a byte of `bytes` is a quote, a backslash or a control character (what a JSON
    /// string escapes), eight bytes at a time.
    static func needsEscape(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        /// Whether a byte of `word` is zero.
        func hasZero(_ word: UInt64) -> Bool { (word &- ones) & ~word & highs != 0 }
        var index = 0
        if let base = bytes.baseAddress {
            let raw = UnsafeRawPointer(base)
            while index + 8 <= bytes.count {
                let word = raw.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                // A byte under 0x20 (its high bit clear, and under 0x20 once 0x20 is taken away),
                // or equal to a quote, a backslash or DEL.
                let under = (word &- ones &* 0x20) & ~word & highs
                if under != 0 || hasZero(word ^ (ones &* 0x22)) || hasZero(word ^ (ones &* 0x5C)) || hasZero(word ^ (ones &* 0x7F)) {
                    break // looked at byte by byte below
                }
                index += 8
            }
        }
        while index < bytes.count {
            let byte = bytes[index]
            if byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte == 0x7F { return true }
            index += 1
        }
        return false
    }

    static func isValidUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        // ASCII (no high bit), eight bytes at a time.
        var ascii = true
        var index = 0
        if let base = bytes.baseAddress {
            let raw = UnsafeRawPointer(base)
            while index + 8 <= bytes.count {
                if raw.loadUnaligned(fromByteOffset: index, as: UInt64.self) & 0x8080_8080_8080_8080 != 0 { ascii = false; break }
                index += 8
            }
        }
        if ascii && !bytes[index...].contains(where: { $0 >= 0x80 }) { return true }
        return isValidUTF8(Array(bytes))
    }

    static func isValidUTF8(_ bytes: some Collection<UInt8>) -> Bool {
        if !bytes.contains(where: { $0 >= 0x80 }) { return true }
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }

    /// Writes the buffer to the target (and fsyncs it when ``durable``); throws when that fails
    /// (a closed pipe, a full disk).
    mutating func flush() throws {
        var offset = 0
        while offset < buffer.count {
            let n = buffer.withUnsafeBytes { raw in
                write(descriptor, raw.baseAddress.map { $0 + offset }, raw.count - offset)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw CommandError.output("writing the records to \(name) failed: \(String(cString: strerror(errno))); "
                    + "nothing unwritten was deleted")
            }
            offset += n
        }
        buffer.removeAll(keepingCapacity: true)
        if durable && fsync(descriptor) != 0 && errno != EINVAL {
            throw CommandError.output("making the records durable in \(name) failed (fsync): \(String(cString: strerror(errno))); "
                + "nothing unsynced was deleted")
        }
    }
}

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
            // parsing overlap the encoding): at most two pages in memory. A page is the
            // replies' bytes: each record is written straight from them.
            var prefetched: Task<(CompletionReader, CompletionPage), any Error>?
            while true {
                let page: CompletionPage
                if let pending = prefetched {
                    (reader, page) = try await pending.value
                    prefetched = nil
                } else {
                    page = try await reader.nextPage(limit: 1000)
                }
                if !page.isEmpty {
                    let current = reader
                    prefetched = Task {
                        var next = current
                        let page = try await next.nextPage(limit: 1000)
                        return (next, page)
                    }
                }
                if page.isEmpty {
                    if out.pending > 0 { try out.flush() }
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
                try out.append(page)
                written += page.count
                // Written in large buffers: a write once RecordWriter.flushBytes are encoded, at
                // once when the reader caught up (a short page), and before every delete.
                if consume || page.count < 1000 || out.pending >= RecordWriter.flushBytes { try out.flush() }
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
///
/// A JSON line whose text is all printable ASCII without a quote or backslash (what JSON
/// writes as it is) is encoded in one pass straight into the buffer, each field checked as it
/// is copied, eight bytes at a time; any other record is written field by field, escaped,
/// repaired or as base64 (``appendJSON(_:)``): the same bytes either way.
struct RecordWriter {
    let csv: Bool
    let sharded: Bool
    /// Where ``flush()`` writes: stdout (1) or the `--output` file.
    let descriptor: Int32
    /// fsync after each flush (a regular file): what a delete after it may rely on.
    let durable: Bool
    /// The target's name for messages.
    let name: String
    /// The encoded bytes not written yet are `storage[..<pending]`; the rest is room (every
    /// element is initialised: the records are encoded into it in place).
    private var storage: [UInt8]
    /// How many encoded bytes wait for ``flush()``.
    private(set) var pending = 0
    /// How many encoded bytes `workqueue results` gathers before it writes them (unless it
    /// caught up or deletes).
    static let flushBytes = 1 << 20

    init(csv: Bool, sharded: Bool, descriptor: Int32 = 1, durable: Bool = false, name: String = "stdout") {
        self.csv = csv
        self.sharded = sharded
        self.descriptor = descriptor
        self.durable = durable
        self.name = name
        storage = [UInt8](repeating: 0, count: Self.flushBytes + (1 << 18))
    }

    /// The encoded bytes not written yet (a copy).
    var buffer: [UInt8] { Array(storage[..<pending]) }

    mutating func header() throws {
        put(sharded ? Self.shardedHeader : Self.header)
        try flush()
    }

    private static let header: StaticString = "id,time_ms,attempt,worker,item,result\n"
    private static let shardedHeader: StaticString = "id,time_ms,shard,attempt,worker,item,result\n"

    /// Appends one record; throws for a CSV record holding a NUL byte (nothing of it appended).
    mutating func append(_ entry: borrowing CompletionReader.Entry) throws {
        var id = entry.record.id
        var result = entry.record.result
        var worker = entry.record.worker
        let item = entry.record.item.bytes
        let attempt = entry.record.attempt
        let shard = entry.shard
        try id.withUTF8 { id in
            try result.withUTF8 { result in
                try worker.withUTF8 { worker in
                    try item.withUnsafeBytes { item in
                        try append(CompletionPage.RawRecord(id: UnsafeRawBufferPointer(id), item: item, itemIsText: false,
                                                            result: UnsafeRawBufferPointer(result), attempt: attempt,
                                                            worker: UnsafeRawBufferPointer(worker), shard: shard))
                    }
                }
            }
        }
    }

    /// Appends every record of `page`, written straight from the replies' bytes; throws for a
    /// CSV record holding a NUL byte (nothing of it appended).
    mutating func append(_ page: CompletionPage) throws {
        try page.withRecords { try append($0) }
    }

    /// Appends one record given as bytes: the item raw (text when
    /// ``CompletionPage/RawRecord/itemIsText``), the ID, result and worker as text, written as
    /// the `String`s a ``CompletionRecord`` holds would be (bytes that are not valid UTF-8
    /// repaired as `String(decoding:as:)` repairs them).
    mutating func append(_ record: CompletionPage.RawRecord) throws {
        if csv {
            try Self.withText(record.id) { id in
                try Self.withText(record.result) { result in
                    try Self.withText(record.worker) { worker in
                        try Self.withItem(record) { item in try appendCSV(id: id, item: item, result: result, worker: worker, record) }
                    }
                }
            }
        } else if !appendPlainJSON(record) {
            appendJSON(record)
        }
    }

    /// The JSON line of a record whose ID, item, result and worker are all printable ASCII
    /// without a quote or backslash, in one pass: false (nothing appended) for any other.
    private mutating func appendPlainJSON(_ record: CompletionPage.RawRecord) -> Bool {
        // The literals and three numbers take under 160 bytes; the text is copied as it is.
        reserve(160 + record.id.count + record.item.count + record.result.count + record.worker.count)
        let start = pending
        let sharded = sharded
        let end = storage.withUnsafeMutableBytes { out -> Int? in
            guard let base = out.baseAddress else { return nil }
            var cursor = base + start
            var plain = true
            Self.put(#"{"id":""#, &cursor)
            plain = Self.copyPlain(record.id, &cursor) && plain
            Self.put(#"","time_ms":"#, &cursor)
            Self.putMilliseconds(record.id, &cursor)
            if sharded {
                Self.put(#","shard":"#, &cursor)
                Self.putNumber(record.shard, &cursor)
            }
            Self.put(#","item":""#, &cursor)
            plain = Self.copyPlain(record.item, &cursor) && plain
            Self.put(#"","result":""#, &cursor)
            plain = Self.copyPlain(record.result, &cursor) && plain
            Self.put(#"","attempt":"#, &cursor)
            Self.putNumber(record.attempt, &cursor)
            Self.put(#","worker":""#, &cursor)
            plain = Self.copyPlain(record.worker, &cursor) && plain
            Self.put("\"}\n", &cursor)
            return plain ? cursor - base : nil
        }
        guard let end else { return false }
        pending = end
        return true
    }

    /// The JSON line of any record, field by field.
    private mutating func appendJSON(_ record: CompletionPage.RawRecord) {
        put(#"{"id":""#)
        Self.withText(record.id) { id in
            put(id)
            put(#"","time_ms":"#)
            appendNumber(Self.milliseconds(id))
        }
        if sharded {
            put(#","shard":"#)
            appendNumber(record.shard)
        }
        if record.itemIsText {
            Self.withText(record.item) { appendField("item", $0) }
        } else {
            appendField("item", record.item)
        }
        // A String is valid UTF-8: the result is always written as text.
        put(#","result":"#)
        Self.withText(record.result) { appendJSONString($0) }
        put(#","attempt":"#)
        appendNumber(record.attempt)
        put(#","worker":"#)
        Self.withText(record.worker) { appendJSONString($0) }
        put("}\n")
    }

    /// One CSV line of a record's fields (the text valid UTF-8, the item raw).
    private mutating func appendCSV(id: UnsafeRawBufferPointer, item: UnsafeRawBufferPointer, result: UnsafeRawBufferPointer,
                                    worker: UnsafeRawBufferPointer, _ record: CompletionPage.RawRecord) throws {
        // Many CSV readers end a cell (or the file) at a NUL: refused, never written raw.
        if item.contains(0) || result.contains(0) || worker.contains(0) {
            throw CommandError.csvNUL(recordID: String(decoding: id, as: UTF8.self))
        }
        put(id)
        put(UInt8(ascii: ","))
        appendNumber(Self.milliseconds(id))
        put(UInt8(ascii: ","))
        if sharded {
            appendNumber(record.shard)
            put(UInt8(ascii: ","))
        }
        appendNumber(record.attempt)
        put(UInt8(ascii: ","))
        appendCSV(worker)
        put(UInt8(ascii: ","))
        appendCSV(item)
        put(UInt8(ascii: ","))
        appendCSV(result)
        put(UInt8(ascii: "\n"))
    }

    /// `body` given `bytes` as the UTF-8 of the `String` they make (`String(decoding:as:)`):
    /// the bytes themselves when they are valid UTF-8, else repaired.
    static func withText<R>(_ bytes: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        if isValidUTF8(bytes) { return try body(bytes) }
        var text = String(decoding: bytes, as: UTF8.self)
        return try text.withUTF8 { try body(UnsafeRawBufferPointer($0)) }
    }

    /// `body` given the record's item bytes as a ``WorkItem`` holds them: raw, or its text
    /// repaired when it came as text.
    static func withItem<R>(_ record: CompletionPage.RawRecord, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        record.itemIsText ? try withText(record.item, body) : try body(record.item)
    }

    /// The time part of a record ID as ``CompletionRecord/milliseconds`` reads it.
    static func milliseconds(_ id: UnsafeRawBufferPointer) -> Int {
        var value = 0
        for byte in id {
            if byte == UInt8(ascii: "/") { value = 0; continue }
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { break }
            value = value &* 10 &+ Int(byte &- UInt8(ascii: "0"))
        }
        return value
    }

    // MARK: The buffer

    /// Room for `extra` more bytes after the pending ones.
    private mutating func reserve(_ extra: Int) {
        let missing = pending + extra - storage.count
        if missing > 0 { storage.append(contentsOf: repeatElement(0, count: Swift.max(missing, storage.count))) }
    }

    /// Appends bytes.
    private mutating func put(_ bytes: UnsafeRawBufferPointer) {
        reserve(bytes.count)
        let start = pending
        storage.withUnsafeMutableBytes { out in
            guard let source = bytes.baseAddress, let base = out.baseAddress else { return }
            (base + start).copyMemory(from: source, byteCount: bytes.count)
        }
        pending += bytes.count
    }

    /// Appends a literal's bytes.
    private mutating func put(_ literal: StaticString) {
        put(UnsafeRawBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

    /// Appends a byte.
    private mutating func put(_ byte: UInt8) {
        reserve(1)
        storage[pending] = byte
        pending += 1
    }

    /// Writes a literal's bytes at `cursor` (room known to be there) and moves it past them.
    private static func put(_ literal: StaticString, _ cursor: inout UnsafeMutableRawPointer) {
        cursor.copyMemory(from: literal.utf8Start, byteCount: literal.utf8CodeUnitCount)
        cursor += literal.utf8CodeUnitCount
    }

    /// Writes `value` in decimal at `cursor` (room known to be there) and moves it past it.
    private static func putNumber(_ value: Int, _ cursor: inout UnsafeMutableRawPointer) {
        if value >= 0 && value < 10 {
            cursor.storeBytes(of: UInt8(ascii: "0") + UInt8(value), as: UInt8.self)
            cursor += 1
            return
        }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0) // 24 bytes: enough for Int.min
        withUnsafeMutableBytes(of: &digits) { out in
            let count = RESPCommand.formatDecimal(value, into: out)
            if let base = out.baseAddress { cursor.copyMemory(from: base + (out.count - count), byteCount: count) }
            cursor += count
        }
    }

    /// Writes ``milliseconds(_:)`` of `id` at `cursor` (room known to be there) and moves it
    /// past it: the ID's leading digits as they are when they are that number's decimal form (1
    /// to 18 digits, no leading zero, not before a `/`), else formatted.
    private static func putMilliseconds(_ id: UnsafeRawBufferPointer, _ cursor: inout UnsafeMutableRawPointer) {
        var end = 0
        while end < id.count, end < 19, id[end] &- UInt8(ascii: "0") <= 9 { end += 1 }
        guard end > 0, end <= 18, end == 1 || id[0] != UInt8(ascii: "0"), end == id.count || id[end] != UInt8(ascii: "/"),
              let source = id.baseAddress else {
            putNumber(milliseconds(id), &cursor)
            return
        }
        cursor.copyMemory(from: source, byteCount: end)
        cursor += end
    }

    /// Copies `bytes` to `cursor` (room known to be there) and moves it past them; whether they
    /// are all printable ASCII without a quote or backslash, checked eight bytes at a time as
    /// they are copied.
    private static func copyPlain(_ bytes: UnsafeRawBufferPointer, _ cursor: inout UnsafeMutableRawPointer) -> Bool {
        guard let source = bytes.baseAddress else { return true }
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        var flagged: UInt64 = 0
        var index = 0
        while index + 8 <= bytes.count {
            let word = source.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            cursor.storeBytes(of: word, toByteOffset: index, as: UInt64.self)
            // A high bit, a byte under 0x20, or a byte equal to a quote, a backslash or DEL.
            let quote = word ^ (ones &* 0x22)
            let backslash = word ^ (ones &* 0x5C)
            let delete = word ^ (ones &* 0x7F)
            flagged |= word | ((word &- ones &* 0x20) & ~word) | ((quote &- ones) & ~quote)
                | ((backslash &- ones) & ~backslash) | ((delete &- ones) & ~delete)
            index += 8
        }
        var plain = flagged & highs == 0
        while index < bytes.count {
            let byte = source.load(fromByteOffset: index, as: UInt8.self)
            cursor.storeBytes(of: byte, toByteOffset: index, as: UInt8.self)
            plain = plain && byte >= 0x20 && byte < 0x7F && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\")
            index += 1
        }
        cursor += bytes.count
        return plain
    }

    // MARK: Field by field

    /// `,"name":"text"` for valid UTF-8, else `,"name_base64":"..."`.
    private mutating func appendField(_ name: StaticString, _ bytes: UnsafeRawBufferPointer) {
        put(#",""#)
        put(name)
        if Self.isValidUTF8(bytes) {
            put("\":")
            appendJSONString(bytes)
        } else {
            put("_base64\":\"")
            var base64 = Data(bytes).base64EncodedString()
            base64.withUTF8 { put(UnsafeRawBufferPointer($0)) }
            put(UInt8(ascii: "\""))
        }
    }

    /// `value` in decimal, formatted in place (the RESP encoder's digits).
    private mutating func appendNumber(_ value: Int) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0) // 24 bytes: enough for Int.min
        withUnsafeMutableBytes(of: &digits) { out in
            let count = RESPCommand.formatDecimal(value, into: out)
            put(UnsafeRawBufferPointer(rebasing: out[(out.count - count)...]))
        }
    }

    private static let hex = Array("0123456789abcdef".utf8)

    /// A JSON string of valid UTF-8 bytes: quote, backslash and control characters escaped.
    private mutating func appendJSONString(_ bytes: UnsafeRawBufferPointer) {
        put(UInt8(ascii: "\""))
        // Most text needs no escape: copied at once.
        if !Self.needsEscape(bytes) {
            put(bytes)
            put(UInt8(ascii: "\""))
            return
        }
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "\""): put(#"\""#)
            case UInt8(ascii: "\\"): put(#"\\"#)
            case UInt8(ascii: "\n"): put(#"\n"#)
            case UInt8(ascii: "\r"): put(#"\r"#)
            case UInt8(ascii: "\t"): put(#"\t"#)
            case 0..<0x20, 0x7F:
                put(#"\u00"#)
                put(Self.hex[Int(byte >> 4)])
                put(Self.hex[Int(byte & 0xF)])
            default: put(byte)
            }
        }
        put(UInt8(ascii: "\""))
    }

    /// A CSV field: as is, or quoted with quotes doubled when it holds a comma, quote, CR or LF.
    /// A field a spreadsheet would read as a formula (starting with `=`, `+`, `-`, `@`, a tab or
    /// a CR) gets a leading `'` and is quoted, so that it is shown as text, never evaluated.
    private mutating func appendCSV(_ bytes: UnsafeRawBufferPointer) {
        let neutralised = bytes.first.map(Self.startsFormula) ?? false
        let special = neutralised
            || bytes.contains { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == 10 || $0 == 13 }
        guard special else { put(bytes); return }
        put(UInt8(ascii: "\""))
        if neutralised { put(UInt8(ascii: "'")) }
        for byte in bytes {
            if byte == UInt8(ascii: "\"") { put(byte) }
            put(byte)
        }
        put(UInt8(ascii: "\""))
    }

    /// A first byte that makes spreadsheets (Excel, LibreOffice, Google Sheets) read the cell
    /// as a formula: `=`, `+`, `-`, `@`, tab, CR.
    static func startsFormula(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "=") || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "@")
            || byte == 0x09 || byte == 0x0D
    }

    /// Whether a byte of `bytes` is a quote, a backslash or a control character (what a JSON
    /// string escapes), eight bytes at a time.
    static func needsEscape(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        /// Whether a byte of `word` is zero.
        func hasZero(_ word: UInt64) -> Bool { (word &- ones) & ~word & highs != 0 }
        var index = 0
        if let raw = bytes.baseAddress {
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

    static func isValidUTF8(_ bytes: UnsafeRawBufferPointer) -> Bool {
        // ASCII (no high bit), eight bytes at a time.
        var ascii = true
        var index = 0
        if let raw = bytes.baseAddress {
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
        let pending = pending
        while offset < pending {
            let n = storage.withUnsafeBytes { raw in
                write(descriptor, raw.baseAddress.map { $0 + offset }, pending - offset)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw CommandError.output("writing the records to \(name) failed: \(String(cString: strerror(errno))); "
                    + "nothing unwritten was deleted")
            }
            offset += n
        }
        self.pending = 0
        if durable && fsync(descriptor) != 0 && errno != EINVAL {
            throw CommandError.output("making the records durable in \(name) failed (fsync): \(String(cString: strerror(errno))); "
                + "nothing unsynced was deleted")
        }
    }
}

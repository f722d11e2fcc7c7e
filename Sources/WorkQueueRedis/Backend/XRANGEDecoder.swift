import NIOCore
import WorkQueueSeam

/// Reads an `XRANGE` reply of completion records (`NAME:results`: entries of an ID and the
/// fields item, result, attempt, worker) straight from its wire bytes: no generic ``RESPValue``
/// tree is built, the bytes are walked once. It gives where each record's fields are in the
/// bytes (``RecordFields``, what `workqueue results` writes from, nothing copied) or
/// ``CompletionRecord``s (each field copied once, into the record).
///
/// The bytes come from ``RESPParser/nextToken()`` (a command marked
/// ``RESPCommand/wantsToken``), so they were already checked as RESP; the decoder checks them
/// again as it goes (any bytes are safe to give it) and throws ``Malformed`` for a reply that is
/// not of the expected shape. It reads every reply as ``completionRecords(_:)-(RESPValue)``, the
/// generic reading, does (the tests compare the two on random replies): the same records, or
/// an error from both.
package enum XRANGEDecoder {
    /// A reply that is not an `XRANGE` reply of completion records.
    package struct Malformed: Error, Sendable, CustomStringConvertible {
        package let description: String
        init(_ description: String) { self.description = description }
    }

    /// Where one record's fields are in a reply's bytes (offsets from its first byte), and its
    /// attempt: what ``CompletionPage`` keeps per record instead of copying the fields out.
    package struct RecordFields: Sendable {
        /// The ID's bytes (read as text: invalid UTF-8 repaired, as ``RESPValue/string`` does).
        package var id: Range<Int>
        /// The item's bytes (empty when the item was not a string).
        package var item: Range<Int>
        /// Whether the item came as a simple string: read as text (invalid UTF-8 repaired), not
        /// as raw bytes.
        package var itemIsText: Bool
        /// The result's bytes, read as text (empty when it was not a string).
        package var result: Range<Int>
        /// The worker's bytes, read as text (empty when it was not a string).
        package var worker: Range<Int>
        package var attempt: Int
    }

    /// The records of an `XRANGE` reply given as its wire form (one complete RESP value).
    package static func completionRecords(_ wire: ByteBuffer) throws(Malformed) -> [CompletionRecord] {
        let fields = try recordFields(wire)
        return wire.withUnsafeReadableBytes { bytes in fields.map { record($0, in: bytes) } }
    }

    /// Where the records of an `XRANGE` reply given as its wire form are in its bytes: read
    /// once, nothing copied.
    package static func recordFields(_ wire: ByteBuffer) throws(Malformed) -> [RecordFields] {
        let outcome = wire.withUnsafeReadableBytes { bytes -> Result<[RecordFields], Malformed> in
            var reader = Reader(bytes: bytes)
            do throws(Malformed) {
                let records = try reader.records()
                guard reader.index == bytes.count else { throw Malformed("\(bytes.count - reader.index) bytes after the reply") }
                return .success(records)
            } catch {
                return .failure(error)
            }
        }
        return try outcome.get()
    }

    /// The record whose fields are at `fields` in `bytes` (the reply they were read from).
    package static func record(_ fields: RecordFields, in bytes: UnsafeRawBufferPointer) -> CompletionRecord {
        func text(_ range: Range<Int>) -> String { String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self) }
        let item = fields.itemIsText ? WorkItem(Array(text(fields.item).utf8)) : WorkItem(Array(UnsafeRawBufferPointer(rebasing: bytes[fields.item])))
        return CompletionRecord(id: text(fields.id), item: item, result: text(fields.result), attempt: fields.attempt,
                                worker: text(fields.worker))
    }

    /// The records of an `XRANGE` reply parsed into generic values: the reference the wire
    /// decoder is held to.
    package static func completionRecords(_ reply: RESPValue) throws(Malformed) -> [CompletionRecord] {
        guard let entries = reply.array else { throw Malformed("not an array: \(reply)") }
        var records: [CompletionRecord] = []
        records.reserveCapacity(entries.count)
        for entry in entries {
            guard let parts = entry.array, parts.count == 2, let id = parts[0].string, let fields = parts[1].array else {
                throw Malformed("an entry is not an ID and its fields: \(entry)")
            }
            var record = CompletionRecord(id: id, item: WorkItem([]), result: "", attempt: 1, worker: "")
            // The field names differ in their first letter: item, result, attempt, worker.
            for index in stride(from: 0, to: fields.count - 1, by: 2) {
                switch fields[index].byteBuffer?.readableBytesView.first {
                case UInt8(ascii: "i"): record.item = WorkItem(fields[index + 1].bytes ?? [])
                case UInt8(ascii: "r"): record.result = fields[index + 1].string ?? ""
                case UInt8(ascii: "a"): record.attempt = fields[index + 1].int ?? 1
                case UInt8(ascii: "w"): record.worker = fields[index + 1].string ?? ""
                default: break
                }
            }
            records.append(record)
        }
        return records
    }

    /// One field name or value as read from the wire: where its bytes are, or what it was.
    private enum Field {
        /// A non-null bulk string's payload.
        case bulk(Range<Int>)
        /// A simple string's text.
        case simple(Range<Int>)
        case integer(Int)
        /// A null, an error, an array: none of the accessors reads anything from it.
        case other
    }

    /// A cursor over one reply's bytes.
    private struct Reader {
        let bytes: UnsafeRawBufferPointer
        var index = 0

        /// The records: an array of entries, each an array of an ID and an array of fields.
        mutating func records() throws(Malformed) -> [RecordFields] {
            let (type, line) = try header()
            guard type == UInt8(ascii: "*"), try number(line) >= 0 else {
                throw Malformed("not an array of entries")
            }
            let count = try number(line)
            var records: [RecordFields] = []
            records.reserveCapacity(Swift.min(count, 4096))
            for position in 0..<count {
                // Each header and bulk string is read at once when it is of the usual form
                // (``quickLength(_:)``, ``quickBulk()``), else as any RESP value: the same
                // outcome either way.
                guard try arrayLength() == 2 else {
                    throw Malformed("entry \(position) is not an array of an ID and its fields")
                }
                let id: Range<Int>
                if let range = quickBulk() {
                    id = range
                } else {
                    switch try field(depth: 2) {
                    case let .bulk(range), let .simple(range): id = range
                    default: throw Malformed("entry \(position) has no ID")
                    }
                }
                guard let count = try arrayLength(), count >= 0 else {
                    throw Malformed("entry \(text(id)) has no array of fields")
                }
                let none = index..<index
                var record = RecordFields(id: id, item: none, itemIsText: false, result: none, worker: none, attempt: 1)
                for _ in 0..<count / 2 {
                    let name = try quickField(depth: 3)
                    let value = try quickField(depth: 3)
                    // The field names differ in their first letter: item, result, attempt, worker.
                    switch firstByte(name) {
                    case UInt8(ascii: "i"):
                        switch value {
                        case let .bulk(range): (record.item, record.itemIsText) = (range, false)
                        case let .simple(range): (record.item, record.itemIsText) = (range, true)
                        default: (record.item, record.itemIsText) = (none, false)
                        }
                    case UInt8(ascii: "r"): record.result = string(value) ?? none
                    case UInt8(ascii: "a"): record.attempt = integer(value) ?? 1
                    case UInt8(ascii: "w"): record.worker = string(value) ?? none
                    default: break
                    }
                }
                if count % 2 == 1 { try skip(depth: 3) }
                records.append(record)
            }
            return records
        }

        /// The number of a header of type `type` at the cursor when it is `<type><1 to 18
        /// digits>CRLF`, moving past it; nil (the cursor unmoved) for any other bytes.
        mutating func quickLength(_ type: UInt8) -> Int? {
            guard index < bytes.count, bytes[index] == type else { return nil }
            let start = index + 1
            var end = start
            var value = 0
            let limit = Swift.min(bytes.count, start + 18)
            while end < limit {
                let digit = bytes[end] &- UInt8(ascii: "0")
                guard digit <= 9 else { break }
                value = value &* 10 &+ Int(digit)
                end += 1
            }
            guard end > start, end + 1 < bytes.count, bytes[end] == 13, bytes[end + 1] == 10 else { return nil }
            index = end + 2
            return value
        }

        /// The payload of a bulk string at the cursor when its header is of the usual form
        /// (``quickLength(_:)``) and its payload and CRLF follow, moving past it; nil (the
        /// cursor unmoved) for any other bytes.
        mutating func quickBulk() -> Range<Int>? {
            let start = index
            guard let length = quickLength(UInt8(ascii: "$")) else { return nil }
            guard length <= bytes.count - index - 2, bytes[index + length] == 13, bytes[index + length + 1] == 10 else {
                index = start
                return nil
            }
            defer { index += length + 2 }
            return index..<index + length
        }

        /// The length of an array header at the cursor (nil for another type); moves past it.
        mutating func arrayLength() throws(Malformed) -> Int? {
            if let length = quickLength(UInt8(ascii: "*")) { return length }
            return try header(UInt8(ascii: "*"))
        }

        /// One value, read as a field: ``quickBulk()`` or ``field(depth:)``.
        mutating func quickField(depth: Int) throws(Malformed) -> Field {
            if let range = quickBulk() { return .bulk(range) }
            return try field(depth: depth)
        }

        /// The number of a header of type `type` at the cursor (nil for another type), as the
        /// generic reading reads it; moves past it.
        mutating func header(_ type: UInt8) throws(Malformed) -> Int? {
            let (found, line) = try header()
            guard found == type else { return nil }
            return try number(line)
        }

        /// A type byte and the range of the line after it; moves past its CRLF.
        mutating func header() throws(Malformed) -> (UInt8, Range<Int>) {
            guard index < bytes.count else { throw Malformed("the reply ends early") }
            let type = bytes[index]
            let start = index + 1
            var end = start
            while end < bytes.count, bytes[end] != 13 { end += 1 }
            guard end + 1 < bytes.count, bytes[end + 1] == 10 else { throw Malformed("a line without CRLF") }
            index = end + 2
            return (type, start..<end)
        }

        /// A decimal line (at most 20 characters) as RESP reads it; throws for anything else.
        func number(_ line: Range<Int>) throws(Malformed) -> Int {
            guard line.count <= 20, let value = RESPParser.decimal(UnsafeRawBufferPointer(rebasing: bytes[line])) else {
                throw Malformed("a length or integer is not a number")
            }
            return value
        }

        /// A bulk payload of `length` bytes at the cursor; moves past its CRLF.
        mutating func payload(_ length: Int) throws(Malformed) -> Range<Int> {
            guard length >= 0, length <= bytes.count - index - 2,
                  bytes[index + length] == 13, bytes[index + length + 1] == 10 else {
                throw Malformed("a bulk string is cut short or not followed by CRLF")
            }
            defer { index += length + 2 }
            return index..<index + length
        }

        /// One value, read as a field (an array is skipped whole).
        mutating func field(depth: Int) throws(Malformed) -> Field {
            let (type, line) = try header()
            switch type {
            case UInt8(ascii: "$"):
                let length = try number(line)
                guard length != -1 else { return .other }
                return .bulk(try payload(length))
            case UInt8(ascii: "+"):
                return .simple(line)
            case UInt8(ascii: "-"):
                return .other
            case UInt8(ascii: ":"):
                return .integer(try number(line))
            case UInt8(ascii: "*"):
                let count = try number(line)
                guard count >= -1 else { throw Malformed("a negative array length") }
                try skipElements(count, depth: depth + 1)
                return .other
            default:
                throw Malformed("an unexpected type byte 0x\(String(type, radix: 16))")
            }
        }

        /// Skips one value.
        mutating func skip(depth: Int) throws(Malformed) {
            _ = try field(depth: depth)
        }

        /// Skips `count` elements of an array at `depth` (bounded as RESP bounds nesting).
        mutating func skipElements(_ count: Int, depth: Int) throws(Malformed) {
            guard count > 0 else { return }
            guard depth <= RESPParser.maxDepth else { throw Malformed("arrays nested too deep") }
            // Each element takes at least 3 bytes: a count beyond what is left is cut short.
            guard count <= (bytes.count - index) / 3 else { throw Malformed("the reply ends early") }
            for _ in 0..<count { try skip(depth: depth) }
        }

        /// The bytes as text (invalid UTF-8 repaired, as ``RESPValue/string`` does).
        func text(_ range: Range<Int>) -> String {
            String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self)
        }

        /// The first byte of a field name (what ``RESPValue/byteBuffer`` gives), nil otherwise.
        func firstByte(_ field: Field) -> UInt8? {
            switch field {
            case let .bulk(range), let .simple(range): range.isEmpty ? nil : bytes[range.lowerBound]
            case .integer, .other: nil
            }
        }

        /// Where the text ``RESPValue/string`` reads from a value is; nil when it gives nil.
        func string(_ field: Field) -> Range<Int>? {
            switch field {
            case let .bulk(range), let .simple(range): range
            case .integer, .other: nil
            }
        }

        /// A value as ``RESPValue/int`` reads it.
        func integer(_ field: Field) -> Int? {
            switch field {
            case let .integer(value): value
            case let .bulk(range): range.count <= 20 ? RESPParser.decimal(UnsafeRawBufferPointer(rebasing: bytes[range])) : nil
            case let .simple(range): Int(text(range))
            case .other: nil
            }
        }
    }
}

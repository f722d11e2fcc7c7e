import NIOCore
import WorkQueueSeam

/// Reads an `XRANGE` reply of completion records (`NAME:results`: entries of an ID and the
/// fields item, result, attempt, worker) straight from its wire bytes into
/// ``CompletionRecord``s: no generic ``RESPValue`` tree is built, the bytes are walked once and
/// each field is copied once, into the record.
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

    /// The records of an `XRANGE` reply given as its wire form (one complete RESP value).
    package static func completionRecords(_ wire: ByteBuffer) throws(Malformed) -> [CompletionRecord] {
        try completionRecords(wire) { $0 }
    }

    /// The records of an `XRANGE` reply given as its wire form, each handed to `make` as it is
    /// read (moved, not copied, into what `make` returns).
    package static func completionRecords<Element>(_ wire: ByteBuffer, _ make: (consuming CompletionRecord) -> Element)
        throws(Malformed) -> [Element] {
        let outcome = wire.withUnsafeReadableBytes { bytes -> Result<[Element], Malformed> in
            var reader = Reader(bytes: bytes)
            do throws(Malformed) {
                let records = try reader.records(make)
                guard reader.index == bytes.count else { throw Malformed("\(bytes.count - reader.index) bytes after the reply") }
                return .success(records)
            } catch {
                return .failure(error)
            }
        }
        return try outcome.get()
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
        mutating func records<Element>(_ make: (consuming CompletionRecord) -> Element) throws(Malformed) -> [Element] {
            let (type, line) = try header()
            guard type == UInt8(ascii: "*"), try number(line) >= 0 else {
                throw Malformed("not an array of entries")
            }
            let count = try number(line)
            var records: [Element] = []
            records.reserveCapacity(Swift.min(count, 4096))
            for position in 0..<count {
                let (entryType, entryLine) = try header()
                guard entryType == UInt8(ascii: "*"), try number(entryLine) == 2 else {
                    throw Malformed("entry \(position) is not an array of an ID and its fields")
                }
                let id: String
                switch try field(depth: 2) {
                case let .bulk(range), let .simple(range): id = text(range)
                default: throw Malformed("entry \(position) has no ID")
                }
                let (fieldsType, fieldsLine) = try header()
                guard fieldsType == UInt8(ascii: "*"), try number(fieldsLine) >= 0 else {
                    throw Malformed("entry \(id) has no array of fields")
                }
                let count = try number(fieldsLine)
                var record = CompletionRecord(id: id, item: WorkItem([]), result: "", attempt: 1, worker: "")
                for _ in 0..<count / 2 {
                    let name = try field(depth: 3)
                    let value = try field(depth: 3)
                    // The field names differ in their first letter: item, result, attempt, worker.
                    switch firstByte(name) {
                    case UInt8(ascii: "i"):
                        switch value {
                        case let .bulk(range): record.item = WorkItem(Array(UnsafeRawBufferPointer(rebasing: bytes[range])))
                        case let .simple(range): record.item = WorkItem(Array(text(range).utf8))
                        default: record.item = WorkItem([])
                        }
                    case UInt8(ascii: "r"): record.result = string(value)
                    case UInt8(ascii: "a"): record.attempt = integer(value) ?? 1
                    case UInt8(ascii: "w"): record.worker = string(value)
                    default: break
                    }
                }
                if count % 2 == 1 { try skip(depth: 3) }
                records.append(make(record))
            }
            return records
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

        /// A value as ``RESPValue/string`` reads it, "" when it gives nil.
        func string(_ field: Field) -> String {
            switch field {
            case let .bulk(range), let .simple(range): text(range)
            case .integer, .other: ""
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

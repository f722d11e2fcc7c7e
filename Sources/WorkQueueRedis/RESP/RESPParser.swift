/// Why a RESP stream was rejected. The connection that produced it should be closed.
public enum RESPParseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A value started with a byte that is not a RESP2 type marker.
    case invalidTypeByte(UInt8)
    /// A length or integer line was not a decimal integer.
    case invalidInteger(String)
    /// A length was negative (other than -1 for null) or above the cap.
    case invalidLength(Int)
    /// A bulk string's payload was not followed by CRLF, or a line had a bare CR.
    case missingCRLF
    /// A line (simple string, error, integer, length) grew past the cap without a CRLF.
    case lineTooLong
    /// Arrays were nested deeper than the cap.
    case nestingTooDeep

    public var description: String {
        switch self {
        case let .invalidTypeByte(byte): "RESP: unexpected type byte 0x\(String(byte, radix: 16))"
        case let .invalidInteger(text): "RESP: '\(text)' is not an integer"
        case let .invalidLength(length): "RESP: invalid length \(length)"
        case .missingCRLF: "RESP: missing CRLF"
        case .lineTooLong: "RESP: line too long"
        case .nestingTooDeep: "RESP: arrays nested too deep"
        }
    }
}

/// An incremental RESP2 parser: feed it arbitrary chunks, take complete values out.
///
/// A plain value type: it buffers bytes and parses only complete values, so a value split at
/// any byte decodes exactly as if it arrived whole. Strict: it rejects unknown type bytes,
/// malformed or absurd lengths, missing CRLFs and deep nesting with a ``RESPParseError``.
public struct RESPParser: Sendable {
    /// The largest bulk string accepted (Redis's own limit: 512 MiB).
    public static let maxBulkLength = 512 * 1024 * 1024
    /// The largest array element count accepted.
    public static let maxArrayCount = 1 << 24
    /// The deepest array nesting accepted.
    public static let maxDepth = 32
    /// The longest line (without CRLF) accepted.
    public static let maxLineLength = 64 * 1024

    private var buffer: [UInt8] = []
    private var readIndex = 0

    public init() {}

    /// Bytes received but not yet part of a returned value.
    public var bufferedByteCount: Int { buffer.count - readIndex }

    /// Appends received bytes.
    public mutating func feed<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        if readIndex > 0 && readIndex >= buffer.count / 2 {
            buffer.removeFirst(readIndex)
            readIndex = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete value, or nil when more bytes are needed.
    public mutating func next() throws(RESPParseError) -> RESPValue? {
        var index = readIndex
        guard let value = try parse(at: &index, depth: 0) else { return nil }
        readIndex = index
        return value
    }

    /// Every complete value buffered so far.
    public mutating func drain() throws(RESPParseError) -> [RESPValue] {
        var values: [RESPValue] = []
        while let value = try next() { values.append(value) }
        return values
    }

    private func parse(at index: inout Int, depth: Int) throws(RESPParseError) -> RESPValue? {
        guard index < buffer.count else { return nil }
        let type = buffer[index]
        var cursor = index + 1
        switch type {
        case UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: ":"), UInt8(ascii: "$"), UInt8(ascii: "*"):
            break
        default:
            throw .invalidTypeByte(type)
        }
        guard let line = try readLine(at: &cursor) else { return nil }
        switch type {
        case UInt8(ascii: "+"):
            index = cursor
            return .simpleString(String(decoding: line, as: UTF8.self))
        case UInt8(ascii: "-"):
            index = cursor
            return .error(String(decoding: line, as: UTF8.self))
        case UInt8(ascii: ":"):
            index = cursor
            return .integer(try integer(line))
        case UInt8(ascii: "$"):
            let length = try integer(line)
            if length == -1 { index = cursor; return .bulkString(nil) }
            guard length >= 0, length <= Self.maxBulkLength else { throw .invalidLength(length) }
            guard buffer.count - cursor >= length + 2 else {
                // Reject a wrong terminator as soon as it is visible.
                if buffer.count - cursor > length, buffer[cursor + length] != 13 { throw .missingCRLF }
                return nil
            }
            guard buffer[cursor + length] == 13, buffer[cursor + length + 1] == 10 else { throw .missingCRLF }
            let payload = Array(buffer[cursor..<cursor + length])
            index = cursor + length + 2
            return .bulkString(payload)
        default:
            let count = try integer(line)
            if count == -1 { index = cursor; return .array(nil) }
            guard count >= 0, count <= Self.maxArrayCount else { throw .invalidLength(count) }
            guard depth < Self.maxDepth else { throw .nestingTooDeep }
            var elements: [RESPValue] = []
            elements.reserveCapacity(min(count, 1024))
            for _ in 0..<count {
                guard let element = try parse(at: &cursor, depth: depth + 1) else { return nil }
                elements.append(element)
            }
            index = cursor
            return .array(elements)
        }
    }

    /// The bytes up to the next CRLF (cursor moved past it), nil if incomplete.
    private func readLine(at cursor: inout Int) throws(RESPParseError) -> ArraySlice<UInt8>? {
        var end = cursor
        while end < buffer.count {
            if buffer[end] == 13 {
                guard end + 1 < buffer.count else { return nil }
                guard buffer[end + 1] == 10 else { throw .missingCRLF }
                let line = buffer[cursor..<end]
                cursor = end + 2
                return line
            }
            if buffer[end] == 10 { throw .missingCRLF }
            end += 1
            if end - cursor > Self.maxLineLength { throw .lineTooLong }
        }
        return nil
    }

    private func integer(_ line: ArraySlice<UInt8>) throws(RESPParseError) -> Int {
        let text = String(decoding: line, as: UTF8.self)
        guard line.count <= 20, let value = Int(text) else { throw .invalidInteger(String(text.prefix(32))) }
        return value
    }
}

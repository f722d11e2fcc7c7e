/// Finds where one complete RESP2 value ends, without building it: the validating half of
/// ``RESPParser/nextToken()``, for replies that a decoder of their own reads straight from the
/// wire bytes (``XRANGEDecoder``).
///
/// It checks exactly what ``RESPParser/next()`` checks (type bytes, decimal lengths and
/// integers, the length and count caps, CRLF after every line and bulk payload, line length,
/// nesting depth) and throws the same ``RESPParseError``s, so a reply is accepted or rejected
/// alike whichever way it is read. Nothing is consumed until the value is complete: the scan
/// works on offsets from the buffer's reader index and resumes where the last read stopped
/// (open arrays are counts on a stack, a bulk string's header is read once, a line's scan goes
/// on from where it stopped), so a large reply arriving in small reads costs time linear in its
/// size, and bulk payloads are never examined.
struct RESPTokenScanner: Sendable {
    /// Offset (from the reader index) of the next byte of the value to examine.
    private var cursor = 0
    /// How many arrays are open.
    private var depth = 0
    /// Elements the innermost open array still expects (when ``depth`` > 0).
    private var innermost = 0
    /// Per open array but the innermost, outermost first: elements still expected.
    private var outer: [Int] = []
    /// The payload length of a bulk string whose header was read.
    private var pendingBulkLength: Int?
    /// Offset up to which the current line was already scanned without a CRLF (0: none).
    private var lineScanned = 0

    /// Whether a value is partly scanned.
    var isStarted: Bool { cursor > 0 }

    enum Outcome {
        /// The value is this many bytes long.
        case complete(Int)
        case incomplete
        case failed(RESPParseError)
    }

    /// Scans `bytes` (the buffer's readable bytes, starting with the value) on from where the
    /// last call stopped; adds the bytes examined one by one to `scanned`. After `.complete` or
    /// `.failed` the scanner is ready for the next value.
    mutating func scan(_ bytes: UnsafeRawBufferPointer, scanned: inout Int) -> Outcome {
        let outcome = step(bytes, scanned: &scanned)
        switch outcome {
        case .complete, .failed: self = RESPTokenScanner()
        case .incomplete: break
        }
        return outcome
    }

    private mutating func step(_ bytes: UnsafeRawBufferPointer, scanned: inout Int) -> Outcome {
        let count = bytes.count
        while true {
            if let length = pendingBulkLength {
                let end = cursor + length
                guard count >= end + 2 else {
                    // A wrong terminator is rejected as soon as it is visible.
                    if count > end {
                        scanned += 1
                        if bytes[end] != 13 { return .failed(.missingCRLF) }
                    }
                    return .incomplete
                }
                scanned += 2
                guard bytes[end] == 13, bytes[end + 1] == 10 else { return .failed(.missingCRLF) }
                cursor = end + 2
                pendingBulkLength = nil
                if elementDone() { return .complete(cursor) }
                continue
            }
            guard cursor < count else { return .incomplete }
            let type = bytes[cursor]
            switch type {
            case UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: ":"), UInt8(ascii: "$"), UInt8(ascii: "*"):
                break
            default:
                return .failed(.invalidTypeByte(type))
            }
            // The line after the type byte, up to its CRLF.
            let lineStart = cursor + 1
            var lineEnd = -1
            // The common line, a few digits and CRLF all there, read as its number at once;
            // any other is scanned below (and its number read from it).
            var digitsValue: Int?
            if lineScanned == 0 {
                var index = lineStart
                var value = 0
                let limit = Swift.min(count, lineStart + 18)
                while index < limit {
                    let digit = bytes[index] &- UInt8(ascii: "0")
                    guard digit <= 9 else { break }
                    value = value &* 10 &+ Int(digit)
                    index += 1
                }
                if index > lineStart, index + 1 < count, bytes[index] == 13, bytes[index + 1] == 10 {
                    lineEnd = index
                    digitsValue = value
                    scanned += lineEnd + 2 - lineStart
                }
            }
            if lineEnd < 0 {
                var index = Swift.max(lineStart, lineScanned)
                let scanStart = index
                while index < count {
                    let byte = bytes[index]
                    if byte == 13 {
                        guard index + 1 < count else { break }
                        guard bytes[index + 1] == 10 else { return .failed(.missingCRLF) }
                        lineEnd = index
                        break
                    }
                    if byte == 10 { return .failed(.missingCRLF) }
                    index += 1
                    if index - 1 - cursor > RESPParser.maxLineLength { return .failed(.lineTooLong) }
                }
                guard lineEnd >= 0 else {
                    scanned += index - scanStart
                    lineScanned = index
                    return .incomplete
                }
                scanned += lineEnd + 2 - scanStart
                lineScanned = 0
            }
            let line = UnsafeRawBufferPointer(rebasing: bytes[lineStart..<lineEnd])
            let next = lineEnd + 2
            switch type {
            case UInt8(ascii: "+"), UInt8(ascii: "-"):
                cursor = next
            case UInt8(ascii: ":"):
                guard digitsValue ?? Self.integer(line) != nil else { return .failed(Self.invalidInteger(line)) }
                cursor = next
            case UInt8(ascii: "$"):
                guard let length = digitsValue ?? Self.integer(line) else { return .failed(Self.invalidInteger(line)) }
                cursor = next
                if length != -1 {
                    guard length >= 0, length <= RESPParser.maxBulkLength else { return .failed(.invalidLength(length)) }
                    pendingBulkLength = length
                    continue
                }
            default:
                guard let elements = digitsValue ?? Self.integer(line) else { return .failed(Self.invalidInteger(line)) }
                if elements != -1 {
                    guard elements >= 0, elements <= RESPParser.maxArrayCount else { return .failed(.invalidLength(elements)) }
                    guard depth < RESPParser.maxDepth else { return .failed(.nestingTooDeep) }
                    cursor = next
                    if elements > 0 {
                        if depth > 0 { outer.append(innermost) }
                        innermost = elements
                        depth += 1
                        continue
                    }
                } else {
                    cursor = next
                }
            }
            if elementDone() { return .complete(cursor) }
        }
    }

    /// One element finished: counts it in the arrays waiting for it; true when that completed
    /// the outermost value.
    private mutating func elementDone() -> Bool {
        while depth > 0 {
            innermost -= 1
            if innermost > 0 { return false }
            depth -= 1
            innermost = outer.popLast() ?? 0
        }
        return true
    }

    /// A decimal integer line as ``RESPParser`` reads it (at most 20 characters).
    static func integer(_ line: UnsafeRawBufferPointer) -> Int? {
        line.count <= 20 ? RESPParser.decimal(line) : nil
    }

    static func invalidInteger(_ line: UnsafeRawBufferPointer) -> RESPParseError {
        .invalidInteger(String(decoding: line.prefix(32), as: UTF8.self))
    }
}

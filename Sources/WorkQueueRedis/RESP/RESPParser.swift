import NIOCore

/// An incremental RESP2 parser: feed it arbitrary chunks, take complete values out.
///
/// It accumulates reads in one `ByteBuffer` and hands bulk strings out as slices of it (no
/// copy). It never goes back over bytes it has examined: a line's scan resumes where the last
/// read stopped, a bulk string's header is consumed once and only its length is remembered, and
/// arrays under construction are kept on a stack. So a large reply arriving in small reads
/// costs time linear in its size. Strict: it rejects unknown type bytes, malformed or absurd
/// lengths, missing CRLFs, long lines, deep nesting and more than ``maxBufferedBytes`` held for
/// unfinished replies with a ``RESPParseError``; after an error every call rethrows it.
package struct RESPParser: Sendable {
    /// The largest bulk string accepted (Redis's own limit: 512 MiB).
    public static let maxBulkLength = 512 * 1024 * 1024
    /// The largest array element count accepted.
    public static let maxArrayCount = 1 << 24
    /// The deepest array nesting accepted.
    public static let maxDepth = 32
    /// The longest line (without CRLF) accepted.
    public static let maxLineLength = 64 * 1024
    /// The default cap on bytes held for unfinished replies: the largest bulk string plus a margin.
    public static let defaultMaxBufferedBytes = maxBulkLength + 1024 * 1024

    /// An array whose elements are still arriving.
    private struct Frame: Sendable {
        var remaining: Int
        var elements: [RESPValue]
    }

    /// The cap on bytes held for unfinished replies (the current value's consumed part plus
    /// everything buffered behind it).
    public let maxBufferedBytes: Int
    private var buffer: ByteBuffer
    /// Arrays being filled, innermost last.
    private var stack: [Frame] = []
    /// The payload length of a bulk string whose header was consumed.
    private var pendingBulkLength: Int?
    /// How far past the reader index the current line was already scanned without a CRLF.
    private var lineScanned = 0
    /// Bytes consumed for the top-level value under construction.
    private var consumedInValue = 0
    private var failure: RESPParseError?
    /// The scan of a value being read whole by ``nextToken()``.
    private var tokenScanner = RESPTokenScanner()

    /// Bytes examined one by one (line scans and terminators); bulk payloads are not scanned.
    /// For tests: it grows linearly with the input, however it is split.
    package private(set) var scannedByteCount = 0

    public init(maxBufferedBytes: Int = RESPParser.defaultMaxBufferedBytes) {
        self.maxBufferedBytes = maxBufferedBytes
        buffer = ByteBuffer()
    }

    /// Bytes received but not yet part of a returned value or of the value under construction.
    public var bufferedByteCount: Int { buffer.readableBytes }

    /// Appends a received buffer (taken as it is when nothing else is buffered).
    public mutating func feed(_ incoming: ByteBuffer) {
        guard failure == nil else { return }
        if buffer.readableBytes == 0 {
            buffer = incoming
        } else {
            var incoming = incoming
            // Moving the unread tail to the front costs at most what was consumed before it.
            if buffer.readerIndex > 0 && buffer.readerIndex >= buffer.readableBytes { buffer.discardReadBytes() }
            buffer.writeBuffer(&incoming)
        }
        checkCap()
    }

    /// Appends received bytes (copied).
    public mutating func feed<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        guard failure == nil else { return }
        if buffer.readerIndex > 0 && buffer.readerIndex >= buffer.readableBytes { buffer.discardReadBytes() }
        buffer.writeBytes(bytes)
        checkCap()
    }

    private mutating func checkCap() {
        if consumedInValue + buffer.readableBytes > maxBufferedBytes {
            failure = .tooMuchBuffered(maxBufferedBytes)
            buffer = ByteBuffer()
            stack = []
        }
    }

    /// The next complete value, or nil when more bytes are needed.
    public mutating func next() throws(RESPParseError) -> RESPValue? {
        if let failure { throw failure }
        // A value ``nextToken()`` began is read again from its start (nothing of it was consumed).
        if tokenScanner.isStarted { tokenScanner = RESPTokenScanner() }
        do {
            return try parseNext()
        } catch {
            failure = error
            buffer = ByteBuffer()
            stack = []
            throw error
        }
    }

    /// The next complete value undecoded: its whole wire form as one bulk string (a slice of
    /// the reads, no copy), or nil when more bytes are needed. An error reply is returned as
    /// ``RESPValue/error(_:)`` as ``next()`` returns it. The bytes are checked exactly as
    /// ``next()`` checks them (same caps, same ``RESPParseError``s) but no value is built: a
    /// decoder of its own reads them (``XRANGEDecoder``). Used for a command marked
    /// ``RESPCommand/wantsToken``; a value ``next()`` already began is finished by it.
    public mutating func nextToken() throws(RESPParseError) -> RESPValue? {
        if let failure { throw failure }
        if !stack.isEmpty || pendingBulkLength != nil || consumedInValue > 0 || lineScanned > 0 { return try next() }
        var scanned = 0
        var scanner = tokenScanner
        tokenScanner = RESPTokenScanner() // not a copy-on-write of its stack
        let outcome = buffer.withUnsafeReadableBytes { scanner.scan($0, scanned: &scanned) }
        tokenScanner = scanner
        scannedByteCount += scanned
        switch outcome {
        case .incomplete:
            return nil
        case let .failed(error):
            failure = error
            buffer = ByteBuffer()
            stack = []
            throw error
        case let .complete(length):
            guard let token = buffer.readSlice(length: length) else { return nil }
            if token.getInteger(at: token.readerIndex, as: UInt8.self) == UInt8(ascii: "-") {
                return .error(token.getString(at: token.readerIndex + 1, length: length - 3) ?? "")
            }
            return .bulkString(token)
        }
    }

    /// Every complete value buffered so far.
    public mutating func drain() throws(RESPParseError) -> [RESPValue] {
        var values: [RESPValue] = []
        while let value = try next() { values.append(value) }
        return values
    }

    private mutating func parseNext() throws(RESPParseError) -> RESPValue? {
        while true {
            var value: RESPValue
            if let length = pendingBulkLength {
                guard buffer.readableBytes >= length + 2 else {
                    // Reject a wrong terminator as soon as it is visible.
                    if buffer.readableBytes > length {
                        scannedByteCount += 1
                        if buffer.getInteger(at: buffer.readerIndex + length, as: UInt8.self) != 13 { throw .missingCRLF }
                    }
                    return nil
                }
                scannedByteCount += 2
                guard buffer.getInteger(at: buffer.readerIndex + length, as: UInt16.self) == 0x0D0A else { throw .missingCRLF }
                guard let payload = buffer.readSlice(length: length) else { return nil }
                buffer.moveReaderIndex(forwardBy: 2)
                consumedInValue += length + 2
                pendingBulkLength = nil
                value = .bulkString(payload)
            } else {
                guard let type = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return nil }
                switch type {
                case UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: ":"), UInt8(ascii: "$"), UInt8(ascii: "*"):
                    break
                default:
                    throw .invalidTypeByte(type)
                }
                guard let lineLength = try scanLine() else { return nil }
                // The line without its type byte and CRLF.
                let lineStart = buffer.readerIndex + 1
                let consumed = lineLength + 3
                switch type {
                case UInt8(ascii: "+"), UInt8(ascii: "-"):
                    let text = buffer.getString(at: lineStart, length: lineLength) ?? ""
                    value = type == UInt8(ascii: "+") ? .simpleString(text) : .error(text)
                    consume(consumed)
                case UInt8(ascii: ":"):
                    value = .integer(try integer(at: lineStart, length: lineLength))
                    consume(consumed)
                case UInt8(ascii: "$"):
                    let length = try integer(at: lineStart, length: lineLength)
                    consume(consumed)
                    if length == -1 {
                        value = .bulkString(nil)
                    } else {
                        guard length >= 0, length <= Self.maxBulkLength else { throw .invalidLength(length) }
                        pendingBulkLength = length
                        continue
                    }
                default:
                    let count = try integer(at: lineStart, length: lineLength)
                    if count == -1 {
                        consume(consumed)
                        value = .array(nil)
                    } else {
                        guard count >= 0, count <= Self.maxArrayCount else { throw .invalidLength(count) }
                        guard stack.count < Self.maxDepth else { throw .nestingTooDeep }
                        consume(consumed)
                        if count == 0 {
                            value = .array([])
                        } else {
                            var elements: [RESPValue] = []
                            elements.reserveCapacity(min(count, 1024))
                            stack.append(Frame(remaining: count, elements: elements))
                            continue
                        }
                    }
                }
            }
            // Hand the value to the arrays waiting for it; return it once it completes the outermost.
            while var frame = stack.popLast() {
                frame.elements.append(value)
                frame.remaining -= 1
                if frame.remaining > 0 {
                    stack.append(frame)
                    break
                }
                value = .array(frame.elements)
            }
            if stack.isEmpty {
                consumedInValue = 0
                return value
            }
        }
    }

    private mutating func consume(_ count: Int) {
        buffer.moveReaderIndex(forwardBy: count)
        consumedInValue += count
        lineScanned = 0
    }

    private enum LineScan {
        case found(Int)
        case incomplete(scanned: Int)
        case failed(RESPParseError)
    }

    /// The length of the line after the type byte up to its CRLF, nil if the CRLF has not
    /// arrived (the scan then resumes where it stopped on the next call).
    private mutating func scanLine() throws(RESPParseError) -> Int? {
        let start = max(1, lineScanned)
        let result = buffer.withUnsafeReadableBytes { bytes -> LineScan in
            var index = start
            while index < bytes.count {
                let byte = bytes[index]
                if byte == 13 {
                    guard index + 1 < bytes.count else { return .incomplete(scanned: index) }
                    guard bytes[index + 1] == 10 else { return .failed(.missingCRLF) }
                    return .found(index - 1)
                }
                if byte == 10 { return .failed(.missingCRLF) }
                index += 1
                if index - 1 > Self.maxLineLength { return .failed(.lineTooLong) }
            }
            return .incomplete(scanned: index)
        }
        switch result {
        case let .found(length):
            scannedByteCount += length + 3 - start
            return length
        case let .incomplete(scanned):
            scannedByteCount += scanned - start
            lineScanned = scanned
            return nil
        case let .failed(error):
            throw error
        }
    }

    private func integer(at index: Int, length: Int) throws(RESPParseError) -> Int {
        guard length <= 20, let view = buffer.viewBytes(at: index, length: length), let value = Self.decimal(view) else {
            let text = buffer.getString(at: index, length: min(length, 32)) ?? ""
            throw .invalidInteger(text)
        }
        return value
    }

    /// A decimal integer with an optional sign (as `Int(String)` reads it), nil otherwise.
    static func decimal(_ digits: UnsafeRawBufferPointer) -> Int? {
        // The common case, up to 18 digits and no sign (no overflow possible), in one loop.
        guard !digits.isEmpty, digits.count <= 18 else { return decimal(digits[...]) }
        var value = 0
        for byte in digits {
            let digit = byte &- UInt8(ascii: "0")
            guard digit <= 9 else { return decimal(digits[...]) }
            value = value &* 10 &+ Int(digit)
        }
        return value
    }

    /// ``decimal(_:)-(UnsafeRawBufferPointer)`` of any collection of bytes.
    static func decimal<Digits: Collection<UInt8>>(_ digits: Digits) -> Int? {
        var index = digits.startIndex
        guard index != digits.endIndex else { return nil }
        var negative = false
        if digits[index] == UInt8(ascii: "-") || digits[index] == UInt8(ascii: "+") {
            negative = digits[index] == UInt8(ascii: "-")
            index = digits.index(after: index)
            guard index != digits.endIndex else { return nil }
        }
        var value = 0
        while index != digits.endIndex {
            let digit = Int(digits[index]) - 48
            guard digit >= 0, digit <= 9 else { return nil }
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (next, overflow2) = negative ? times10.subtractingReportingOverflow(digit) : times10.addingReportingOverflow(digit)
            guard !overflow1, !overflow2 else { return nil }
            value = next
            index = digits.index(after: index)
        }
        return value
    }
}

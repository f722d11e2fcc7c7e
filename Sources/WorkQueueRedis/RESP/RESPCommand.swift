import NIOCore

/// One Redis command encoded as it goes on the wire (a RESP array of bulk strings), built
/// argument by argument straight into a `ByteBuffer`:
///
/// ```swift
/// var command = RESPCommand(capacity: 128)
/// command.append("EVALSHA")
/// command.append(sha)
/// command.append(2)
/// command.append(bytes: payload)
/// ```
///
/// The buffer starts with room for the array header, which is rewritten (right-aligned in
/// that room) as arguments are appended, so ``encoded`` is always complete and costs nothing.
/// Each argument (its `$<length>` line, its bytes and the CRLF) is written in one pass into
/// the buffer's memory, and the header in one 16-byte store: an exchange call carries eight
/// arguments per settlement, so this is on the worker's per-item path.
package struct RESPCommand: Sendable, Hashable {
    /// Room for `*<count>\r\n`: 1 + up to 13 digits + 2.
    private static let headerRoom = 16
    private var storage: ByteBuffer
    /// How many arguments it has.
    public private(set) var count = 0
    /// Where the first argument's bytes are in `storage`.
    private var nameRange: Range<Int>?
    /// Whether its reply is handed over undecoded (``RESPParser/nextToken()``): an error reply
    /// as `.error`, any other as one bulk string holding the reply's whole wire form, checked
    /// complete and well-formed, for a decoder of its own (``XRANGEDecoder``). No generic value
    /// is built for it. Not part of equality.
    public var wantsToken = false

    /// An empty command with room for `capacity` bytes of encoded arguments.
    public init(capacity: Int = 64) {
        storage = ByteBufferAllocator().buffer(capacity: Self.headerRoom + max(capacity, 16))
        storage.writeRepeatingByte(UInt8(ascii: " "), count: Self.headerRoom)
        writeHeader()
    }

    /// A command of string arguments, e.g. `RESPCommand(["GET", key])`.
    public init(_ arguments: [String]) {
        self.init(capacity: arguments.reduce(0) { $0 + $1.utf8.count + 16 })
        for argument in arguments { append(argument) }
    }

    /// A command of ``RESPArgument``s.
    public init(_ arguments: [RESPArgument]) {
        self.init(capacity: arguments.reduce(0) { $0 + $1.bytes.count + 16 })
        for argument in arguments { append(bytes: argument.bytes) }
    }

    /// The wire form (shares storage with the command).
    public var encoded: ByteBuffer { storage }

    /// The first argument in upper case (e.g. `GET`), for error messages.
    public var name: String {
        guard let nameRange else { return "" }
        return (storage.getString(at: nameRange.lowerBound, length: nameRange.count) ?? "").uppercased()
    }

    /// Appends a string argument (its UTF-8).
    public mutating func append(_ string: String) {
        var string = string
        // Native strings are contiguous already: no copy, and no per-byte writes.
        string.withUTF8 { utf8 in
            appendArgument(length: utf8.count) { out in
                if let base = utf8.baseAddress { out.copyMemory(from: UnsafeRawBufferPointer(start: base, count: utf8.count)) }
            }
        }
    }

    /// Appends a string argument (its UTF-8).
    public mutating func append(_ string: Substring) {
        append(bytes: string.utf8)
    }

    /// Appends raw bytes as one argument.
    public mutating func append(bytes: some Collection<UInt8>) {
        let done: Void? = bytes.withContiguousStorageIfAvailable { contiguous in
            appendArgument(length: contiguous.count) { out in out.copyMemory(from: UnsafeRawBufferPointer(contiguous)) }
        }
        if done != nil { return }
        let length = bytes.count
        appendArgument(length: length) { out in
            _ = out.initializeMemory(as: UInt8.self, from: bytes)
        }
    }

    /// Appends the readable bytes of a buffer as one argument.
    public mutating func append(_ buffer: ByteBuffer) {
        buffer.withUnsafeReadableBytes { bytes in
            appendArgument(length: bytes.count) { out in out.copyMemory(from: bytes) }
        }
    }

    /// Appends an integer in decimal.
    public mutating func append(_ value: Int) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0) // 24 bytes: enough for Int.min
        let length = withUnsafeMutableBytes(of: &digits) { Self.formatDecimal(value, into: $0) }
        withUnsafeBytes(of: &digits) { raw in
            appendArgument(length: length) { out in
                out.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[(raw.count - length)...]))
            }
        }
    }

    /// Appends one ``RESPArgument``.
    public mutating func append(_ argument: RESPArgument) {
        append(bytes: argument.bytes)
    }

    /// Appends one argument of `length` bytes, which `payload` writes into the memory it is
    /// given (exactly `length` bytes): `$<length>\r\n`, the payload, `\r\n` and the new array
    /// header, in one access to the buffer's memory.
    @inline(__always)
    private mutating func appendArgument(length: Int, _ payload: (UnsafeMutableRawBufferPointer) -> Void) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        let digitCount = withUnsafeMutableBytes(of: &digits) { Self.formatDecimal(length, into: $0) }
        let payloadStart = 1 + digitCount + 2
        let written = payloadStart + length + 2
        storage.reserveCapacity(minimumWritableBytes: written)
        let at = storage.writerIndex
        if count == 0 { nameRange = at + payloadStart..<at + payloadStart + length }
        count += 1
        var room = Self.header(count)
        let start = withUnsafeBytes(of: &digits) { raw in
            withUnsafeBytes(of: &room.bytes) { header in
                storage.withVeryUnsafeMutableBytes { all -> Int in
                    guard let base = all.baseAddress, let digitBytes = raw.baseAddress, let headerBytes = header.baseAddress,
                          at + written <= all.count else { return -1 }
                    let out = base + at
                    out.storeBytes(of: UInt8(ascii: "$"), as: UInt8.self)
                    (out + 1).copyMemory(from: digitBytes + (raw.count - digitCount), byteCount: digitCount)
                    (out + 1 + digitCount).storeBytes(of: 13, as: UInt8.self)
                    (out + 2 + digitCount).storeBytes(of: 10, as: UInt8.self)
                    payload(UnsafeMutableRawBufferPointer(start: out + payloadStart, count: length))
                    (out + payloadStart + length).storeBytes(of: 13, as: UInt8.self)
                    (out + payloadStart + length + 1).storeBytes(of: 10, as: UInt8.self)
                    base.copyMemory(from: headerBytes, byteCount: Self.headerRoom)
                    return room.start
                }
            }
        }
        // reserveCapacity made room for `written` bytes, so the fallback is never taken.
        guard start >= 0 else {
            count -= 1
            storage.writeInteger(UInt8(ascii: "$"))
            Self.writeDecimal(length, to: &storage)
            storage.writeInteger(UInt16(0x0D0A))
            storage.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { out in
                payload(UnsafeMutableRawBufferPointer(rebasing: out[..<length]))
                return length
            }
            storage.writeInteger(UInt16(0x0D0A))
            count += 1
            writeHeader()
            return
        }
        storage.moveWriterIndex(forwardBy: written)
        storage.moveReaderIndex(to: start)
    }

    /// The 16 bytes of the header room for `count` arguments: spaces (never sent: the reader
    /// index starts at the `*`), then `*<count>\r\n` right-aligned; and where the `*` is.
    private static func header(_ count: Int) -> (bytes: (UInt64, UInt64), start: Int) {
        var room: (UInt64, UInt64) = (0, 0)
        let start = withUnsafeMutableBytes(of: &room) { out -> Int in
            out[headerRoom - 2] = 13
            out[headerRoom - 1] = 10
            // `count` has at most 12 digits here (13 fit).
            let length = formatDecimal(count, into: UnsafeMutableRawBufferPointer(rebasing: out[..<(headerRoom - 2)]))
            let start = headerRoom - length - 3
            out[start] = UInt8(ascii: "*")
            for index in 0..<start { out[index] = UInt8(ascii: " ") }
            return start
        }
        return (room, start)
    }

    /// Rewrites `*<count>\r\n` right-aligned in the room at the start.
    private mutating func writeHeader() {
        var room = Self.header(count)
        withUnsafeBytes(of: &room.bytes) { raw in _ = storage.setBytes(raw, at: 0) }
        storage.moveReaderIndex(to: room.start)
    }

    /// Writes `value`'s decimal digits right-aligned at the end of `out`; returns how many.
    package static func formatDecimal(_ value: Int, into out: UnsafeMutableRawBufferPointer) -> Int {
        if value >= 0 && value < 10 {
            out[out.count - 1] = UInt8(ascii: "0") + UInt8(value)
            return 1
        }
        var magnitude = value.magnitude
        var index = out.count
        repeat {
            index -= 1
            out[index] = UInt8(ascii: "0") + UInt8(magnitude % 10)
            magnitude /= 10
        } while magnitude > 0
        if value < 0 {
            index -= 1
            out[index] = UInt8(ascii: "-")
        }
        return out.count - index
    }

    /// Writes `value` in decimal.
    static func writeDecimal(_ value: Int, to buffer: inout ByteBuffer) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        let length = withUnsafeMutableBytes(of: &digits) { formatDecimal(value, into: $0) }
        withUnsafeBytes(of: &digits) { raw in
            _ = buffer.writeBytes(UnsafeRawBufferPointer(rebasing: raw[(raw.count - length)...]))
        }
    }

    public static func == (lhs: RESPCommand, rhs: RESPCommand) -> Bool { lhs.storage == rhs.storage }
    public func hash(into hasher: inout Hasher) { hasher.combine(storage) }
}

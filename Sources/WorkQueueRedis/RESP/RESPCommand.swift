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
        let length = string.utf8.count
        beginArgument(length: length)
        storage.writeString(string)
        endArgument(length: length)
    }

    /// Appends a string argument (its UTF-8).
    public mutating func append(_ string: Substring) {
        append(bytes: string.utf8)
    }

    /// Appends raw bytes as one argument.
    public mutating func append(bytes: some Collection<UInt8>) {
        let length = bytes.count
        beginArgument(length: length)
        storage.writeBytes(bytes)
        endArgument(length: length)
    }

    /// Appends the readable bytes of a buffer as one argument.
    public mutating func append(_ buffer: ByteBuffer) {
        let length = buffer.readableBytes
        beginArgument(length: length)
        var copy = buffer
        storage.writeBuffer(&copy)
        endArgument(length: length)
    }

    /// Appends an integer in decimal.
    public mutating func append(_ value: Int) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0) // 24 bytes: enough for Int.min
        let length = withUnsafeMutableBytes(of: &digits) { Self.formatDecimal(value, into: $0) }
        beginArgument(length: length)
        withUnsafeBytes(of: &digits) { raw in
            _ = storage.writeBytes(UnsafeRawBufferPointer(rebasing: raw[(raw.count - length)...]))
        }
        endArgument(length: length)
    }

    /// Appends one ``RESPArgument``.
    public mutating func append(_ argument: RESPArgument) {
        append(bytes: argument.bytes)
    }

    private mutating func beginArgument(length: Int) {
        storage.writeInteger(UInt8(ascii: "$"))
        Self.writeDecimal(length, to: &storage)
        storage.writeInteger(UInt16(0x0D0A))
        if count == 0 { nameRange = storage.writerIndex..<storage.writerIndex + length }
    }

    private mutating func endArgument(length: Int) {
        storage.writeInteger(UInt16(0x0D0A))
        count += 1
        writeHeader()
    }

    /// Rewrites `*<count>\r\n` right-aligned in the room at the start.
    private mutating func writeHeader() {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        let length = withUnsafeMutableBytes(of: &digits) { Self.formatDecimal(count, into: $0) }
        let start = Self.headerRoom - length - 3
        storage.moveReaderIndex(to: 0)
        storage.setInteger(UInt8(ascii: "*"), at: start)
        withUnsafeBytes(of: &digits) { raw in
            _ = storage.setBytes(UnsafeRawBufferPointer(rebasing: raw[(raw.count - length)...]), at: start + 1)
        }
        storage.setInteger(UInt16(0x0D0A), at: Self.headerRoom - 2)
        storage.moveReaderIndex(to: start)
    }

    /// Writes `value`'s decimal digits right-aligned at the end of `out`; returns how many.
    static func formatDecimal(_ value: Int, into out: UnsafeMutableRawBufferPointer) -> Int {
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

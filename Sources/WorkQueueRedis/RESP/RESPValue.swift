import NIOCore

/// One RESP2 value as sent by a Redis server.
///
/// Bulk strings are `ByteBuffer` slices of the bytes read from the socket (no copy);
/// equality and hashing compare their readable bytes.
package enum RESPValue: Sendable, Hashable {
    /// `+OK`
    case simpleString(String)
    /// `-ERR message`
    case error(String)
    /// `:42`
    case integer(Int)
    /// `$3\r\nabc` or the null bulk string `$-1` (nil).
    case bulkString(ByteBuffer?)
    /// `*2\r\n...` or the null array `*-1` (nil).
    case array([RESPValue]?)

    /// A bulk string holding a copy of `bytes`.
    public static func bulkString(bytes: some Collection<UInt8>) -> RESPValue {
        var buffer = ByteBufferAllocator().buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        return .bulkString(buffer)
    }

    /// A bulk string holding the UTF-8 of `string`.
    public static func bulkString(string: String) -> RESPValue {
        .bulkString(ByteBuffer(string: string))
    }

    /// The bytes of a bulk or simple string, nil otherwise.
    public var bytes: [UInt8]? {
        switch self {
        case let .bulkString(buffer?): Array(buffer.readableBytesView)
        case let .simpleString(string): Array(string.utf8)
        default: nil
        }
    }

    /// The bytes of a bulk string without copying them, nil otherwise (also for the null bulk
    /// string). A simple string is returned as a new buffer.
    public var byteBuffer: ByteBuffer? {
        switch self {
        case let .bulkString(buffer): buffer
        case let .simpleString(string): ByteBuffer(string: string)
        default: nil
        }
    }

    /// A UTF-8 view of a bulk or simple string, nil otherwise.
    public var string: String? {
        switch self {
        case let .bulkString(buffer?): String(buffer: buffer)
        case let .simpleString(string): string
        default: nil
        }
    }

    /// The integer of an integer reply, or of a string holding a decimal integer.
    public var int: Int? {
        switch self {
        case let .integer(value): value
        case let .bulkString(buffer?):
            buffer.readableBytes <= 20 ? RESPParser.decimal(buffer.readableBytesView) : nil
        case let .simpleString(string): Int(string)
        default: nil
        }
    }

    /// The elements of a non-null array.
    public var array: [RESPValue]? {
        if case let .array(values) = self { return values }
        return nil
    }

    /// True for the null bulk string and the null array.
    public var isNull: Bool {
        switch self {
        case .bulkString(nil), .array(nil): true
        default: false
        }
    }
}

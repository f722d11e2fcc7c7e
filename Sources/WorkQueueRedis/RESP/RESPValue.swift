/// One RESP2 value as sent by a Redis server.
public enum RESPValue: Sendable, Hashable {
    /// `+OK`
    case simpleString(String)
    /// `-ERR message`
    case error(String)
    /// `:42`
    case integer(Int)
    /// `$3\r\nabc` or the null bulk string `$-1` (nil).
    case bulkString([UInt8]?)
    /// `*2\r\n...` or the null array `*-1` (nil).
    case array([RESPValue]?)

    /// The bytes of a bulk or simple string, nil otherwise.
    public var bytes: [UInt8]? {
        switch self {
        case let .bulkString(bytes): bytes
        case let .simpleString(string): Array(string.utf8)
        default: nil
        }
    }

    /// A UTF-8 view of a bulk or simple string, nil otherwise.
    public var string: String? { bytes.map { String(decoding: $0, as: UTF8.self) } }

    /// The integer of an integer reply, or of a string holding a decimal integer.
    public var int: Int? {
        switch self {
        case let .integer(value): value
        default: string.flatMap { Int($0) }
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

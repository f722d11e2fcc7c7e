/// Why a RESP stream was rejected. The connection that produced it should be closed.
package enum RESPParseError: Error, Sendable, Hashable, CustomStringConvertible {
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
    /// The value being received, with what is buffered behind it, grew past the cap on
    /// buffered bytes (``RESPParser/maxBufferedBytes``).
    case tooMuchBuffered(Int)

    public var description: String {
        switch self {
        case let .invalidTypeByte(byte): "RESP: unexpected type byte 0x\(String(byte, radix: 16))"
        case let .invalidInteger(text): "RESP: '\(text)' is not an integer"
        case let .invalidLength(length): "RESP: invalid length \(length)"
        case .missingCRLF: "RESP: missing CRLF"
        case .lineTooLong: "RESP: line too long"
        case .nestingTooDeep: "RESP: arrays nested too deep"
        case let .tooMuchBuffered(limit): "RESP: more than \(limit) bytes buffered for unfinished replies"
        }
    }
}

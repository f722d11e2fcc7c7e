/// One unit of work: the raw bytes a producer pushed onto the queue.
///
/// Items are opaque byte strings, exactly as stored in Redis (`redis-cli rpush job2 apple`).
/// Use ``string`` for a UTF-8 view that never traps, or ``escaped`` for a printable form in
/// which invalid bytes and control characters are shown as `\xNN`.
public struct WorkItem: Sendable, Hashable, CustomStringConvertible {
    /// The raw bytes of the item.
    public var bytes: [UInt8]

    /// Creates an item from raw bytes.
    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// Creates an item from the UTF-8 encoding of `string`.
    public init(_ string: String) { self.bytes = Array(string.utf8) }

    /// The item decoded as UTF-8; invalid sequences become U+FFFD. Never traps.
    public var string: String { String(decoding: bytes, as: UTF8.self) }

    /// A printable form: valid UTF-8 text as is, every invalid byte and every ASCII control
    /// character (other than none) as `\xNN`, and a backslash as `\\`.
    public var escaped: String {
        var out = ""
        out.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte < 0x80 {
                if byte == UInt8(ascii: "\\") {
                    out += "\\\\"
                } else if byte < 0x20 || byte == 0x7F {
                    out += "\\x" + Self.hex(byte)
                } else {
                    out.unicodeScalars.append(Unicode.Scalar(byte))
                }
                index += 1
                continue
            }
            let length = Self.validSequenceLength(at: index, in: bytes)
            if length > 0 {
                out += String(decoding: bytes[index..<index + length], as: UTF8.self)
                index += length
            } else {
                out += "\\x" + Self.hex(byte)
                index += 1
            }
        }
        return out
    }

    /// The item as ``escaped`` shows it.
    public var description: String { escaped }

    private static func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
    }

    /// Length of a well-formed multi-byte UTF-8 sequence starting at `index`, or 0.
    static func validSequenceLength(at index: Int, in bytes: [UInt8]) -> Int {
        let lead = bytes[index]
        let length: Int
        var lower: UInt8 = 0x80
        var upper: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; lower = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; upper = 0x9F
        case 0xF0: length = 4; lower = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; upper = 0x8F
        default: return 0
        }
        guard index + length <= bytes.count else { return 0 }
        for offset in 1..<length {
            let byte = bytes[index + offset]
            let (lo, hi): (UInt8, UInt8) = offset == 1 ? (lower, upper) : (0x80, 0xBF)
            guard byte >= lo && byte <= hi else { return 0 }
        }
        return length
    }
}

extension WorkItem: ExpressibleByStringLiteral {
    /// The item holding the UTF-8 bytes of `value` (`let item: WorkItem = "apple"`).
    public init(stringLiteral value: String) { self.init(value) }
}

import NIOCore

/// One argument of a Redis command: raw bytes sent as a bulk string.
package struct RESPArgument: Sendable, Hashable, ExpressibleByStringLiteral {
    public var bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public init(_ string: String) { self.bytes = Array(string.utf8) }
    public init(_ value: Int) { self.bytes = Array(String(value).utf8) }
    public init(stringLiteral value: String) { self.init(value) }
}

/// Encodes commands as RESP arrays of bulk strings, and values in their wire form.
/// (The hot path builds a ``RESPCommand`` instead, which writes straight into a buffer.)
package enum RESPEncoder {
    /// The wire form of one command.
    public static func encodeCommand(_ arguments: [RESPArgument]) -> [UInt8] {
        Array(RESPCommand(arguments).encoded.readableBytesView)
    }

    /// The wire form of a value (used by tests and fuzzing).
    public static func encode(_ value: RESPValue) -> [UInt8] {
        var out = ByteBuffer()
        encode(value, into: &out)
        return Array(out.readableBytesView)
    }

    /// Writes the wire form of a value.
    public static func encode(_ value: RESPValue, into out: inout ByteBuffer) {
        switch value {
        case let .simpleString(string):
            out.writeInteger(UInt8(ascii: "+")); out.writeString(string); out.writeInteger(UInt16(0x0D0A))
        case let .error(string):
            out.writeInteger(UInt8(ascii: "-")); out.writeString(string); out.writeInteger(UInt16(0x0D0A))
        case let .integer(value):
            appendHeader(UInt8(ascii: ":"), value, to: &out)
        case .bulkString(nil):
            appendHeader(UInt8(ascii: "$"), -1, to: &out)
        case var .bulkString(bytes?):
            appendHeader(UInt8(ascii: "$"), bytes.readableBytes, to: &out)
            out.writeBuffer(&bytes); out.writeInteger(UInt16(0x0D0A))
        case .array(nil):
            appendHeader(UInt8(ascii: "*"), -1, to: &out)
        case let .array(values?):
            appendHeader(UInt8(ascii: "*"), values.count, to: &out)
            for element in values { encode(element, into: &out) }
        }
    }

    private static func appendHeader(_ type: UInt8, _ number: Int, to out: inout ByteBuffer) {
        out.writeInteger(type)
        RESPCommand.writeDecimal(number, to: &out)
        out.writeInteger(UInt16(0x0D0A))
    }
}

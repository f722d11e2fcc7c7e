/// One argument of a Redis command: raw bytes sent as a bulk string.
public struct RESPArgument: Sendable, Hashable, ExpressibleByStringLiteral {
    public var bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public init(_ string: String) { self.bytes = Array(string.utf8) }
    public init(_ value: Int) { self.bytes = Array(String(value).utf8) }
    public init(stringLiteral value: String) { self.init(value) }
}

/// Encodes commands as RESP arrays of bulk strings, and values in their wire form.
public enum RESPEncoder {
    /// The wire form of one command.
    public static func encodeCommand(_ arguments: [RESPArgument]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(16 + arguments.reduce(0) { $0 + $1.bytes.count + 16 })
        appendHeader(UInt8(ascii: "*"), arguments.count, to: &out)
        for argument in arguments {
            appendHeader(UInt8(ascii: "$"), argument.bytes.count, to: &out)
            out += argument.bytes
            out += [13, 10]
        }
        return out
    }

    /// The wire form of a value (used by tests and fuzzing).
    public static func encode(_ value: RESPValue) -> [UInt8] {
        var out: [UInt8] = []
        encode(value, into: &out)
        return out
    }

    static func encode(_ value: RESPValue, into out: inout [UInt8]) {
        switch value {
        case let .simpleString(string):
            out.append(UInt8(ascii: "+")); out += Array(string.utf8); out += [13, 10]
        case let .error(string):
            out.append(UInt8(ascii: "-")); out += Array(string.utf8); out += [13, 10]
        case let .integer(value):
            appendHeader(UInt8(ascii: ":"), value, to: &out)
        case .bulkString(nil):
            appendHeader(UInt8(ascii: "$"), -1, to: &out)
        case let .bulkString(bytes?):
            appendHeader(UInt8(ascii: "$"), bytes.count, to: &out)
            out += bytes; out += [13, 10]
        case .array(nil):
            appendHeader(UInt8(ascii: "*"), -1, to: &out)
        case let .array(values?):
            appendHeader(UInt8(ascii: "*"), values.count, to: &out)
            for element in values { encode(element, into: &out) }
        }
    }

    private static func appendHeader(_ type: UInt8, _ number: Int, to out: inout [UInt8]) {
        out.append(type)
        out += Array(String(number).utf8)
        out += [13, 10]
    }
}

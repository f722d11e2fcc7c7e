#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Finds which number of a JSON document a `JSONDecoder` refused: it reports a number that
/// does not fit its field (`1.5` for an `Int`, `300` for an `Int8`, `1e400`) as "The given
/// data was not valid JSON" at the root, naming neither the field nor the number.
///
/// The probe lists the document's number literals with their JSONPath (a bounded scan), then
/// decodes again with the first k numbers replaced by `0` (which every number type holds),
/// bisecting on k: the number whose replacement makes that root error go away is one the
/// type refused. Only on the failure path, and only for items of at most ``maxBytes``.
enum JSONNumberProbe {
    /// The largest item probed (a failed decode only; each probe decodes it again, about
    /// log2(numbers) times).
    static let maxBytes = 1 << 20
    /// The deepest nesting scanned (as deep as JSONDecoder goes).
    static let maxDepth = 512

    struct Number {
        let range: Range<Int>
        let path: String
    }

    /// The number `decode` refuses (its path and literal), or nil when none can be told.
    static func culprit(in bytes: [UInt8], decode: ([UInt8]) -> Bool) -> (path: String, literal: String)? {
        guard bytes.count <= maxBytes, let numbers = numbers(in: bytes), !numbers.isEmpty else { return nil }
        // decode(with the first k replaced) fails for k = 0; find the least k for which it does not.
        guard decode(replacing(numbers.prefix(numbers.count), in: bytes)) else { return nil }
        var low = 0, high = numbers.count  // fails at low, succeeds at high
        while high - low > 1 {
            let middle = (low + high) / 2
            if decode(replacing(numbers.prefix(middle), in: bytes)) { high = middle } else { low = middle }
        }
        let number = numbers[high - 1]
        return (number.path, String(decoding: bytes[number.range], as: UTF8.self))
    }

    private static func replacing(_ numbers: ArraySlice<Number>, in bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var position = 0
        for number in numbers {
            out += bytes[position..<number.range.lowerBound]
            out.append(UInt8(ascii: "0"))
            position = number.range.upperBound
        }
        out += bytes[position...]
        return out
    }

    /// Every number literal in document order with its path; nil when the text is not JSON
    /// (or nests deeper than ``maxDepth``).
    static func numbers(in bytes: [UInt8]) -> [Number]? {
        var scanner = Scanner(bytes: bytes)
        guard scanner.value(path: "$", depth: 0) else { return nil }
        scanner.skipSpace()
        return scanner.index == bytes.count ? scanner.numbers : nil
    }

    private struct Scanner {
        let bytes: [UInt8]
        var index = 0
        var numbers: [Number] = []

        init(bytes: [UInt8]) { self.bytes = bytes }

        mutating func skipSpace() {
            while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
        }

        mutating func value(path: String, depth: Int) -> Bool {
            guard depth <= JSONNumberProbe.maxDepth else { return false }
            skipSpace()
            guard index < bytes.count else { return false }
            switch bytes[index] {
            case UInt8(ascii: "{"):
                index += 1
                skipSpace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; return true }
                while true {
                    skipSpace()
                    guard let key = string() else { return false }
                    skipSpace()
                    guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { return false }
                    index += 1
                    guard value(path: path + "." + key, depth: depth + 1) else { return false }
                    skipSpace()
                    guard index < bytes.count else { return false }
                    if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                    guard bytes[index] == UInt8(ascii: "}") else { return false }
                    index += 1
                    return true
                }
            case UInt8(ascii: "["):
                index += 1
                skipSpace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; return true }
                var element = 0
                while true {
                    guard value(path: path + "[\(element)]", depth: depth + 1) else { return false }
                    element += 1
                    skipSpace()
                    guard index < bytes.count else { return false }
                    if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                    guard bytes[index] == UInt8(ascii: "]") else { return false }
                    index += 1
                    return true
                }
            case UInt8(ascii: "\""):
                return string() != nil
            case UInt8(ascii: "t"): return literal("true")
            case UInt8(ascii: "f"): return literal("false")
            case UInt8(ascii: "n"): return literal("null")
            default:
                let start = index
                while index < bytes.count, Self.numberBytes.contains(bytes[index]) { index += 1 }
                guard index > start else { return false }
                numbers.append(Number(range: start..<index, path: path))
                return true
            }
        }

        static let numberBytes = Set("0123456789+-.eE".utf8)

        mutating func literal(_ word: String) -> Bool {
            let expected = Array(word.utf8)
            guard index + expected.count <= bytes.count, Array(bytes[index..<index + expected.count]) == expected else { return false }
            index += expected.count
            return true
        }

        /// A string (the index on its opening quote); its text with escapes left as written.
        mutating func string() -> String? {
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return nil }
            index += 1
            let start = index
            while index < bytes.count {
                switch bytes[index] {
                case UInt8(ascii: "\\"): index += 2
                case UInt8(ascii: "\""):
                    defer { index += 1 }
                    return String(decoding: bytes[start..<index], as: UTF8.self)
                default: index += 1
                }
            }
            return nil
        }
    }
}

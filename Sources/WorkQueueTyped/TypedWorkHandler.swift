#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
@_exported import WorkQueueCore

/// A handler over typed items: each item is a JSON document decoded as ``Input``, and what
/// ``handle(_:context:)`` returns is stored as the item's result, encoded as JSON.
///
/// ```swift
/// struct WordCount: TypedWorkHandler {
///     struct Input: Codable, Sendable { var text: String }
///     struct Output: Codable, Sendable, Equatable { var words: Int }
///
///     func handle(_ input: Input, context: WorkContext) async throws -> Output {
///         Output(words: input.text.split(separator: " ").count)
///     }
/// }
/// ```
///
/// An item that does not decode as ``Input`` is dead-lettered on its first attempt, never
/// retried: its dead letter names the coding path and what was wrong
/// (`workqueue dead list`); a number that does not fit its field (`1.5` or `1e400` for an
/// `Int`) is named the same way, with the number. An object with a key given twice decodes with
/// the key's first value (the later ones are ignored, unlike many JSON readers, which keep the
/// last): producers should not write duplicate keys (``TypedItem/encode(_:)`` never does).
/// Producers push typed items with ``TypedItem/encode(_:)`` or
/// `workqueue push` of JSON lines. An ``Output`` that encodes as JSON `null` (an optional
/// returning nil) stores no result.
public protocol TypedWorkHandler: WorkHandler {
    /// What an item decodes to (from JSON).
    associatedtype Input: Decodable & Sendable
    /// What the handler returns; stored as the item's result, as JSON.
    associatedtype Output: Encodable & Sendable

    /// Processes one decoded item.
    func handle(_ input: Input, context: WorkContext) async throws -> Output
}

extension TypedWorkHandler {
    /// Decodes the item as ``Input`` (throwing `UnprocessableItem` when it does not decode),
    /// calls ``handle(_:context:)-(Input,_)`` and encodes its output as the result.
    public func handle(_ item: WorkItem, context: WorkContext) async throws -> String? {
        let input = try TypedItem.decode(Input.self, from: item)
        let output = try await handle(input, context: context)
        return try TypedItem.result(output)
    }
}

/// The JSON coding of typed items and results, shared by handlers, producers and the harness.
public enum TypedItem {
    /// The item holding `value` as JSON (keys sorted, so equal values make equal items).
    public static func encode<Value: Encodable>(_ value: Value) throws -> WorkItem {
        WorkItem(Array(try encoder.encode(value)))
    }

    /// `item` decoded from JSON as `type`; throws `UnprocessableItem` naming the coding path
    /// and the problem when it does not decode.
    public static func decode<Value: Decodable>(_ type: Value.Type, from item: WorkItem) throws -> Value {
        do {
            return try JSONDecoder().decode(type, from: Data(item.bytes))
        } catch let error as DecodingError {
            // A number that does not fit its field is reported at the root as not JSON: name
            // the field and the number, as a wrong type is named.
            if case let .dataCorrupted(context) = error, context.codingPath.isEmpty,
               let (path, literal) = JSONNumberProbe.culprit(in: item.bytes, decode: { !isRootCorruption($0, type) }) {
                throw UnprocessableItem("""
                    the item does not decode as \(type) at \(path): the number \(literal) does not fit the field's type \
                    (a fraction for an integer, outside the integer's range, or beyond a Double's)
                    """)
            }
            throw UnprocessableItem(describe(error, decoding: type))
        } catch {
            throw UnprocessableItem("the item is not \(type) as JSON: \(error)")
        }
    }

    /// Whether decoding `bytes` as `type` fails with a data error at the root (what a number
    /// that does not fit gives).
    private static func isRootCorruption<Value: Decodable>(_ bytes: [UInt8], _ type: Value.Type) -> Bool {
        do {
            _ = try JSONDecoder().decode(type, from: Data(bytes))
            return false
        } catch let DecodingError.dataCorrupted(context) {
            return context.codingPath.isEmpty
        } catch {
            return false
        }
    }

    /// `value` as a result string: its JSON, or nil when it encodes as `null`.
    public static func result<Value: Encodable>(_ value: Value) throws -> String? {
        let json = String(decoding: try encoder.encode(value), as: UTF8.self)
        return json == "null" ? nil : json
    }

    /// `item`'s JSON in one canonical spelling (keys sorted, no spaces, numbers as JSON
    /// numbers), or nil when it is not JSON: two items holding the same value with other
    /// spacing, key order or number spelling (`1.0`, `1`) have the same canonical form. What
    /// typed result lookups compare.
    package static func canonical(_ item: WorkItem) -> [UInt8]? {
        guard let value = try? JSONDecoder().decode(CanonicalJSON.self, from: Data(item.bytes)),
              let data = try? encoder.encode(value)
        else { return nil }
        return Array(data)
    }

    /// A result string decoded from JSON as `type` (what a producer reads back).
    public static func decodeResult<Value: Decodable>(_ type: Value.Type, from result: String) throws -> Value {
        try JSONDecoder().decode(type, from: Data(result.utf8))
    }

    private static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    /// One line naming the type, the coding path (`$.items[2].width`, `$` for the whole item)
    /// and the problem, e.g. `the item does not decode as Input at $.sizes[1]: expected Int;
    /// Expected to decode Int but found a string instead.`
    static func describe<Value>(_ error: DecodingError, decoding type: Value.Type) -> String {
        let path: [any CodingKey], problem: String
        switch error {
        case let .typeMismatch(expected, context):
            (path, problem) = (context.codingPath, "expected \(expected); \(detail(context))")
        case let .valueNotFound(expected, context):
            (path, problem) = (context.codingPath, "expected \(expected), found null")
        case let .keyNotFound(key, context):
            // The context's path is the object's; the path shown is the missing key's.
            (path, problem) = (context.codingPath + [key], "missing key '\(key.stringValue)'")
        case let .dataCorrupted(context):
            // Not JSON at all ("The given data was not valid JSON."), or a value a type's own
            // check refused (an enum's unknown raw value).
            (path, problem) = (context.codingPath, detail(context))
        @unknown default:
            return "the item does not decode as \(type): \(error)"
        }
        return "the item does not decode as \(type) at \(jsonPath(path)): \(problem)"
    }

    /// `$.a.b[2]`: the coding path as a JSONPath.
    static func jsonPath(_ codingPath: [any CodingKey]) -> String {
        var path = "$"
        for key in codingPath {
            if let index = key.intValue { path += "[\(index)]" } else { path += ".\(key.stringValue)" }
        }
        return path
    }

    private static func detail(_ context: DecodingError.Context) -> String {
        guard let underlying = context.underlyingError else { return context.debugDescription }
        return "\(context.debugDescription) (\(underlying))"
    }
}

/// Any JSON value, decoded and encoded again (keys sorted by ``TypedItem``'s encoder) to compare
/// values rather than spellings. A number is an integer when it is one exactly (`1.0` and `1`
/// are the same), else a double.
private enum CanonicalJSON: Codable {
    case null
    case bool(Bool)
    case integer(Int64)
    case double(Double)
    case string(String)
    case array([CanonicalJSON])
    case object([String: CanonicalJSON])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = Double(Int64.min) <= value && value < Double(Int64.max) && value.rounded() == value
                ? .integer(Int64(value)) : .double(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([CanonicalJSON].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: CanonicalJSON].self))
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case let .bool(value): try container.encode(value)
        case let .integer(value): try container.encode(value)
        case let .double(value): try container.encode(value)
        case let .string(value): try container.encode(value)
        case let .array(value): try container.encode(value)
        case let .object(value): try container.encode(value)
        }
    }
}

/// The C signature of a function called through libffi, parsed from a string such as
/// `i64(i64)`, `f64(f64)`, `i32(ptr,u64)` or `void(ptr,u64)`. See
/// ``PluginError/signatureGrammar``.
public struct FFISignature: Sendable, Hashable, CustomStringConvertible {
    /// A C scalar type of the grammar.
    public enum ValueType: String, Sendable, Hashable, CaseIterable {
        case void, i32, u32, i64, u64, f64, ptr

        var isInteger: Bool { [.i32, .u32, .i64, .u64].contains(self) }
        var isNumber: Bool { isInteger || self == .f64 }
    }

    /// How the item becomes the arguments.
    public enum ArgumentForm: Sendable, Hashable {
        /// No arguments; the item is ignored.
        case none
        /// The item split on whitespace, one number per argument.
        case numbers([ValueType])
        /// `ptr`: a NUL-terminated copy of the item's bytes.
        case cString
        /// `ptr,INT`: the item's bytes and their length.
        case bytesAndLength(ValueType)
    }

    /// The text as given.
    public let text: String
    /// The return type.
    public let returnType: ValueType
    /// The argument types in order.
    public let arguments: [ValueType]
    /// How the item is passed.
    public let form: ArgumentForm

    /// Parses `text`; throws ``PluginError/invalidSignature(signature:reason:)`` naming it.
    public init(parsing text: String) throws(PluginError) {
        func fail(_ reason: String) -> PluginError { .invalidSignature(signature: text, reason: reason) }
        let compact = text.filter { !$0.isWhitespace }
        guard let open = compact.firstIndex(of: "("), compact.last == ")" else {
            throw fail("expected RET(ARGS)")
        }
        let returnName = String(compact[..<open])
        guard let returnType = ValueType(rawValue: returnName) else {
            throw fail("unknown return type '\(returnName)'")
        }
        guard returnType != .ptr else { throw fail("a pointer cannot be returned (its owner is unknown)") }
        let inner = compact[compact.index(after: open)..<compact.index(before: compact.endIndex)]
        var arguments: [ValueType] = []
        if !inner.isEmpty {
            for name in inner.split(separator: ",", omittingEmptySubsequences: false) {
                guard let type = ValueType(rawValue: String(name)) else {
                    throw fail("unknown argument type '\(name)'")
                }
                arguments.append(type)
            }
        }
        let form: ArgumentForm
        if arguments.isEmpty {
            form = .none
        } else if arguments.contains(.ptr) {
            if arguments == [.ptr] {
                form = .cString
            } else if arguments.count == 2, arguments[0] == .ptr, arguments[1].isInteger {
                form = .bytesAndLength(arguments[1])
            } else {
                throw fail("ptr must come first, followed by at most one integer (the length)")
            }
        } else if arguments.allSatisfy(\.isNumber) {
            form = .numbers(arguments)
        } else {
            throw fail("void is only a return type")
        }
        self.text = text
        self.returnType = returnType
        self.arguments = arguments
        self.form = form
    }

    /// True when the function's `i32` return is a status (0 success): it takes `ptr`.
    public var returnsStatus: Bool { returnType == .i32 && arguments.contains(.ptr) }

    public var description: String {
        "\(returnType.rawValue)(\(arguments.map(\.rawValue).joined(separator: ",")))"
    }
}

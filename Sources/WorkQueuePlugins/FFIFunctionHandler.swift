import CFFI
import WorkQueue

/// Calls a plain exported C function once per item, with a signature given at run time
/// (`--symbol`/`--signature` on the command line).
///
/// ```swift
/// let square = try FFIFunctionHandler(library: "./libmath.so", symbol: "square", signature: "i64(i64)")
/// // item "12" -> result "144"
/// ```
///
/// Numbers are parsed from the item (split on whitespace); `ptr` passes the item's bytes
/// (`ptr,u64` adds their length; a lone `ptr` gets a NUL-terminated copy). The return value,
/// formatted as text, is the result; `void` gives none. A function taking `ptr` and returning
/// `i32` returns a status: non-zero is a failure. The library passes the same ownership and
/// permission checks as a plugin.
public struct FFIFunctionHandler: WorkHandler {
    /// The parsed signature.
    public let signature: FFISignature
    /// The symbol called.
    public let symbol: String
    /// The library file.
    public let library: String

    private let function: PreparedFunction

    /// A C function is a blocking call: it runs on a dedicated thread.
    public var execution: HandlerExecution { .dedicatedThread }

    /// Opens `library`, finds `symbol`, and prepares calls of type `signature`.
    /// - Throws: ``PluginError`` for a bad signature (naming it and giving the grammar), a
    ///   missing or untrusted file, a file that is not a shared object, or a missing symbol.
    public init(library: String, symbol: String, signature: String) throws(PluginError) {
        let parsed = try FFISignature(parsing: signature)
        let shared = try SharedLibrary(path: library)
        let address = try shared.symbol(symbol)
        self.signature = parsed
        self.symbol = symbol
        self.library = library
        self.function = try PreparedFunction(address: address, signature: parsed, library: shared)
    }

    public func handle(_ item: WorkItem, context: WorkContext) async throws -> String? {
        let returned = try function.call(with: try arguments(for: item))
        return try result(of: returned)
    }

    /// The argument values of `item` (one 8-byte slot each; bytes kept alive separately).
    private func arguments(for item: WorkItem) throws(PluginError) -> CallArguments {
        switch signature.form {
        case .none:
            return CallArguments(slots: [], bytes: nil)
        case .cString:
            return CallArguments(slots: [.pointer], bytes: item.bytes + [0])
        case let .bytesAndLength(type):
            let length = try Self.number(String(item.bytes.count), as: type, item: item, signature: signature)
            return CallArguments(slots: [.pointer, length], bytes: item.bytes)
        case let .numbers(types):
            let fields = item.string.split(whereSeparator: \.isWhitespace)
            guard fields.count == types.count else {
                throw .invalidItem(
                    item: item.escaped, signature: signature.text,
                    reason: "expected \(types.count) whitespace-separated number(s), found \(fields.count)"
                )
            }
            var slots: [CallArguments.Slot] = []
            for (field, type) in zip(fields, types) {
                slots.append(try Self.number(String(field), as: type, item: item, signature: signature))
            }
            return CallArguments(slots: slots, bytes: nil)
        }
    }

    private static func number(
        _ text: String, as type: FFISignature.ValueType, item: WorkItem, signature: FFISignature
    ) throws(PluginError) -> CallArguments.Slot {
        let slot: CallArguments.Slot? =
            switch type {
            case .i32: Int32(text).map { .bits(UInt64(UInt32(bitPattern: $0))) }
            case .u32: UInt32(text).map { .bits(UInt64($0)) }
            case .i64: Int64(text).map { .bits(UInt64(bitPattern: $0)) }
            case .u64: UInt64(text).map { .bits($0) }
            case .f64: Double(text).map { .bits($0.bitPattern) }
            case .void, .ptr: nil
            }
        guard let slot else {
            throw .invalidItem(
                item: item.escaped, signature: signature.text,
                reason: "'\(text)' is not a valid \(type.rawValue)"
            )
        }
        return slot
    }

    private func result(of bits: UInt64) throws(PluginError) -> String? {
        switch signature.returnType {
        case .void, .ptr:
            return nil
        case .i32:
            let value = Int32(truncatingIfNeeded: bits)
            if signature.returnsStatus {
                guard value == 0 else { throw .functionFailed(symbol: symbol, status: value) }
                return nil
            }
            return String(value)
        case .u32: return String(UInt32(truncatingIfNeeded: bits))
        case .i64: return String(Int64(bitPattern: bits))
        case .u64: return String(bits)
        case .f64: return String(Double(bitPattern: bits))
        }
    }
}

/// The argument values of one call.
struct CallArguments {
    enum Slot {
        /// The raw 64 bits of a scalar (narrower types in the low bits).
        case bits(UInt64)
        /// The address of ``CallArguments/bytes``.
        case pointer
    }

    var slots: [Slot]
    var bytes: [UInt8]?
}

/// A libffi call interface prepared once and used from any thread (`ffi_call` only reads it).
private final class PreparedFunction: @unchecked Sendable {
    // @unchecked: cif and type arrays are written once in init and only read afterwards.
    private let address: UnsafeMutableRawPointer
    private let cif: UnsafeMutablePointer<ffi_cif>
    private let argumentTypes: UnsafeMutablePointer<UnsafeMutablePointer<ffi_type>?>
    private let argumentWidths: [FFISignature.ValueType]
    private let library: SharedLibrary

    init(address: UnsafeMutableRawPointer, signature: FFISignature, library: SharedLibrary) throws(PluginError) {
        self.address = address
        self.library = library
        self.argumentWidths = signature.arguments
        let count = signature.arguments.count
        argumentTypes = .allocate(capacity: max(count, 1))
        for (index, type) in signature.arguments.enumerated() {
            (argumentTypes + index).initialize(to: Self.ffiType(type))
        }
        cif = .allocate(capacity: 1)
        let status = ffi_prep_cif(
            cif, cffi_default_abi(), UInt32(count), Self.ffiType(signature.returnType),
            count == 0 ? nil : argumentTypes
        )
        guard status == FFI_OK else {
            cif.deallocate()
            argumentTypes.deallocate()
            throw .invalidSignature(signature: signature.text, reason: "libffi refused it (status \(status.rawValue))")
        }
    }

    deinit {
        cif.deallocate()
        argumentTypes.deallocate()
    }

    private static func ffiType(_ type: FFISignature.ValueType) -> UnsafeMutablePointer<ffi_type> {
        switch type {
        case .void: cffi_type_void()
        case .i32: cffi_type_sint32()
        case .u32: cffi_type_uint32()
        case .i64: cffi_type_sint64()
        case .u64: cffi_type_uint64()
        case .f64: cffi_type_double()
        case .ptr: cffi_type_pointer()
        }
    }

    /// Calls the function; returns the raw return bits (ffi_arg-widened for integers).
    func call(with arguments: CallArguments) throws(PluginError) -> UInt64 {
        let count = arguments.slots.count
        // One 8-byte slot per argument, and a pointer to each slot.
        let storage = UnsafeMutablePointer<UInt64>.allocate(capacity: max(count, 1))
        let values = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: max(count, 1))
        let returned = UnsafeMutablePointer<UInt64>.allocate(capacity: 2)
        returned.initialize(repeating: 0, count: 2)
        defer {
            storage.deallocate()
            values.deallocate()
            returned.deallocate()
        }
        let bytes = arguments.bytes ?? []
        bytes.withUnsafeBufferPointer { buffer in
            for (index, slot) in arguments.slots.enumerated() {
                let raw = UnsafeMutableRawPointer(storage + index)
                switch slot {
                case let .bits(bits):
                    // Narrow types sit at the slot's start (little- and big-endian alike).
                    switch argumentWidths[index] {
                    case .i32, .u32: raw.storeBytes(of: UInt32(truncatingIfNeeded: bits), as: UInt32.self)
                    default: raw.storeBytes(of: bits, as: UInt64.self)
                    }
                case .pointer:
                    // A non-null address even for an empty item.
                    let address = buffer.baseAddress.map { UnsafeRawPointer($0) }
                    raw.storeBytes(of: address, as: UnsafeRawPointer?.self)
                }
                (values + index).initialize(to: raw)
            }
            ffi_call(cif, unsafeBitCast(address, to: (@convention(c) () -> Void).self), returned, count == 0 ? nil : values)
        }
        return returned.pointee
    }
}

import CWorkQueuePlugin

/// Why a plugin or a C library could not be loaded or called. Each description names the file
/// and says what to do.
public enum PluginError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Nothing exists at the path.
    case noSuchFile(path: String)
    /// A bare file name (no `/`): `dlopen` would search the library path for it.
    case bareName(path: String)
    /// The file exists but cannot be opened for reading.
    case unreadable(path: String, reason: String)
    /// The path names a directory, a device or a pipe, not a regular file.
    case notRegularFile(path: String)
    /// The file's directory can be written by others (without the sticky bit).
    case directoryWritableByOthers(path: String, directory: String, mode: UInt32)
    /// The file can be changed by a user other than its owner (group- or world-writable).
    case writableByOthers(path: String, mode: UInt32)
    /// The file belongs to a user that is neither root nor the user running the worker.
    case ownedByAnotherUser(path: String, owner: UInt32)
    /// `dlopen` refused the file; `reason` is `dlerror()`'s text.
    case notSharedObject(path: String, reason: String)
    /// The library has no such exported symbol.
    case missingSymbol(path: String, symbol: String)
    /// The plugin was built against another version of `workqueue_plugin.h`.
    case abiVersionMismatch(path: String, found: UInt32, expected: UInt32)
    /// The plugin's table is smaller than version 1's: it was not built from this header.
    case malformedTable(path: String, reason: String)
    /// The plugin's `create` refused the options.
    case createFailed(path: String, message: String)
    /// A `--signature` string does not follow the grammar.
    case invalidSignature(signature: String, reason: String)
    /// An item cannot be passed to the function as its signature says.
    case invalidItem(item: String, signature: String, reason: String)
    /// A C function taking a pointer returned a non-zero `i32` status.
    case functionFailed(symbol: String, status: Int32)
    /// The plugin's `handle` returned a failure; `message` is the plugin's text.
    case handlerFailed(plugin: String, status: Int32, message: String)
    /// The plugin's `handle` returned a result that is not valid UTF-8 (the first bad byte at
    /// `offset` of `length`): results are text, so the attempt fails instead of changing it.
    case resultNotUTF8(plugin: String, offset: Int, length: Int)
    /// The plugin's `handle` gave an `out` buffer with a length no buffer has (more than
    /// ``PluginHandler/maxOutputBytes``, e.g. `SIZE_MAX`); the buffer was not read.
    case implausibleOutput(plugin: String, length: UInt)

    /// The grammar of `--signature`, quoted in ``invalidSignature(signature:reason:)``.
    public static let signatureGrammar = """
        RET(ARGS): RET is void, i32, u32, i64, u64 or f64; ARGS is empty, a comma-separated \
        list of i32, u32, i64, u64, f64 (the item split on whitespace, one number per argument), \
        or ptr optionally followed by one integer (the item's bytes and their length); \
        e.g. i64(i64), f64(f64), i32(ptr,u64), void(ptr,u64)
        """

    public var description: String {
        switch self {
        case let .noSuchFile(path):
            "plugin file '\(path)' does not exist; check the --plugin path (build it with "
                + "`swift build --product NAME`, which writes .build/debug/libNAME.so)"
        case let .bareName(path):
            "refusing to load '\(path)': a bare file name would be searched for on the library path; "
                + "give ./\(path) or an absolute path"
        case let .unreadable(path, reason):
            "cannot open plugin file '\(path)': \(reason); check its permissions (the worker only needs to read it)"
        case let .notRegularFile(path):
            "refusing to load '\(path)': it is not a regular file; give the path of the .so itself"
        case let .directoryWritableByOthers(path, directory, mode):
            "refusing to load '\(path)': its directory '\(directory)' is writable by others (mode "
                + String(mode & 0o7777, radix: 8)
                + "), who could put another file in its place; move the plugin to a directory only its owner "
                + "can write, or fix with `chmod o-w \(directory)`"
        case let .writableByOthers(path, mode):
            "refusing to load '\(path)': it is writable by group or others (mode "
                + String(mode & 0o7777, radix: 8)
                + "), and loading a plugin runs its code in the worker; fix with `chmod go-w \(path)`"
        case let .ownedByAnotherUser(path, owner):
            "refusing to load '\(path)': it is owned by user id \(owner), neither root nor the user "
                + "running the worker, and loading a plugin runs its code in the worker; fix with "
                + "`chown $(id -u) \(path)` if you trust it"
        case let .notSharedObject(path, reason):
            "'\(path)' could not be loaded as a shared object: \(reason); build it as a dynamic "
                + "library (.so) for this platform"
        case let .missingSymbol(path, symbol):
            "'\(path)' does not export the symbol '\(symbol)'; check the name (`nm -D \(path)`) and "
                + "that it is declared extern \"C\" / @_cdecl and not static"
        case let .abiVersionMismatch(path, found, expected):
            "plugin '\(path)' uses plugin ABI version \(found), but this worker expects version "
                + "\(expected); rebuild the plugin against this worker's workqueue_plugin.h"
        case let .malformedTable(path, reason):
            "plugin '\(path)' returned an unusable table: \(reason); rebuild it against "
                + "workqueue_plugin.h"
        case let .createFailed(path, message):
            "plugin '\(path)' refused its options: \(message)"
        case let .invalidSignature(signature, reason):
            "invalid --signature '\(signature)': \(reason). Grammar: \(Self.signatureGrammar)"
        case let .invalidItem(item, signature, reason):
            "item '\(item)' cannot be passed to a function of signature '\(signature)': \(reason)"
        case let .functionFailed(symbol, status):
            "\(symbol) returned status \(status) (non-zero i32 from a function taking ptr means failure)"
        case let .resultNotUTF8(plugin, offset, length):
            "plugin \(plugin) returned a result that is not valid UTF-8 (byte \(offset) of \(length)); results are text: "
                + "return UTF-8 (e.g. hex or base64 for binary data)"
        case let .implausibleOutput(plugin, length):
            "plugin \(plugin) returned an output length of \(length) bytes, more than the \(PluginHandler.maxOutputBytes) "
                + "a result or message may have; the buffer was freed unread. Set *out_len to the length of *out"
        case let .handlerFailed(plugin, status, message):
            if status == WORKQUEUE_PLUGIN_FAILED || status == WORKQUEUE_PLUGIN_CANCELLED {
                message.isEmpty ? "plugin \(plugin) failed with status \(status) and no message" : message
            } else {
                (message.isEmpty ? "plugin \(plugin) failed with no message" : message)
                    + " (status \(status), unknown to this worker, counts as a failure)"
            }
        }
    }
}

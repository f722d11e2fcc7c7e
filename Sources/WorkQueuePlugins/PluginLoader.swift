import CWorkQueuePlugin
import WorkQueue

/// Loads handlers built as shared objects against `workqueue_plugin.h`.
///
/// ```swift
/// let handler = try PluginLoader.load(path: "/plugins/libPrinterPlugin.so", options: [:])
/// let worker = try Worker(backend: queue, handler: handler)
/// ```
public enum PluginLoader {
    /// Opens the plugin at `path`, checks it, and builds its handler with `options`.
    ///
    /// The file must not be writable by group or others and must belong to root or to the
    /// user running the worker: loading it runs its code. The returned handler runs on a
    /// dedicated thread (`HandlerExecution.dedicatedThread`).
    /// - Throws: ``PluginError`` naming the file: no such file, refused permissions or owner,
    ///   not a shared object, no `workqueue_plugin_entry` symbol, ABI version mismatch, or the
    ///   plugin's own `create` error.
    public static func load(path: String, options: [String: String]) throws -> any WorkHandler {
        try loadPlugin(path: path, options: options)
    }

    /// Like ``load(path:options:)``, returning the concrete ``PluginHandler``.
    public static func loadPlugin(path: String, options: [String: String]) throws(PluginError) -> PluginHandler {
        let library = try SharedLibrary(path: path)
        let entry = try library.symbol(WORKQUEUE_PLUGIN_ENTRY_SYMBOL)
        guard let table = workqueue_plugin_call_entry(entry) else {
            throw .malformedTable(path: path, reason: "workqueue_plugin_entry returned NULL")
        }
        return try PluginHandler(table: UnsafeRawPointer(table), origin: path, library: library, options: options)
    }

    /// Wraps a plugin table that is already in the process (e.g. a plugin linked statically,
    /// or `PluginExport.table(for:)` in a test). `origin` names it in errors.
    public static func wrap(
        table: UnsafeRawPointer,
        origin: String,
        options: [String: String]
    ) throws(PluginError) -> PluginHandler {
        try PluginHandler(table: table, origin: origin, library: nil, options: options)
    }
}

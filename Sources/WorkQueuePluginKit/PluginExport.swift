import CWorkQueuePlugin
import Logging
import Synchronization
import WorkQueueCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Exports a `NamedWorkHandler` through the plugin C ABI (`workqueue_plugin.h`).
///
/// A Swift plugin is one file in a `.dynamic` library product with this one line:
///
/// ```swift
/// @_cdecl("workqueue_plugin_entry") public func entry() -> UnsafeRawPointer { PluginExport.table(for: Upper.self) }
/// ```
///
/// The host builds the handler with `init(options:)` and calls `handle` from one of its own
/// dedicated threads; the call runs the async `handle` to completion on that very thread (see
/// `CallerThreadExecutor`), so it never waits for a thread pool it might be starving.
/// One handler type per shared object: the first type passed is the one exported.
///
/// A handler's `UnprocessableItem` (a `TypedWorkHandler`'s item that does not decode)
/// crosses the ABI as `WORKQUEUE_PLUGIN_REJECTED`: the host dead-letters the item at once, as
/// it would for the handler compiled in; any other error is `WORKQUEUE_PLUGIN_FAILED`.
public enum PluginExport {
    /// The plugin table for `type`, built on the first call and kept for the process lifetime.
    public static func table<Handler: NamedWorkHandler>(for type: Handler.Type) -> UnsafeRawPointer {
        exported.withLock { current in
            if let current { return UnsafeRawPointer(current.table) }
            let table = UnsafeMutablePointer<workqueue_plugin>.allocate(capacity: 1)
            table.initialize(
                to: workqueue_plugin(
                    abi_version: UInt32(WORKQUEUE_PLUGIN_ABI_VERSION),
                    struct_size: UInt32(MemoryLayout<workqueue_plugin>.size),
                    name: UnsafePointer(strdup(Handler.name)),
                    summary: UnsafePointer(strdup(Handler.summary)),
                    create: pluginCreate,
                    handle: pluginHandle,
                    destroy: pluginDestroy,
                    free_buffer: pluginFree
                )
            )
            current = ExportedHandler(type: type, table: table)
            return UnsafeRawPointer(table)
        }
    }
}

/// The one handler type this image exports and its table (allocated once, never freed).
private struct ExportedHandler: @unchecked Sendable {
    // @unchecked: the table is written once before it is published and only read afterwards.
    let type: any NamedWorkHandler.Type
    let table: UnsafeMutablePointer<workqueue_plugin>
}

private let exported = Mutex<ExportedHandler?>(nil)

/// The state behind `void *state`: the built handler and its options.
private final class HandlerState: Sendable {
    let handler: any NamedWorkHandler
    let options: [String: String]
    let name: String

    init(handler: any NamedWorkHandler, options: [String: String], name: String) {
        self.handler = handler
        self.options = options
        self.name = name
    }
}

/// Copies `text` into a malloc'd buffer the host releases with `free_buffer`.
private func mallocCopy(_ text: String) -> (pointer: UnsafeMutablePointer<UInt8>?, count: Int) {
    let bytes = Array(text.utf8)
    guard let raw = malloc(max(bytes.count, 1)) else { return (nil, 0) }
    let pointer = raw.bindMemory(to: UInt8.self, capacity: max(bytes.count, 1))
    bytes.withUnsafeBufferPointer { buffer in
        if let base = buffer.baseAddress { pointer.update(from: base, count: bytes.count) }
    }
    return (pointer, bytes.count)
}

private let pluginCreate: @convention(c) (
    UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<UnsafePointer<CChar>?>?, Int,
    UnsafeMutablePointer<UnsafeMutableRawPointer?>?, UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> Int32 = { keys, values, count, state, error in
    var options: [String: String] = [:]
    for index in 0..<count {
        guard let key = keys?[index], let value = values?[index] else { continue }
        options[String(cString: key)] = String(cString: value)
    }
    guard let type = exported.withLock({ $0?.type }) else {
        error?.pointee = strdup("the plugin's table was not built through PluginExport.table(for:)")
        return 1
    }
    do {
        let handler = try type.init(options: options)
        let box = HandlerState(handler: handler, options: options, name: type.name)
        state?.pointee = Unmanaged.passRetained(box).toOpaque()
        return 0
    } catch let failure {
        error?.pointee = strdup(String(describing: failure))
        return 1
    }
}

private let pluginHandle: @convention(c) (
    UnsafeMutableRawPointer?, UnsafePointer<UInt8>?, Int,
    UnsafePointer<workqueue_plugin_context>?, UnsafePointer<Int32>?,
    UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>?, UnsafeMutablePointer<Int>?
) -> Int32 = { state, item, length, context, cancelled, out, outLength in
    out?.pointee = nil
    outLength?.pointee = 0
    func fail(_ status: Int32, _ message: String) -> Int32 {
        let copy = mallocCopy(message)
        out?.pointee = copy.pointer
        outLength?.pointee = copy.count
        return status
    }
    guard let state else { return fail(WORKQUEUE_PLUGIN_FAILED, "handle was called without state") }
    let box = Unmanaged<HandlerState>.fromOpaque(state).takeUnretainedValue()
    let bytes = item.map { Array(UnsafeBufferPointer(start: $0, count: length)) } ?? []
    let flag = CancellationFlag()
    // Progress and checkpoints go to the host while the call lasts (a host that predates them
    // passes a smaller context: they stay here).
    let host = HostProgress(context)
    let workContext = WorkContext(
        attempt: Int(context?.pointee.attempt ?? 1),
        maxAttempts: Int(context?.pointee.max_attempts ?? 1),
        // ABI version 1 carries no lease deadline (none, not a made-up one); the host renews
        // the lease meanwhile.
        leaseDeadline: nil,
        session: context?.pointee.session.map { String(cString: $0) } ?? "",
        options: box.options,
        logger: Logger(label: "workqueue.plugin.\(box.name)"),
        cancellation: flag,
        checkpoint: host?.checkpoint,
        progress: host.map { host in
            WorkProgress(forwardingReports: { fraction, note in host.report(fraction, note: note) },
                         saves: { bytes in host.save(bytes) })
        } ?? WorkProgress()
    )
    let outcome = CallerThreadExecutor.run(
        { [handler = box.handler] in try await handler.handle(WorkItem(bytes), context: workContext) },
        isCancelled: { cancelled.map { workqueue_plugin_is_cancelled($0) != 0 } ?? false },
        onCancel: { flag.cancel(.shutdown) }
    )
    switch outcome {
    case let .success(result):
        guard let result else { return WORKQUEUE_PLUGIN_OK }
        let copy = mallocCopy(result)
        out?.pointee = copy.pointer
        outLength?.pointee = copy.count
        return WORKQUEUE_PLUGIN_OK
    case let .failure(error) where error is WorkCancelled || error is CancellationError:
        // Task.sleep and friends throw CancellationError once the host's flag cancelled the task.
        return fail(WORKQUEUE_PLUGIN_CANCELLED, String(describing: error))
    case let .failure(error as UnprocessableItem):
        // The host rebuilds the UnprocessableItem from the reason, so the dead letter reads the
        // same as the handler's compiled in.
        return fail(WORKQUEUE_PLUGIN_REJECTED, error.reason)
    case let .failure(error):
        return fail(WORKQUEUE_PLUGIN_FAILED, String(describing: error))
    }
}

private let pluginDestroy: @convention(c) (UnsafeMutableRawPointer?) -> Void = { state in
    guard let state else { return }
    Unmanaged<HandlerState>.fromOpaque(state).release()
}

private let pluginFree: @convention(c) (UnsafeMutableRawPointer?) -> Void = { buffer in
    free(buffer)
}

/// The host's progress and checkpoint functions from a call's context (nil under a host that
/// predates them). Valid only during the `handle` call, which runs the handler to its end.
private struct HostProgress: @unchecked Sendable {
    // @unchecked: the host's functions are thread-safe, and used only while the call lasts.
    let host: UnsafeMutableRawPointer?
    let saveFunction: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<UInt8>?, Int) -> Int32
    let reportFunction: @convention(c) (UnsafeMutableRawPointer?, Double, UnsafePointer<CChar>?) -> Void
    let checkpoint: [UInt8]?

    init?(_ context: UnsafePointer<workqueue_plugin_context>?) {
        guard let context, workqueue_plugin_has_progress(context) != 0,
              let save = context.pointee.save_checkpoint, let report = context.pointee.report_progress else { return nil }
        host = context.pointee.host
        saveFunction = save
        reportFunction = report
        var length = 0
        checkpoint = workqueue_plugin_checkpoint(context, &length).map { Array(UnsafeBufferPointer(start: $0, count: length)) }
    }

    func save(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBufferPointer { saveFunction(host, $0.baseAddress, $0.count) }
    }

    func report(_ fraction: Double, note: String) {
        note.withCString { reportFunction(host, fraction, $0) }
    }
}

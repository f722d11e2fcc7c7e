import CWorkQueuePlugin
import WorkQueue

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A handler loaded through the plugin C ABI. Runs on a dedicated thread; the runner's
/// cancellation (lost lease, shutdown, task cancellation) sets the plugin's `cancelled` flag.
public final class PluginHandler: WorkHandler, @unchecked Sendable {
    // @unchecked: every stored property is immutable after init. The table is static data of
    // the plugin, the library is never closed, and the ABI requires `handle` to be thread-safe
    // for one state; `destroy` runs in deinit, after the last call.

    /// The name the plugin reports (e.g. `printer`).
    public let name: String
    /// The plugin's one-line summary, or "".
    public let summary: String
    /// The file (or in-process origin) the plugin came from.
    public let origin: String

    public var execution: HandlerExecution { .dedicatedThread }

    private let library: SharedLibrary?
    private let handleFunction: @convention(c) (
        UnsafeMutableRawPointer?, UnsafePointer<UInt8>?, Int,
        UnsafePointer<workqueue_plugin_context>?, UnsafePointer<Int32>?,
        UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>?, UnsafeMutablePointer<Int>?
    ) -> Int32
    private let destroyFunction: @convention(c) (UnsafeMutableRawPointer?) -> Void
    private let freeFunction: @convention(c) (UnsafeMutableRawPointer?) -> Void
    private let state: UnsafeMutableRawPointer?

    init(table raw: UnsafeRawPointer, origin: String, library: SharedLibrary?, options: [String: String]) throws(PluginError) {
        // Read the two leading fields before the whole struct: a foreign table may be shorter.
        let version = raw.loadUnaligned(as: UInt32.self)
        guard version == UInt32(WORKQUEUE_PLUGIN_ABI_VERSION) else {
            throw .abiVersionMismatch(path: origin, found: version, expected: UInt32(WORKQUEUE_PLUGIN_ABI_VERSION))
        }
        let size = raw.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
        guard size >= MemoryLayout<workqueue_plugin>.size else {
            throw .malformedTable(
                path: origin,
                reason: "struct_size is \(size), smaller than version 1's \(MemoryLayout<workqueue_plugin>.size)"
            )
        }
        let table = raw.assumingMemoryBound(to: workqueue_plugin.self).pointee
        guard let create = table.create, let handle = table.handle, let destroy = table.destroy,
              let freeBuffer = table.free_buffer
        else {
            throw .malformedTable(path: origin, reason: "create, handle, destroy and free_buffer must all be set")
        }
        guard let namePointer = table.name else {
            throw .malformedTable(path: origin, reason: "name is NULL")
        }
        self.name = String(cString: namePointer)
        self.summary = table.summary.map { String(cString: $0) } ?? ""
        self.origin = origin
        self.library = library
        self.handleFunction = handle
        self.destroyFunction = destroy
        self.freeFunction = freeBuffer
        self.state = try Self.create(create, release: freeBuffer, options: options, origin: origin)
    }

    deinit { destroyFunction(state) }

    private static func create(
        _ create: @convention(c) (
            UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<UnsafePointer<CChar>?>?, Int,
            UnsafeMutablePointer<UnsafeMutableRawPointer?>?, UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
        ) -> Int32,
        release: @convention(c) (UnsafeMutableRawPointer?) -> Void,
        options: [String: String],
        origin: String
    ) throws(PluginError) -> UnsafeMutableRawPointer? {
        let pairs = options.sorted { $0.key < $1.key }
        // strdup'd copies, valid during the call.
        let keys: [UnsafeMutablePointer<CChar>?] = pairs.map { strdup($0.key) }
        let values: [UnsafeMutablePointer<CChar>?] = pairs.map { strdup($0.value) }
        defer {
            for pointer in keys { free(pointer) }
            for pointer in values { free(pointer) }
        }
        var state: UnsafeMutableRawPointer?
        var error: UnsafeMutablePointer<CChar>?
        let constKeys = keys.map { UnsafePointer($0) }
        let constValues = values.map { UnsafePointer($0) }
        let status = constKeys.withUnsafeBufferPointer { keyBuffer in
            constValues.withUnsafeBufferPointer { valueBuffer in
                create(keyBuffer.baseAddress, valueBuffer.baseAddress, pairs.count, &state, &error)
            }
        }
        if status != 0 {
            let message = error.map { String(cString: $0) } ?? "create returned status \(status) without a message"
            if let error { release(error) }
            throw .createFailed(path: origin, message: message)
        }
        return state
    }

    public func handle(_ item: WorkItem, context: WorkContext) async throws -> String? {
        let flag = CancelFlag()
        if context.isCancelled { flag.set() }
        // Copies the runner's flag (set from another task) into the plugin's while it runs.
        let watch = CancellationWatcher.shared.watch(context.cancellation, into: flag)
        defer { CancellationWatcher.shared.unwatch(watch) }
        let outcome = await withTaskCancellationHandler {
            call(item: item, context: context, flag: flag)
        } onCancel: {
            flag.set()
        }
        if let length = outcome.implausibleLength {
            throw PluginError.implausibleOutput(plugin: name, length: length)
        }
        if let (offset, length) = outcome.invalidResult {
            throw PluginError.resultNotUTF8(plugin: name, offset: offset, length: length)
        }
        switch outcome.status {
        case WORKQUEUE_PLUGIN_OK:
            return outcome.output
        case WORKQUEUE_PLUGIN_CANCELLED where flag.isSet:
            // Only a stop the host asked for; otherwise the status is an ordinary failure.
            throw WorkCancelled(reason: context.cancellation.reason ?? .shutdown)
        case WORKQUEUE_PLUGIN_REJECTED:
            // The item can never succeed: the runner dead-letters it on this attempt.
            let reason = outcome.output ?? ""
            throw UnprocessableItem(reason.isEmpty ? "plugin \(name) rejected the item and gave no reason" : reason)
        default:
            // WORKQUEUE_PLUGIN_FAILED, a CANCELLED the host did not ask for, or a status this
            // host does not know (a newer plugin's): a failed attempt, retried.
            throw PluginError.handlerFailed(plugin: name, status: outcome.status, message: outcome.output ?? "")
        }
    }

    /// The most bytes a plugin may return through `out` (a result or a message): larger is
    /// taken as a broken length (say `SIZE_MAX`) and fails the attempt, never read.
    public static let maxOutputBytes = 256 << 20

    /// What `handle` returned: its status and its `out` as text (nil when `out` was NULL), the
    /// length it claimed when that was implausible (nothing was read then), or, for a result
    /// that is not UTF-8, where its first bad byte is and its length.
    private struct Outcome {
        var status: Int32
        var output: String?
        var implausibleLength: UInt?
        var invalidResult: (offset: Int, length: Int)?
    }

    /// The offset of the first byte that is not part of valid UTF-8, or nil.
    static func firstInvalidUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        guard bytes.contains(where: { $0 >= 0x80 }) else { return nil }
        var offset = 0
        var decoder = UTF8()
        var iterator = bytes.makeIterator()
        while true {
            switch decoder.decode(&iterator) {
            case let .scalarValue(scalar): offset += UTF8.width(scalar)
            case .emptyInput: return nil
            case .error: return offset
            }
        }
    }

    private func call(item: WorkItem, context: WorkContext, flag: CancelFlag) -> Outcome {
        var out: UnsafeMutablePointer<UInt8>?
        var outLength = 0
        // The context's WorkProgress outlives the call: the plugin may only use `host` during it.
        let host = Unmanaged.passUnretained(context.progress).toOpaque()
        // One byte more, so that a saved checkpoint of 0 bytes has a non-NULL pointer too.
        let checkpoint = context.checkpoint.map { $0 + [0] } ?? []
        let status = context.session.withCString { session in
            checkpoint.withUnsafeBufferPointer { saved in
                var cContext = workqueue_plugin_context(
                    struct_size: UInt32(MemoryLayout<workqueue_plugin_context>.size),
                    attempt: UInt32(clamping: context.attempt),
                    max_attempts: UInt32(clamping: context.maxAttempts),
                    reserved: 0,
                    session: session,
                    checkpoint: context.checkpoint == nil ? nil : saved.baseAddress,
                    checkpoint_len: context.checkpoint?.count ?? 0,
                    host: host,
                    save_checkpoint: Self.saveCheckpoint,
                    report_progress: Self.reportProgress
                )
                return item.bytes.withUnsafeBufferPointer { bytes in
                    handleFunction(state, bytes.baseAddress, bytes.count, &cContext, flag.pointer, &out, &outLength)
                }
            }
        }
        guard let out else { return Outcome(status: status) }
        defer { freeFunction(out) }
        // `out_len` is a size_t: a negative Int here is above Int.max (e.g. SIZE_MAX).
        guard outLength >= 0, outLength <= Self.maxOutputBytes else {
            return Outcome(status: status, implausibleLength: UInt(bitPattern: outLength))
        }
        let bytes = UnsafeBufferPointer(start: out, count: outLength)
        guard status == WORKQUEUE_PLUGIN_OK else {
            // A message: text for the log and the dead letter (invalid bytes shown as U+FFFD).
            return Outcome(status: status, output: String(decoding: bytes, as: UTF8.self))
        }
        // A result is text (`String`): bytes that are not UTF-8 fail the attempt rather than
        // being changed silently (U+FFFD) on their way to NAME:results. One pass, one copy.
        guard let result = String(validating: bytes, as: UTF8.self) else {
            return Outcome(status: status, invalidResult: (Self.firstInvalidUTF8(bytes) ?? 0, outLength))
        }
        return Outcome(status: status, output: result)
    }
}

extension PluginHandler {
    /// `save_checkpoint`: `host` is the call's `WorkProgress`.
    fileprivate static let saveCheckpoint: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<UInt8>?, Int) -> Int32 = {
        host, bytes, length in
        guard let host else { return 1 }
        let progress = Unmanaged<WorkProgress>.fromOpaque(host).takeUnretainedValue()
        do {
            try progress.save(bytes.map { UnsafeBufferPointer(start: $0, count: length) } ?? UnsafeBufferPointer(start: nil, count: 0))
            return 0
        } catch {
            return 1
        }
    }

    /// `report_progress`: `host` is the call's `WorkProgress`.
    fileprivate static let reportProgress: @convention(c) (UnsafeMutableRawPointer?, Double, UnsafePointer<CChar>?) -> Void = {
        host, fraction, note in
        guard let host else { return }
        Unmanaged<WorkProgress>.fromOpaque(host).takeUnretainedValue()
            .report(fraction, note: note.map { String(cString: $0) } ?? "")
    }
}

/// The `int32_t` the plugin polls; owned by a class so a late watcher never writes freed memory.
final class CancelFlag: @unchecked Sendable {
    // @unchecked: the memory is only written with atomic stores and read with atomic loads.
    let storage: UnsafeMutablePointer<Int32>

    init() {
        storage = .allocate(capacity: 1)
        storage.initialize(to: 0)
    }

    deinit { storage.deallocate() }

    var pointer: UnsafePointer<Int32> { UnsafePointer(storage) }

    func set() { workqueue_plugin_set_cancelled(storage) }

    var isSet: Bool { workqueue_plugin_is_cancelled(storage) != 0 }
}

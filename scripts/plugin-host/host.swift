// A minimal plugin host with no framework inside: loads a plugin through the C ABI
// (workqueue_plugin.h) and runs the items given as arguments. scripts/plugin-static-stdlib
// builds it with -static-stdlib to check that plugins load into a static-stdlib process.
#if canImport(Glibc)
import Glibc
#endif

func fail(_ message: String, _ code: Int32) -> Never {
    fputs("plugin-host: \(message)\n", stderr)
    exit(code)
}

let arguments = CommandLine.arguments
guard arguments.count >= 2 else { fail("usage: plugin-host PLUGIN.so ITEM...", 64) }
guard let library = dlopen(arguments[1], RTLD_NOW | RTLD_LOCAL) else {
    fail("dlopen \(arguments[1]): \(dlerror().map { String(cString: $0) } ?? "unknown error")", 2)
}
guard let entry = dlsym(library, WORKQUEUE_PLUGIN_ENTRY_SYMBOL),
      let table = workqueue_plugin_call_entry(entry)?.pointee,
      table.abi_version == UInt32(WORKQUEUE_PLUGIN_ABI_VERSION),
      let create = table.create, let handle = table.handle, let destroy = table.destroy,
      let release = table.free_buffer
else { fail("\(arguments[1]) has no usable workqueue_plugin_entry", 3) }

var state: UnsafeMutableRawPointer?
var error: UnsafeMutablePointer<CChar>?
guard create(nil, nil, 0, &state, &error) == 0 else {
    fail("create failed: \(error.map { String(cString: $0) } ?? "no message")", 4)
}
var cancelled: Int32 = 0
for item in arguments.dropFirst(2) {
    var out: UnsafeMutablePointer<UInt8>?
    var length = 0
    let status = "static-host".withCString { session in
        // Zeroed, then the fields a version-1 host sets: no checkpoint and no progress callbacks
        // (NULL), which the header's helpers check for.
        var context = workqueue_plugin_context()
        context.struct_size = UInt32(MemoryLayout<workqueue_plugin_context>.size)
        context.attempt = 1
        context.max_attempts = 1
        context.session = session
        return Array(item.utf8).withUnsafeBufferPointer { bytes in
            handle(state, bytes.baseAddress, bytes.count, &context, &cancelled, &out, &length)
        }
    }
    let text = out.map { String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self) }
    // On stdout, so that the static and dynamic hosts' results are compared too.
    print("plugin-host: \(item) -> status \(status), result \(text ?? "none")")
    fflush(stdout)
    if let out { release(out) }
}
destroy(state)

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A shared object opened with `dlopen(RTLD_NOW | RTLD_LOCAL)` after checking that nobody but
/// its owner (root or the current user) can change it. Never closed: code from a plugin may
/// still be referenced (Swift metadata, thread-local destructors) after its last call.
struct SharedLibrary: @unchecked Sendable {
    // The handle is only passed to dlsym, which is thread-safe.
    let path: String
    private let handle: UnsafeMutableRawPointer

    /// Checks ownership and permissions of `path`, then opens it.
    init(path: String) throws(PluginError) {
        try Self.checkTrusted(path: path)
        _ = dlerror()
        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            throw .notSharedObject(path: path, reason: Self.lastError() ?? "unknown dlopen error")
        }
        self.path = path
        self.handle = handle
    }

    /// The address of the exported `symbol`.
    func symbol(_ name: String) throws(PluginError) -> UnsafeMutableRawPointer {
        _ = dlerror()
        guard let address = dlsym(handle, name) else { throw .missingSymbol(path: path, symbol: name) }
        return address
    }

    /// Refuses a file others could have changed: loading it runs its code.
    static func checkTrusted(path: String) throws(PluginError) {
        var info = stat()
        guard stat(path, &info) == 0 else { throw .noSuchFile(path: path) }
        let mode = UInt32(info.st_mode)
        if mode & UInt32(S_IWGRP | S_IWOTH) != 0 { throw .writableByOthers(path: path, mode: mode) }
        let owner = UInt32(info.st_uid)
        if owner != 0 && owner != UInt32(geteuid()) { throw .ownedByAnotherUser(path: path, owner: owner) }
    }

    private static func lastError() -> String? {
        guard let message = dlerror() else { return nil }
        return String(cString: message)
    }
}

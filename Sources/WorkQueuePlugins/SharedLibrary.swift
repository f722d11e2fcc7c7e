#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// A shared object opened with `dlopen(RTLD_NOW | RTLD_LOCAL)` after checking that nobody but
/// its owner (root or the current user) can change it. Never closed: code from a plugin may
/// still be referenced (Swift metadata, thread-local destructors) after its last call.
struct SharedLibrary: @unchecked Sendable {
    // The handle is only passed to dlsym, which is thread-safe.
    let path: String
    private let handle: UnsafeMutableRawPointer

    /// Opens `path`, checks the opened file (a regular file that only its owner, root or the
    /// current user, can change, in a directory that others cannot write to), then loads that
    /// very file through `/proc/self/fd/N`: a file swapped in after the check is never loaded.
    init(path: String) throws(PluginError) {
        guard path.contains("/") else { throw .bareName(path: path) }
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            let code = errno
            if code == ENOENT || code == ENOTDIR { throw .noSuchFile(path: path) }
            throw .unreadable(path: path, reason: String(cString: strerror(code)))
        }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            throw .unreadable(path: path, reason: String(cString: strerror(errno)))
        }
        try Self.checkTrusted(info, path: path)
        try Self.checkDirectory(of: path)
        _ = dlerror()
        let loaded: UnsafeMutableRawPointer?
        // The dynamic loader remembers every library by the name it was opened with, and
        // returns the old one for a name it has seen: each load gets a descriptor number never
        // used for a load before.
        let number = Self.loadFloor.withLock { floor -> Int32 in
            let copy = fcntl(descriptor, F_DUPFD_CLOEXEC, floor)
            if copy >= 0 { floor = copy + 1 }
            return copy
        }
        guard number >= 0 else { throw .unreadable(path: path, reason: String(cString: strerror(errno))) }
        defer { close(number) }
        let procPath = "/proc/self/fd/\(number)"
        if access(procPath, F_OK) == 0 {
            loaded = dlopen(procPath, RTLD_NOW | RTLD_LOCAL)
        } else {
            // No /proc: load by path, but only if it still names the file that was checked.
            var again = stat()
            guard stat(path, &again) == 0, again.st_dev == info.st_dev, again.st_ino == info.st_ino else {
                throw .unreadable(path: path, reason: "the file changed while it was being checked")
            }
            loaded = dlopen(path, RTLD_NOW | RTLD_LOCAL)
        }
        guard let handle = loaded else {
            let reason = (Self.lastError() ?? "unknown dlopen error").replacing(procPath, with: path)
            throw .notSharedObject(path: path, reason: reason)
        }
        self.path = path
        self.handle = handle
    }

    /// Above every descriptor number used for a load so far.
    private static let loadFloor = Mutex<Int32>(3)

    /// The address of the exported `symbol`.
    func symbol(_ name: String) throws(PluginError) -> UnsafeMutableRawPointer {
        _ = dlerror()
        guard let address = dlsym(handle, name) else { throw .missingSymbol(path: path, symbol: name) }
        return address
    }

    /// Refuses a file others could have changed: loading it runs its code.
    static func checkTrusted(_ info: stat, path: String) throws(PluginError) {
        let mode = UInt32(info.st_mode)
        guard mode & UInt32(S_IFMT) == UInt32(S_IFREG) else { throw .notRegularFile(path: path) }
        if mode & UInt32(S_IWGRP | S_IWOTH) != 0 { throw .writableByOthers(path: path, mode: mode) }
        let owner = UInt32(info.st_uid)
        if owner != 0 && owner != UInt32(geteuid()) { throw .ownedByAnotherUser(path: path, owner: owner) }
    }

    /// Refuses a file in a directory that users other than its owner can write to without the
    /// sticky bit (they could rename another file into its place).
    static func checkDirectory(of path: String) throws(PluginError) {
        let directory = path.lastIndex(of: "/").map { index in
            index == path.startIndex ? "/" : String(path[..<index])
        } ?? "."
        var info = stat()
        guard stat(directory, &info) == 0 else { return }
        let mode = UInt32(info.st_mode)
        if mode & UInt32(S_IWOTH) != 0 && mode & UInt32(S_ISVTX) == 0 {
            throw .directoryWritableByOthers(path: path, directory: directory, mode: mode)
        }
    }

    private static func lastError() -> String? {
        guard let message = dlerror() else { return nil }
        return String(cString: message)
    }
}

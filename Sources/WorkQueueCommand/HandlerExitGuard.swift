#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Synchronization

/// Turns a process exit that no command decided on (a handler or plugin calling `exit()`, or
/// a library it uses doing so) into a crash with its own status, ``ExitStatus/handlerExited``
/// (70), and a message on stderr: never status 0 with items unfinished.
///
/// `work` arms it before the worker starts; ``RootCommand/main()`` disarms it once the command
/// returned or threw, just before it exits with the command's own status. While armed, an
/// `atexit` handler (which `exit()` runs, whatever status it was given) writes the message and
/// ends the process with `_exit(70)`. The items the worker held stay leased and come back
/// through recovery once their leases expire, as after a SIGSEGV. `_exit()`, `quick_exit()`
/// and signals bypass `atexit`; a signal gives 128 + its number as before.
enum HandlerExitGuard {
    private static let armed = Atomic<Bool>(false)

    /// Registers the `atexit` handler, once per process.
    private static let installed: Bool = atexit(onExit) == 0

    /// From now on an exit not decided by the command ends with status 70.
    static func arm() {
        _ = installed
        armed.store(true, ordering: .sequentiallyConsistent)
    }

    /// The command is about to exit with its own status.
    static func disarm() {
        armed.store(false, ordering: .sequentiallyConsistent)
    }

    private static let onExit: @convention(c) () -> Void = {
        guard HandlerExitGuard.armed.load(ordering: .sequentiallyConsistent) else { return }
        let message = """
            Error: the process was asked to exit (exit() called by a handler or plugin, or a library it uses) while the \
            worker was running; exiting with status \(ExitStatus.handlerExited) instead: calling exit() in a handler is a \
            crash. Items this worker held stay leased and come back through recovery once their lease expires.

            """
        var bytes = Array(message.utf8)
        _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
        _exit(ExitStatus.handlerExited)
    }
}

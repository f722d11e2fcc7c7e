#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The name the running program calls itself in help and messages: what
/// ``WorkerCommand/main(handlers:name:)`` was given, by default the executable's file name
/// (`workqueue` for the bundled one, `word-count-worker` for a team's own worker).
enum ProgramName {
    /// Set around parsing and running by ``WorkerCommand/main(handlers:name:)``.
    @TaskLocal static var current = "workqueue"

    /// The file name the process was started with (`argv[0]` without its folder), or
    /// `workqueue` when there is none.
    static var ofProcess: String {
        guard let first = CommandLine.arguments.first, !first.isEmpty else { return "workqueue" }
        let name = first.split(separator: "/").last.map(String.init) ?? first
        return name.isEmpty ? "workqueue" : name
    }
}

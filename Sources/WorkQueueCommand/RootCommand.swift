import ArgumentParser
import WorkQueueRedis
#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// `workqueue`: the worker and its queue tools. Run by ``WorkerCommand/main(handlers:)``, which
/// sets the compiled-in handlers (``HandlerRegistry/current``) first.
struct RootCommand: AsyncParsableCommand {
    static var configuration: CommandConfiguration { CommandConfiguration(
        commandName: ProgramName.current,
        abstract: "A worker for the Kubernetes work-queue pattern, and tools for its Redis queue.",
        discussion: """
            Every flag also reads an environment variable (the flag wins), so a Kubernetes \
            manifest can configure the worker with env only. Run `\(ProgramName.current) help <command>` \
            for each command's variables. Exit status (every command): 0 done (`work`: the \
            queue is drained); 1 a transient outage outlasted its budget; 64 a bad flag or \
            variable; 78 a permanent configuration error (or input the command cannot carry: a \
            push line above 256 MiB, a NUL in `results --csv`); 143 stopped by SIGTERM or SIGINT; `wait`: 2 drained with dead letters, 124 timed out; `work --on-drained`: 3 \
            the hook failed; `work`: 4 the job was cancelled (`\(ProgramName.current) cancel`), 5 handlers \
            left running past --item-timeout held every spare thread, 70 a handler called exit().
            """,
        version: "\(ProgramName.current) \(Version.current) (swift-workqueue)",
        subcommands: [Work.self, Push.self, Open.self, Close.self, Status.self, Dashboard.self, Wait.self, Workers.self, Dead.self, Results.self, Reap.self, Pause.self, Resume.self, Cancel.self, Cancelled.self, Handlers.self,
                      SettingsCommand.self]
    ) }

    /// ArgumentParser's `main`, with our errors mapped to their exit status by ``ExitStatus``
    /// (the message stays `Error: ...`). Every error message, ArgumentParser's own too (it
    /// echoes a bad value), has its credentials redacted (``Redaction``), whatever the shape
    /// of the URL they were in; help and version output (exit 0) is printed as it is.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
            // The command's own exit (returning from main runs exit(0)), not a handler's.
            HandlerExitGuard.disarm()
        } catch {
            HandlerExitGuard.disarm()
            let code = ExitStatus.code(for: error) ?? exitCode(for: error).rawValue
            guard code != ExitCode.success.rawValue else { exit(withError: error) }
            // A Redis error names the settings to check by their flags and variables here.
            let shown: any Error = (error as? RedisError).map { CommandError.redis($0) } ?? error
            let message = Redaction.redactingCredentials(inMessage: fullMessage(for: shown))
            if !message.isEmpty {
                var line = Array((message + "\n").utf8)
                _ = line.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
            }
            exit(withError: ExitCode(code))
        }
    }
}

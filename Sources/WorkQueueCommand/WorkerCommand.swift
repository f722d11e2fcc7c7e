import WorkQueue
import WorkQueueRedis

/// The `workqueue` command as a library: a worker executable of your own, with your handlers
/// compiled in, in one line (this is `Examples/PrinterWorker/main.swift`):
///
/// ```swift
/// import PrinterHandler
/// import WorkQueueCommand
///
/// await WorkerCommand.main(handlers: [Printer.self])
/// ```
///
/// The program then has every subcommand, flag, environment variable, exit status and feature
/// of the bundled `workqueue` (which is exactly this call with the example handlers): `work`,
/// `push`, `open`, `close`, `status`, `workers`, `dead`, `reap` and `handlers`, each documented
/// by `--help`. Help and messages call it by its own name: the executable's file name unless
/// `name` says otherwise.
public enum WorkerCommand {
    /// Parses the process's arguments (`CommandLine.arguments`) and environment and runs the
    /// command they name. Returns once that command has succeeded (status 0); otherwise, and
    /// after `--help`, it exits the process itself, with the command's status (docs/commands.md "Exit
    /// status": 1 a transient outage outlasted its budget, 64 a bad flag or variable, 78 a
    /// permanent configuration error, 143 stopped by SIGTERM or SIGINT) and the message on
    /// stderr as `Error: ...`.
    ///
    /// - Parameter handlers: The handler types compiled in, in the order `handlers` lists them;
    ///   `work --handler NAME` picks one by its `NamedWorkHandler.name` (names should be
    ///   unique: the first with a name wins). With exactly one, `work` runs it when neither
    ///   `--handler` nor `--plugin` is given (nor their variables); with none or several,
    ///   `work` needs exactly one of `--handler NAME` and `--plugin PATH`. `--plugin` loads a
    ///   handler from a shared object whatever is compiled in.
    /// - Parameter name: What help and messages call the program (`USAGE: NAME work ...`);
    ///   by default the file name it was started as.
    public static func main(handlers: [any NamedWorkHandler.Type], name: String? = nil) async {
        let name = name.flatMap { $0.isEmpty ? nil : $0 } ?? ProgramName.ofProcess
        await ProgramName.$current.withValue(name) {
            await HandlerRegistry.$current.withValue(HandlerRegistry(handlers)) {
                // The library's hints on server replies name settings by this command's flags.
                await RedisSetting.$names.withValue(CommandError.redisSettingTable) {
                    await RootCommand.main()
                }
            }
        }
    }
}

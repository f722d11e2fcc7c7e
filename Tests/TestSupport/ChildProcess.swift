import Foundation
import Synchronization

/// A child process started with `posix_spawn`, its stdout and stderr going to files (no pipe
/// can fill up and stall it), waited for by polling with a bound, never forever.
public final class ChildProcess: Sendable {
    /// What ended the process.
    public enum Termination: Equatable, Sendable, CustomStringConvertible {
        case exited(Int32)
        case signaled(Int32)

        public var description: String {
            switch self {
            case let .exited(code): "exit \(code)"
            case let .signaled(signal): "signal \(signal)"
            }
        }
    }

    public enum Failure: Error, CustomStringConvertible {
        case spawn(String, errno: Int32)
        case timedOut(String, seconds: Double, stderr: String)
        case notReady(String, output: String)

        public var description: String {
            switch self {
            case let .spawn(path, code): "could not start \(path): \(String(cString: strerror(code)))"
            case let .timedOut(command, seconds, stderr):
                "\(command) still ran after \(seconds) s and was killed; its stderr:\n\(stderr)"
            case let .notReady(what, output):
                "\(what) did not become ready; its output:\n\(output)"
            }
        }
    }

    public let pid: pid_t
    public let command: String
    public let stdoutPath: String
    public let stderrPath: String
    /// How it ended, once reaped.
    private let ended = Mutex<Termination?>(nil)
    /// Keeps the directory holding the output files alive as long as the process value.
    private let outputDirectory: TemporaryDirectory?

    /// Starts `executable` with `arguments`; `environment` is added to (and overrides) this
    /// process's environment. Output goes to `<directory>/<label>.out` and `.err`; pass
    /// `keeping` to keep a temporary directory alive while the output is read.
    public init(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                directory: String, label: String, keeping outputDirectory: TemporaryDirectory? = nil) throws {
        self.outputDirectory = outputDirectory
        command = ([executable] + arguments).joined(separator: " ")
        stdoutPath = directory + "/" + label + ".out"
        stderrPath = directory + "/" + label + ".err"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        var merged = ProcessInfo.processInfo.environment
        for (key, value) in environment { merged[key] = value }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        // A clean signal state: the test runner may block or ignore signals (SIGTERM, SIGPIPE),
        // and a child inherits both, so a server would never see the SIGTERM that stops it.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGPIPE, SIGCHLD, SIGHUP] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var child: pid_t = 0
        let result = posix_spawn(&child, executable, &actions, &attributes, argv, envp)
        guard result == 0 else { throw Failure.spawn(executable, errno: result) }
        pid = child
    }

    /// Sends `signal` (e.g. `SIGTERM`).
    public func send(_ signal: Int32) { kill(pid, signal) }

    /// Waits for the process to end, polling every 10 ms; after `timeout` it is killed and
    /// ``Failure/timedOut(_:seconds:stderr:)`` thrown.
    @discardableResult
    public func wait(timeout: Duration = .seconds(60)) async throws -> Termination {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let termination = poll() { return termination }
            if ContinuousClock.now >= deadline {
                kill(pid, SIGKILL)
                var status: Int32 = 0
                _ = waitpid(pid, &status, 0)
                let (seconds, attoseconds) = timeout.components
                throw Failure.timedOut(command, seconds: Double(seconds) + Double(attoseconds) / 1e18, stderr: stderr)
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// How the process ended, or nil while it runs (never blocks).
    public func poll() -> Termination? {
        ended.withLock { ended in
            if let ended { return ended }
            var status: Int32 = 0
            guard waitpid(pid, &status, WNOHANG) == pid else { return nil }
            let signal = status & 0x7F
            ended = signal == 0 ? .exited((status >> 8) & 0xFF) : .signaled(signal)
            return ended
        }
    }

    /// Waits (polling, bounded) until stdout contains `text`; false if it never did.
    public func waitForStdout(containing text: String, timeout: Duration = .seconds(20)) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if stdout.contains(text) { return true }
            if poll() != nil { return stdout.contains(text) }
            try await Task.sleep(for: .milliseconds(10))
        }
        return false
    }

    /// Everything written to stdout so far.
    public var stdout: String { Self.read(stdoutPath) }
    /// Everything written to stderr so far.
    public var stderr: String { Self.read(stderrPath) }
    /// stdout's lines.
    public var stdoutLines: [String] { stdout.split(separator: "\n").map(String.init) }

    private static func read(_ path: String) -> String {
        FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    /// Runs to completion and returns the process (for its output) and how it ended.
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                           directory: String, label: String, timeout: Duration = .seconds(60)) async throws
        -> (process: ChildProcess, termination: Termination)
    {
        let process = try ChildProcess(executable, arguments, environment: environment, directory: directory, label: label)
        let termination = try await process.wait(timeout: timeout)
        return (process, termination)
    }
}

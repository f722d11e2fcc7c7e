import Foundation
import Synchronization

/// A real `redis-server` for tests: 127.0.0.1, a free port, its own temp dir, stopped by
/// ``stop()`` (and on deinit). Starting waits for `PING` with a bound.
public final class LocalRedis: Sendable {
    public let port: Int
    public let directory: TemporaryDirectory
    /// Extra `redis-server` arguments (e.g. `--requirepass`).
    public let arguments: [String]
    private let server: Mutex<ChildProcess>
    /// `redis-cli` arguments that authenticate, when the server needs it.
    private let cliAuthentication: [String]
    /// For a TLS-only server: its certificates.
    public let tls: TestCertificates?

    /// Starts a server with extra `arguments`; `cliAuthentication` (e.g. `["--user", "u",
    /// "--pass", "p"]`) is what ``cli(_:)-(String...)`` passes so that it can log in.
    ///
    /// With `tls`, the server serves TLS only (`--port 0 --tls-port <port>`) with the server
    /// certificate, checks client certificates against the CA (`tlsAuthClients`: `no`,
    /// `optional` or `yes`), and ``cli(_:)-(String...)`` connects with TLS and the client
    /// certificate.
    public init(arguments: [String] = [], cliAuthentication: [String] = [], tls: TestCertificates? = nil,
                tlsAuthClients: String = "optional") async throws {
        var arguments = arguments
        var cliAuthentication = cliAuthentication
        if let tls {
            arguments = tls.serverArguments(authClients: tlsAuthClients) + arguments
            cliAuthentication = tls.cliArguments + cliAuthentication
        }
        self.arguments = arguments
        self.cliAuthentication = cliAuthentication
        self.tls = tls
        directory = try TemporaryDirectory("workqueue-redis")
        var lastError: (any Error)?
        for _ in 0..<5 {
            let port = try Self.freePort()
            let server = try Self.launch(port: port, tls: tls != nil, directory: directory, arguments: arguments)
            do {
                try await Self.waitForPing(port: port, server: server, directory: directory.path, authentication: cliAuthentication)
                self.port = port
                self.server = Mutex(server)
                return
            } catch {
                server.send(SIGKILL)
                _ = try? await server.wait(timeout: .seconds(5))
                lastError = error
            }
        }
        throw lastError ?? ChildProcess.Failure.spawn("redis-server", errno: EADDRINUSE)
    }

    /// Runs `body` with a fresh server and stops the server afterwards, also when `body` throws.
    public static func with<T>(_ body: (LocalRedis) async throws -> T) async throws -> T {
        let redis = try await LocalRedis()
        do {
            let value = try await body(redis)
            await redis.stop()
            return value
        } catch {
            await redis.stop()
            throw error
        }
    }

    /// `redis://127.0.0.1:<port>` (`rediss://` for a TLS server).
    public var url: String { "\(tls == nil ? "redis" : "rediss")://127.0.0.1:\(port)" }

    /// Runs `redis-cli` against this server and returns its trimmed stdout.
    @discardableResult
    public func cli(_ arguments: String...) async throws -> String {
        try await cli(arguments)
    }

    /// Runs `redis-cli` with `arguments` against this server and returns its trimmed stdout.
    @discardableResult
    public func cli(_ arguments: [String]) async throws -> String {
        try await Self.cli(port: port, cliAuthentication + arguments, directory: directory.path)
    }

    /// Sends `signal` to the server process (SIGSTOP pauses it: connections stay open and
    /// nothing answers; SIGCONT resumes it).
    public func signal(_ signal: Int32) {
        server.withLock { $0.send(signal) }
    }

    /// Stops the server and waits for it.
    public func stop() async {
        let server = self.server.withLock { $0 }
        server.send(SIGTERM)
        _ = try? await server.wait(timeout: .seconds(10))
    }

    /// Stops the server and starts a new one on the same port (empty: nothing is persisted).
    public func restart() async throws {
        await stop()
        let server = try Self.launch(port: port, tls: tls != nil, directory: directory, arguments: arguments)
        self.server.withLock { $0 = server }
        try await Self.waitForPing(port: port, server: server, directory: directory.path, authentication: cliAuthentication)
    }

    deinit { server.withLock { $0.send(SIGKILL) } }

    private static func launch(port: Int, tls: Bool, directory: TemporaryDirectory, arguments: [String]) throws -> ChildProcess {
        let ports = tls ? ["--port", "0", "--tls-port", "\(port)"] : ["--port", "\(port)"]
        return try ChildProcess(
            try locate("redis-server"),
            ["--bind", "127.0.0.1"] + ports + ["--dir", directory.path, "--save", "", "--appendonly", "no"] + arguments,
            directory: directory.path, label: "redis-\(port)-\(UUID().uuidString)", keeping: directory)
    }

    private static func cli(port: Int, _ arguments: [String], directory: String) async throws -> String {
        let (process, _) = try await ChildProcess.run(
            try locate("redis-cli"), ["-h", "127.0.0.1", "-p", "\(port)"] + arguments,
            directory: directory, label: "cli-\(UUID().uuidString)", timeout: .seconds(20))
        return process.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private static func waitForPing(port: Int, server: ChildProcess, directory: String, authentication: [String]) async throws {
        for _ in 0..<200 {
            if (try? await cli(port: port, authentication + ["PING"], directory: directory)) == "PONG" { return }
            if server.poll() != nil { break } // it exited: a bad argument, or the port was taken
            try await Task.sleep(for: .milliseconds(25))
        }
        throw ChildProcess.Failure.notReady("redis-server on port \(port)", output: server.stdout)
    }

    /// A port nobody listens on now: bind port 0 on loopback, read the port, close.
    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ChildProcess.Failure.spawn("socket", errno: errno) }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bind(fd, socketAddress, length) == 0 && getsockname(fd, socketAddress, &length) == 0
            }
        }
        guard bound else { throw ChildProcess.Failure.spawn("bind", errno: errno) }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// The full path of a program on PATH.
    public static func locate(_ program: String) throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(program)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        throw ChildProcess.Failure.spawn(program + " (not on PATH; scripts/test installs it with apt)", errno: ENOENT)
    }
}

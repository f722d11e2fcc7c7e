import Foundation
import NIOCore
import NIOPosix
import WorkQueueRedis

/// A real redis-server on 127.0.0.1, a free port and a temp dir; stopped by `stop()`.
final class RedisServer: @unchecked Sendable {
    let port: Int
    let directory: URL
    private var process: Process?

    init() async throws {
        port = try await Self.freePort()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("wq-redis-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try await start()
    }

    var configuration: RedisConfiguration { RedisConfiguration(host: "127.0.0.1", port: port) }

    static func freePort() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress?.port ?? 0
        try await channel.close()
        return port
    }

    func start() async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/redis-server")
        process.arguments = ["--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", directory.path]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        for _ in 0..<200 {
            if (try? cli("PING")) == "PONG" { return }
            try await Task.sleep(for: .milliseconds(25))
        }
        stop()
        throw RedisError.connectFailed("redis-server on port \(port) did not answer PING")
    }

    func stop() {
        guard let process else { return }
        process.terminate()
        process.waitUntilExit()
        self.process = nil
    }

    func restart() async throws {
        stop()
        try await start()
    }

    /// Runs the real redis-cli against this server; returns its trimmed output.
    @discardableResult
    func cli(_ arguments: String...) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/redis-cli")
        process.arguments = ["-h", "127.0.0.1", "-p", "\(port)"] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    deinit {
        process?.terminate()
        try? FileManager.default.removeItem(at: directory)
    }
}

/// Runs `body` with a fresh server, stopping it afterwards.
func withRedis<T>(_ body: (RedisServer) async throws -> T) async throws -> T {
    let server = try await RedisServer()
    defer { server.stop() }
    return try await body(server)
}

import Foundation
import Testing
import TestSupport
import WorkQueue
import WorkQueueRedis

/// A server that stops answering makes commands fail within the command timeout, naming the
/// endpoint and the command; the next command reconnects.
@Suite struct CommandTimeoutTests {
    @Test func aListenerThatNeverAnswersTimesOutNamingEndpointAndCommand() async throws {
        let listener = try SilentListener()
        defer { withExtendedLifetime(listener) {} }
        let port = listener.port
        var configuration = RedisConfiguration(host: "127.0.0.1", port: port)
        configuration.commandTimeout = .milliseconds(200)
        // A new connection loads the queue's scripts first, so the silence shows at connect:
        // each attempt times out on SCRIPT, and the connect gives up within its budget,
        // naming the endpoint and the command that got no answer.
        let started = ContinuousClock.now
        await #expect {
            _ = try await RedisQueue.connect(name: "q", configuration: configuration, connectBudget: .seconds(2))
        } throws: { error in
            guard let error = error as? RedisError, case let .unreachable(endpoint, _, _, lastError) = error else { return false }
            return endpoint == "127.0.0.1:\(port)" && lastError.contains("did not answer SCRIPT")
        }
        #expect(ContinuousClock.now - started < .seconds(5))
    }

    /// The connect timeout covers the whole start-up, the first replies included: a server
    /// that accepts and then stays silent fails the connect within the connect timeout, not
    /// after the (much longer) reply timeout of its first command.
    @Test func theConnectTimeoutCoversTheFirstReplies() async throws {
        let listener = try SilentListener()
        defer { withExtendedLifetime(listener) {} }
        var configuration = RedisConfiguration(host: "127.0.0.1", port: listener.port)
        configuration.commandTimeout = .seconds(20)
        configuration.connectTimeout = .seconds(1)
        let started = ContinuousClock.now
        await #expect {
            _ = try await RedisQueue.connect(name: "q", configuration: configuration, connectBudget: .seconds(1))
        } throws: { error in
            guard let error = error as? RedisError, case let .unreachable(endpoint, _, _, lastError) = error else { return false }
            return endpoint == "127.0.0.1:\(listener.port)" && lastError.contains("connect timeout")
        }
        // Before the budget covered the replies this took the 20 s reply timeout.
        #expect(ContinuousClock.now - started < .seconds(10))
    }

    @Test func aPausedServerTimesOutThenTheNextCommandReconnects() async throws {
        let redis = try await LocalRedis(arguments: ["--enable-debug-command", "yes"])
        var configuration = RedisConfiguration(host: "127.0.0.1", port: redis.port)
        configuration.commandTimeout = .milliseconds(300)
        let queue = try await RedisQueue.connect(name: "q", configuration: configuration)
        try await queue.enqueue(["a"])
        // Pause every client's commands for 1.5 s (CLIENT PAUSE returns at once, so the pause
        // is in force when the next line runs, however loaded the machine), then ask. The
        // timed-out RPUSH may still run once the pause ends (at-least-once), so only "a" is
        // certain.
        try await redis.cli("CLIENT", "PAUSE", "1500", "ALL")
        await #expect(throws: RedisError.self) { _ = try await queue.enqueue(["b"]) }
        try await Task.sleep(for: .milliseconds(1600))
        #expect(try await queue.counts().pending >= 1)
        await queue.close()
        await redis.stop()
    }
}

/// A socket that listens (the kernel completes connections) but never reads or replies.
private final class SilentListener {
    let fd: Int32
    let port: Int

    init() throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let fd = fd
        let listening = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && listen(fd, 8) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        if !listening { close(fd) }
        try #require(listening)
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(fd) }
}

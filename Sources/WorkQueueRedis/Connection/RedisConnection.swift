import Logging
import NIOCore
import NIOPosix

/// One TCP connection to Redis: pipelined commands, replies matched in order.
public final class RedisConnection: Sendable {
    private let channel: any Channel
    /// The configuration it was opened with.
    public let configuration: RedisConfiguration

    private init(channel: any Channel, configuration: RedisConfiguration) {
        self.channel = channel
        self.configuration = configuration
    }

    /// Opens a connection (one attempt, bounded by `configuration.connectTimeout`), then sends
    /// AUTH and SELECT as configured.
    public static func connect(_ configuration: RedisConfiguration,
                               group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> RedisConnection {
        let endpoint = configuration.endpoint
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(.nanoseconds(Self.nanoseconds(configuration.connectTimeout)))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(RESPChannelHandler(endpoint: endpoint))
                }
            }
        let channel = try await bootstrap.connect(host: configuration.host, port: configuration.port).get()
        let connection = RedisConnection(channel: channel, configuration: configuration)
        do {
            if let password = configuration.password {
                var auth: [RESPArgument] = ["AUTH"]
                if let user = configuration.username { auth.append(RESPArgument(user)) }
                auth.append(RESPArgument(password))
                do {
                    _ = try await connection.send(auth)
                } catch RedisError.server(let message) {
                    let who = configuration.username.map { " as user '\($0)'" } ?? ""
                    throw RedisError.server("Redis at \(endpoint) refused the login\(who): \(message); "
                        + "check the user and password in --redis or REDIS_URL")
                }
            }
            if configuration.database != 0 {
                do {
                    _ = try await connection.send(["SELECT", RESPArgument(configuration.database)])
                } catch RedisError.server(let message) {
                    throw RedisError.server("Redis at \(endpoint) refused SELECT \(configuration.database): \(message); "
                        + "check the database number at the end of the Redis URL")
                }
            }
        } catch {
            await connection.close()
            throw error
        }
        return connection
    }

    /// Whether the socket is still open.
    public var isActive: Bool { channel.isActive }

    /// Sends one command; an error reply throws ``RedisError/server(_:)``.
    public func send(_ command: [RESPArgument]) async throws -> RESPValue {
        let replies = try await pipeline([command])
        if case let .error(message) = replies[0] { throw RedisError.server(message) }
        return replies[0]
    }

    /// Sends many commands in one write; returns their replies in order (error replies are
    /// returned as `.error` values, not thrown).
    /// Without a reply within `timeout` (default ``RedisConfiguration/commandTimeout``) every
    /// command of the batch fails with ``RedisError/timedOut(endpoint:command:after:)`` and the
    /// connection is closed: a late reply would otherwise be matched to a later command.
    public func pipeline(_ commands: [[RESPArgument]], timeout: Duration? = nil) async throws -> [RESPValue] {
        guard !commands.isEmpty else { return [] }
        var buffer = channel.allocator.buffer(capacity: 64 * commands.count)
        for command in commands { buffer.writeBytes(RESPEncoder.encodeCommand(command)) }
        let promises = commands.map { _ in channel.eventLoop.makePromise(of: RESPValue.self) }
        let futures = promises.map(\.futureResult)
        // Not awaiting the write saves a thread hop per command: a failed write fails the
        // reply promises instead (a second completion of a promise is ignored by NIO).
        let endpoint = configuration.endpoint
        let written = channel.eventLoop.makePromise(of: Void.self)
        written.futureResult.whenFailure { _ in
            for promise in promises { promise.fail(RedisError.connectionClosed(endpoint)) }
        }
        let limit = timeout ?? configuration.commandTimeout
        let name = String(decoding: commands[0].first?.bytes ?? [], as: UTF8.self).uppercased()
        let stalled = self.channel
        let deadline = stalled.eventLoop.scheduleTask(in: .nanoseconds(Self.nanoseconds(limit))) {
            for promise in promises { promise.fail(RedisError.timedOut(endpoint: endpoint, command: name, after: limit)) }
            stalled.close(promise: nil)
        }
        futures.last?.whenComplete { _ in deadline.cancel() }
        channel.writeAndFlush(RedisRequest(bytes: buffer, promises: promises), promise: written)
        var replies: [RESPValue] = []
        replies.reserveCapacity(futures.count)
        for future in futures { replies.append(try await future.get()) }
        return replies
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds > Int64.max / 1_000_000_000 - 1 ? Int64.max : seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    /// Closes the socket; pending commands fail with ``RedisError/connectionClosed(_:)``.
    public func close() async {
        try? await channel.close()
    }
}

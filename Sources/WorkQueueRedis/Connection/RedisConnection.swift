import NIOCore
import NIOPosix

/// One TCP connection to Redis: pipelined commands, replies matched in order by its
/// ``RESPChannelHandler``; requests go to the handler on the event loop and the caller is
/// resumed from there.
package final class RedisConnection: Sendable {
    private let channel: any Channel
    private let handler: NIOLoopBound<RESPChannelHandler>
    /// The configuration it was opened with.
    package let configuration: RedisConfiguration

    private init(channel: any Channel, handler: NIOLoopBound<RESPChannelHandler>, configuration: RedisConfiguration) {
        self.channel = channel
        self.handler = handler
        self.configuration = configuration
    }

    /// Opens a connection (one attempt, bounded by `configuration.connectTimeout`), then sends
    /// AUTH and SELECT as configured, then `setup` pipelined. A refusal of any of them closes
    /// the socket and throws ``RedisError/server(_:)`` naming the endpoint (never the password).
    package static func connect(_ configuration: RedisConfiguration, setup: [RESPCommand] = [],
                                group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> RedisConnection {
        let endpoint = configuration.endpoint
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(TimeAmount(configuration.connectTimeout))
            // TCP_NODELAY at the TCP level: `.socketOption(.tcp_nodelay)` would be SOL_SOCKET with
            // the same number, SO_DEBUG, which needs CAP_NET_ADMIN (EACCES in a container).
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(RESPChannelHandler(endpoint: endpoint))
                }
            }
        let connection = try await bootstrap.connect(host: configuration.host, port: configuration.port)
            .flatMapThrowing { channel in
                let handler: RESPChannelHandler
                do {
                    handler = try channel.pipeline.syncOperations.handler(type: RESPChannelHandler.self)
                } catch {
                    channel.close(promise: nil)
                    throw error
                }
                return RedisConnection(channel: channel, handler: NIOLoopBound(handler, eventLoop: channel.eventLoop),
                                       configuration: configuration)
            }.get()
        do {
            try await connection.prepare(setup: setup)
        } catch {
            await connection.close()
            throw error
        }
        return connection
    }

    private func prepare(setup: [RESPCommand]) async throws {
        let endpoint = configuration.endpoint
        if let password = configuration.password {
            var auth = RESPCommand(capacity: 64)
            auth.append("AUTH")
            if let user = configuration.username { auth.append(user) }
            auth.append(password)
            if case let .error(message) = try await send([auth], timeout: configuration.commandTimeout)[0] {
                let who = configuration.username.map { " as user '\($0)'" } ?? ""
                throw RedisError.server("Redis at \(endpoint) refused the login\(who): \(message); "
                    + "check the user and password in --redis or REDIS_URL")
            }
        }
        if configuration.database != 0 {
            var select = RESPCommand(capacity: 32)
            select.append("SELECT")
            select.append(configuration.database)
            if case let .error(message) = try await send([select], timeout: configuration.commandTimeout)[0] {
                throw RedisError.server("Redis at \(endpoint) refused SELECT \(configuration.database): \(message); "
                    + "check the database number at the end of the Redis URL")
            }
        }
        if !setup.isEmpty {
            let replies = try await send(setup, timeout: configuration.commandTimeout)
            for (command, reply) in zip(setup, replies) {
                if case let .error(message) = reply {
                    throw RedisError.server("Redis at \(endpoint) refused the connection setup command \(command.name): \(message)")
                }
            }
        }
    }

    /// Whether the socket is still open.
    package var isActive: Bool { channel.isActive }

    /// Sends commands in one write; returns their replies in order (error replies are
    /// returned as `.error` values, not thrown). Without all replies within `timeout` every
    /// pending command fails with ``RedisError/timedOut(endpoint:command:after:)`` and the
    /// connection closes.
    package func send(_ commands: [RESPCommand], timeout: Duration) async throws -> [RESPValue] {
        guard !commands.isEmpty else { return [] }
        let handler = self.handler
        let eventLoop = channel.eventLoop
        return try await withCheckedThrowingContinuation { continuation in
            let request = RedisRequest(commands: commands, waiter: .continuation(continuation), timeout: timeout)
            if eventLoop.inEventLoop {
                handler.value.send(request)
            } else {
                eventLoop.execute { handler.value.send(request) }
            }
        }
    }

    /// Starts closing the socket without waiting.
    package func closeSoon() {
        channel.close(promise: nil)
    }

    /// Closes the socket; pending commands fail with ``RedisError/connectionClosed(_:)``.
    package func close() async {
        try? await channel.close()
    }
}

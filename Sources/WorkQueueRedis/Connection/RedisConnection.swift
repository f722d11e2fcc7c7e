import NIOCore
import NIOPosix

/// One TCP connection to Redis (in TLS for a `rediss://` URL): pipelined commands, replies
/// matched in order by its ``RESPChannelHandler``; requests go to the handler on the event loop
/// and the caller is resumed from there.
package final class RedisConnection: Sendable {
    private let channel: any Channel
    private let handler: NIOLoopBound<RESPChannelHandler>
    /// Over TLS: the handler that saw the handshake and keeps the first TLS error.
    private let tlsObserver: NIOLoopBound<TLSHandshakeHandler>?
    /// The configuration it was opened with.
    package let configuration: RedisConfiguration

    private init(channel: any Channel, handler: NIOLoopBound<RESPChannelHandler>,
                 tlsObserver: NIOLoopBound<TLSHandshakeHandler>?, configuration: RedisConfiguration) {
        self.channel = channel
        self.handler = handler
        self.tlsObserver = tlsObserver
        self.configuration = configuration
    }

    /// Opens a connection (one attempt, bounded by `configuration.connectTimeout`), then, with
    /// `tls`, waits for the TLS handshake, then sends AUTH and SELECT as configured, then `setup`
    /// pipelined (or a PING when there is nothing to send), all within the same timeout: the
    /// budget covers the whole start-up, the first replies included, so a server that accepts
    /// and then stalls (or answers a byte a second) fails the connect, not the first command. A refusal of any of them closes the socket
    /// and throws ``RedisError/server(_:)`` naming the endpoint (never the password); a TLS
    /// failure throws what ``RedisTLSContext`` makes of it. `tls` must be the context of
    /// `configuration` (nil for a plaintext URL): it is built once and shared by every
    /// connection.
    package static func connect(_ configuration: RedisConfiguration, tls: RedisTLSContext? = nil, setup: [RESPCommand] = [],
                                group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> RedisConnection {
        let endpoint = configuration.endpoint
        let attemptTimeout = configuration.connectTimeout
        // The TCP connect and the TLS handshake share one budget.
        let deadline = NIODeadline.now() + TimeAmount(attemptTimeout)
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(TimeAmount(configuration.connectTimeout))
            // TCP_NODELAY at the TCP level: `.socketOption(.tcp_nodelay)` would be SOL_SOCKET with
            // the same number, SO_DEBUG, which needs CAP_NET_ADMIN (EACCES in a container).
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    if let tls {
                        // TLS first: the RESP handler reads and writes the decrypted bytes.
                        try pipeline.addHandler(tls.makeHandler())
                        try pipeline.addHandler(TLSHandshakeHandler(handshake: channel.eventLoop.makePromise(),
                                                                    endpoint: endpoint, deadline: deadline,
                                                                    timeout: attemptTimeout))
                    }
                    try pipeline.addHandler(RESPChannelHandler(endpoint: endpoint, maxBufferedBytes: configuration.maxReplyBytes))
                }
            }
        let (connection, handshake) = try await bootstrap.connect(host: configuration.host, port: configuration.port)
            .flatMapThrowing { channel in
                let handler: RESPChannelHandler
                let observer: TLSHandshakeHandler?
                do {
                    handler = try channel.pipeline.syncOperations.handler(type: RESPChannelHandler.self)
                    observer = try tls.map { _ in try channel.pipeline.syncOperations.handler(type: TLSHandshakeHandler.self) }
                } catch {
                    channel.close(promise: nil)
                    throw error
                }
                let connection = RedisConnection(channel: channel, handler: NIOLoopBound(handler, eventLoop: channel.eventLoop),
                                                 tlsObserver: observer.map { NIOLoopBound($0, eventLoop: channel.eventLoop) },
                                                 configuration: configuration)
                return (connection, observer?.handshake.futureResult)
            }.get()
        do {
            if let handshake, let tls {
                do {
                    try await handshake.get()
                } catch {
                    throw tls.explain(error, endpoint: endpoint)
                }
            }
            try await connection.prepare(setup: setup, deadline: deadline)
        } catch let RedisError.timedOut(_, command, _) {
            await connection.close()
            throw RedisError.connectFailed("Redis at \(endpoint) accepted the connection but did not answer \(command) "
                + "within the connect timeout (\(attemptTimeout)); check that the address is a Redis server and that it is not overloaded")
        } catch {
            await connection.close()
            throw await connection.explainSetupFailure(error, tls: tls)
        }
        return connection
    }

    /// A connection closed during its setup: over TLS, the TLS error that closed it (a server
    /// refusing the client certificate sends its alert after the handshake); in plaintext, a
    /// hint that the port may serve TLS (such a server drops a plaintext client unanswered).
    private func explainSetupFailure(_ error: any Error, tls: RedisTLSContext?) async -> any Error {
        guard case RedisError.connectionClosed = error else { return error }
        let endpoint = configuration.endpoint
        guard let tls, let observer = tlsObserver else {
            return RedisError.connectFailed("Redis at \(endpoint) closed the connection before answering "
                + "(if that port serves TLS, use a rediss:// URL)")
        }
        let tlsError = try? await channel.eventLoop.submit { observer.value.firstError }.get()
        guard let tlsError else { return error }
        return tls.explain(tlsError, endpoint: endpoint)
    }

    private func prepare(setup: [RESPCommand], deadline: NIODeadline) async throws {
        let endpoint = configuration.endpoint
        // Each reply waits at most what is left of the connect budget (and never longer than a
        // command's own timeout).
        func left() -> Duration {
            let nanoseconds = max(Int64(1_000_000), (deadline - NIODeadline.now()).nanoseconds)
            return min(configuration.commandTimeout, .nanoseconds(nanoseconds))
        }
        if let password = configuration.password {
            var auth = RESPCommand(capacity: 64)
            auth.append("AUTH")
            if let user = configuration.username { auth.append(user) }
            auth.append(password)
            if case let .error(message) = try await send([auth], timeout: left())[0] {
                throw RedisError.loginRefused(endpoint: endpoint, user: configuration.username, reply: message)
            }
        }
        if configuration.database != 0 {
            var select = RESPCommand(capacity: 32)
            select.append("SELECT")
            select.append(configuration.database)
            if case let .error(message) = try await send([select], timeout: left())[0] {
                throw RedisError.server("Redis at \(endpoint) refused SELECT \(configuration.database): \(message); "
                    + "check the database number at the end of the Redis URL")
            }
        }
        if !setup.isEmpty {
            let replies = try await send(setup, timeout: left())
            for (command, reply) in zip(setup, replies) {
                if case let .error(message) = reply {
                    throw RedisError.server("Redis at \(endpoint) refused the connection setup command \(command.name): \(message)")
                }
            }
        } else if configuration.password == nil && configuration.database == 0 {
            // Nothing was sent: one round trip within the connect budget, so that a server that
            // stalls, or one refusing the client certificate (its alert comes after the TLS 1.3
            // handshake), is found here, not by the first command after its own timeout.
            _ = try await send([RESPCommand(["PING"])], timeout: left())
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

import Logging

/// A connection that reopens itself: after Redis restarts, the next command reconnects with
/// bounded exponential backoff (within `reconnectBudget`).
public actor RedisClient {
    /// Where it connects.
    public nonisolated let configuration: RedisConfiguration
    private let logger: Logger
    private let reconnectBudget: Duration
    private var connection: RedisConnection?

    private init(configuration: RedisConfiguration, logger: Logger, reconnectBudget: Duration, connection: RedisConnection) {
        self.configuration = configuration
        self.logger = logger
        self.reconnectBudget = reconnectBudget
        self.connection = connection
    }

    /// Connects, retrying with backoff for up to `budget`; then fails naming host:port.
    public static func connect(_ configuration: RedisConfiguration, logger: Logger,
                               budget: Duration = .seconds(30)) async throws -> RedisClient {
        let connection = try await openWithRetry(configuration, logger: logger, budget: budget)
        // Reconnecting later gets a short budget: whoever sent the command (the runner, with its
        // own retry budget) decides how long to keep trying; two stacked 30 s budgets would
        // keep a worker hanging for minutes after Redis went away.
        return RedisClient(configuration: configuration, logger: logger,
                           reconnectBudget: min(budget, configuration.connectTimeout), connection: connection)
    }

    static func openWithRetry(_ configuration: RedisConfiguration, logger: Logger, budget: Duration) async throws -> RedisConnection {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: budget)
        var delay = Duration.milliseconds(50)
        var lastError: any Error = RedisError.connectFailed("no attempt made")
        var attempts = 0
        while true {
            attempts += 1
            do {
                return try await RedisConnection.connect(configuration)
            } catch let error as RedisError {
                // An AUTH or SELECT refusal will not fix itself.
                if case .server = error { throw error }
                lastError = error
            } catch {
                lastError = error
            }
            let now = clock.now
            if now >= deadline { break }
            logger.debug("redis connect failed; retrying", metadata: ["redis": "\(configuration.redactedDescription)", "error": "\(lastError)"])
            try await Task.sleep(for: min(delay, deadline - now))
            delay = min(delay * 2, .seconds(2))
        }
        throw RedisError.connectFailed(
            "could not connect to Redis at \(configuration.endpoint) after \(attempts) attempts within \(budget): \(lastError). "
                + "Check that Redis is running and reachable there, and the --redis flag or REDIS_URL / REDIS_SERVICE_HOST")
    }

    private func current() async throws -> RedisConnection {
        if let connection, connection.isActive { return connection }
        if let connection { await connection.close() }
        connection = nil
        let fresh = try await Self.openWithRetry(configuration, logger: logger, budget: reconnectBudget)
        connection = fresh
        return fresh
    }

    /// Sends one command; error replies throw ``RedisError/server(_:)``.
    public func send(_ command: [RESPArgument]) async throws -> RESPValue {
        let replies = try await pipeline([command])
        if case let .error(message) = replies[0] { throw RedisError.server(message) }
        return replies[0]
    }

    /// Sends commands pipelined; replies in order (error replies as `.error`). `timeout`
    /// overrides ``RedisConfiguration/commandTimeout`` (blocking commands pass theirs).
    public func pipeline(_ commands: [[RESPArgument]], timeout: Duration? = nil) async throws -> [RESPValue] {
        let connection = try await current()
        do {
            return try await connection.pipeline(commands, timeout: timeout)
        } catch let error as RedisError {
            switch error {
            case .connectionClosed, .timedOut: self.connection = nil
            default: break
            }
            throw error
        }
    }

    /// Sends one command with its own reply timeout; error replies throw.
    public func send(_ command: [RESPArgument], timeout: Duration) async throws -> RESPValue {
        let replies = try await pipeline([command], timeout: timeout)
        if case let .error(message) = replies[0] { throw RedisError.server(message) }
        return replies[0]
    }

    /// Drops the current connection (used by fault injection and tests).
    public func dropConnection() async {
        if let connection { await connection.close() }
        connection = nil
    }

    /// Closes the connection for good.
    public func close() async {
        await dropConnection()
    }
}

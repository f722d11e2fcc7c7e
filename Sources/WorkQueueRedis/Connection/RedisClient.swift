import Logging
import Synchronization

/// A connection that reopens itself: after Redis restarts, the next command reconnects with
/// bounded exponential backoff (within the reconnect budget).
///
/// Not an actor: a command reads the current connection under a lock and writes to it; the
/// reply resumes the caller from the event loop. Reconnecting is single-flight: callers that
/// find the connection gone share one attempt, and a failed command clears the connection
/// only if it is still the one that failed.
package final class RedisClient: Sendable {
    /// Where it connects.
    public let configuration: RedisConfiguration
    private let logger: Logger
    private let reconnectBudget: Duration
    /// Sent pipelined after AUTH and SELECT on every new connection.
    private let setup: [RESPCommand]
    /// The TLS context every connection of this client uses (nil: plaintext).
    private let tls: RedisTLSContext?
    private let state: Mutex<State>

    private struct State: Sendable {
        var connection: RedisConnection?
        /// The reconnect under way, shared by everyone who needs a connection meanwhile.
        var reconnect: (id: Int, task: Task<RedisConnection, any Error>)?
        var nextReconnectID = 0
        var closed = false
    }

    private init(configuration: RedisConfiguration, logger: Logger, reconnectBudget: Duration,
                 setup: [RESPCommand], tls: RedisTLSContext?, connection: RedisConnection) {
        self.configuration = configuration
        self.logger = logger
        self.reconnectBudget = reconnectBudget
        self.setup = setup
        self.tls = tls
        self.state = Mutex(State(connection: connection))
    }

    deinit {
        state.withLock { $0.connection?.closeSoon() }
    }

    /// Connects, retrying with backoff for up to `budget`; then fails naming host:port.
    /// `setup` commands are sent pipelined after AUTH and SELECT on this and every later
    /// connection (e.g. `SCRIPT LOAD`); an error reply to one fails the attempt. With
    /// ``RedisConfiguration/tls`` set, the TLS files are read once, here, and a TLS failure that
    /// retrying cannot fix (an unverifiable certificate) throws ``RedisError/tls(_:)`` at once.
    public static func connect(_ configuration: RedisConfiguration, logger: Logger,
                               budget: Duration = .seconds(30), setup: [RESPCommand] = []) async throws -> RedisClient {
        try await connect(configuration, tls: RedisTLSContext.make(for: configuration), logger: logger, budget: budget, setup: setup)
    }

    /// ``connect(_:logger:budget:setup:)`` with a TLS context built beforehand, so that several
    /// clients of one configuration share it.
    package static func connect(_ configuration: RedisConfiguration, tls: RedisTLSContext?, logger: Logger,
                                budget: Duration = .seconds(30), setup: [RESPCommand] = []) async throws -> RedisClient {
        let connection = try await openWithRetry(configuration, tls: tls, setup: setup, logger: logger, budget: budget)
        // Reconnecting later gets a short budget: whoever sent the command (the runner, with its
        // own retry budget) decides how long to keep trying; two stacked 30 s budgets would
        // keep a worker hanging for minutes after Redis went away.
        return RedisClient(configuration: configuration, logger: logger,
                           reconnectBudget: min(budget, configuration.connectTimeout), setup: setup, tls: tls,
                           connection: connection)
    }

    static func openWithRetry(_ configuration: RedisConfiguration, tls: RedisTLSContext?, setup: [RESPCommand], logger: Logger,
                              budget: Duration) async throws -> RedisConnection {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: budget)
        var delay = Duration.milliseconds(50)
        var lastError: any Error = RedisError.connectFailed("no attempt made")
        var attempts = 0
        while true {
            attempts += 1
            do {
                return try await RedisConnection.connect(configuration, tls: tls, setup: setup)
            } catch let error as RedisError {
                // An AUTH, SELECT or setup refusal will not fix itself, nor will a certificate.
                if error.stopsConnectRetries { throw error }
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
        throw RedisError.unreachable(endpoint: configuration.endpoint, attempts: attempts, budget: budget, lastError: "\(lastError)")
    }

    private enum Step {
        case ready(RedisConnection)
        case wait(Task<RedisConnection, any Error>)
        case closed
    }

    /// The open connection, or the one the (shared) reconnect produces.
    private func current() async throws -> RedisConnection {
        var stale: RedisConnection?
        let step = state.withLock { state -> Step in
            if state.closed { return .closed }
            if let connection = state.connection {
                if connection.isActive { return .ready(connection) }
                stale = connection
                state.connection = nil
            }
            if let reconnect = state.reconnect { return .wait(reconnect.task) }
            state.nextReconnectID += 1
            let id = state.nextReconnectID
            let task = Task { try await self.reconnect(id: id) }
            state.reconnect = (id, task)
            return .wait(task)
        }
        stale?.closeSoon()
        switch step {
        case let .ready(connection): return connection
        case let .wait(task): return try await task.value
        case .closed: throw RedisError.connectionClosed(configuration.endpoint)
        }
    }

    /// One reconnect attempt (with retries), installing its connection unless the client was
    /// closed meanwhile (then it closes it: no socket is left open).
    private func reconnect(id: Int) async throws -> RedisConnection {
        let fresh: RedisConnection
        do {
            fresh = try await Self.openWithRetry(configuration, tls: tls, setup: setup, logger: logger, budget: reconnectBudget)
        } catch {
            state.withLock { state in
                if state.reconnect?.id == id { state.reconnect = nil }
            }
            throw error
        }
        let (installed, replaced) = state.withLock { state -> (Bool, RedisConnection?) in
            if state.reconnect?.id == id { state.reconnect = nil }
            if state.closed { return (false, nil) }
            let replaced = state.connection
            state.connection = fresh
            return (true, replaced)
        }
        replaced?.closeSoon()
        guard installed else {
            await fresh.close()
            throw RedisError.connectionClosed(configuration.endpoint)
        }
        return fresh
    }

    /// Sends one command; error replies throw ``RedisError/server(_:)``.
    public func send(_ command: [RESPArgument]) async throws -> RESPValue {
        try await send(RESPCommand(command), timeout: configuration.commandTimeout)
    }

    /// Sends one command with its own reply timeout; error replies throw.
    public func send(_ command: [RESPArgument], timeout: Duration) async throws -> RESPValue {
        try await send(RESPCommand(command), timeout: timeout)
    }

    /// Sends one encoded command; error replies throw ``RedisError/server(_:)``. `timeout`
    /// overrides ``RedisConfiguration/commandTimeout``.
    public func send(_ command: RESPCommand, timeout: Duration? = nil) async throws -> RESPValue {
        let reply = try await pipeline([command], timeout: timeout)[0]
        if case let .error(message) = reply { throw RedisError.server(message) }
        return reply
    }

    /// Sends commands pipelined; replies in order (error replies as `.error`). `timeout`
    /// overrides ``RedisConfiguration/commandTimeout`` (blocking commands pass theirs).
    public func pipeline(_ commands: [[RESPArgument]], timeout: Duration? = nil) async throws -> [RESPValue] {
        try await pipeline(commands.map { RESPCommand($0) }, timeout: timeout)
    }

    /// Sends encoded commands pipelined; replies in order (error replies as `.error`).
    public func pipeline(_ commands: [RESPCommand], timeout: Duration? = nil) async throws -> [RESPValue] {
        guard !commands.isEmpty else { return [] }
        let connection = try await current()
        do {
            return try await connection.send(commands, timeout: timeout ?? configuration.commandTimeout)
        } catch let error as RedisError {
            switch error {
            case .connectionClosed, .timedOut:
                // Only if it is still the one that failed: a reconnect may have installed a new one.
                let dropped = state.withLock { state -> Bool in
                    guard state.connection === connection else { return false }
                    state.connection = nil
                    return true
                }
                if dropped { connection.closeSoon() }
            default:
                break
            }
            throw error
        }
    }

    /// Drops the current connection (used by fault injection and tests); the next command
    /// reconnects.
    public func dropConnection() async {
        let connection = state.withLock { state -> RedisConnection? in
            defer { state.connection = nil }
            return state.connection
        }
        await connection?.close()
    }

    /// Closes the connection for good; later commands fail with ``RedisError/connectionClosed(_:)``.
    /// A reconnect under way closes what it opens.
    public func close() async {
        let connection = state.withLock { state -> RedisConnection? in
            state.closed = true
            defer { state.connection = nil }
            return state.connection
        }
        await connection?.close()
    }
}

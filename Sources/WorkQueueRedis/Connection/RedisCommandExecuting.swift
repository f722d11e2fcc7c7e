/// What the queue needs from a Redis client: send commands (pipelined), drop the connection
/// after a reply that calls for it, close. ``RedisClient`` (one server) and
/// ``RedisClusterClient`` (a Redis Cluster, routing by slot) both provide it, so ``RedisQueue``
/// runs unchanged over either.
package protocol RedisCommandExecuting: AnyObject, Sendable {
    /// The configuration every connection is made with (for a cluster: the first seed's, whose
    /// credentials, TLS and timeouts apply to every node).
    var configuration: RedisConfiguration { get }

    /// Sends encoded commands pipelined; replies in order (error replies as `.error`).
    /// `timeout` overrides ``RedisConfiguration/commandTimeout``.
    func pipeline(_ commands: [RESPCommand], timeout: Duration?) async throws -> [RESPValue]

    /// Sends one encoded command; error replies throw ``RedisError/server(_:)``.
    func send(_ command: RESPCommand, timeout: Duration?) async throws -> RESPValue

    /// Sends one keyless command (e.g. `WAIT`) on the connection that serves `key`: for a
    /// cluster, the master of the key's slot; for one server, its only connection. Error
    /// replies throw ``RedisError/server(_:)``.
    func send(_ command: RESPCommand, routedBy key: String, timeout: Duration?) async throws -> RESPValue

    /// Drops the open connection(s); the next command reconnects (for a cluster, after reading
    /// the topology again).
    func dropConnection() async

    /// Closes for good.
    func close() async
}

extension RedisCommandExecuting {
    /// Sends one command; error replies throw ``RedisError/server(_:)``.
    package func send(_ command: [RESPArgument]) async throws -> RESPValue {
        try await send(RESPCommand(command), timeout: nil)
    }

    /// Sends one command with its own reply timeout; error replies throw.
    package func send(_ command: [RESPArgument], timeout: Duration) async throws -> RESPValue {
        try await send(RESPCommand(command), timeout: timeout)
    }

    /// Sends one encoded command with the configured timeout; error replies throw.
    package func send(_ command: RESPCommand) async throws -> RESPValue {
        try await send(command, timeout: nil)
    }

    /// Sends encoded commands pipelined with the configured timeout; replies in order.
    package func pipeline(_ commands: [RESPCommand]) async throws -> [RESPValue] {
        try await pipeline(commands, timeout: nil)
    }

    /// Sends commands pipelined; replies in order (error replies as `.error`).
    package func pipeline(_ commands: [[RESPArgument]], timeout: Duration? = nil) async throws -> [RESPValue] {
        try await pipeline(commands.map { RESPCommand($0) }, timeout: timeout)
    }
}

extension RedisClient: RedisCommandExecuting {
    package func send(_ command: RESPCommand, routedBy key: String, timeout: Duration?) async throws -> RESPValue {
        try await send(command, timeout: timeout)
    }
}

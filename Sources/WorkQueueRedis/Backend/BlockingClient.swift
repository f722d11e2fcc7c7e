import Logging

/// The dedicated connection for blocking commands (BLMOVE), opened on first use (for a
/// cluster: a cluster client of its own, so a blocked command never holds up the others). The
/// runner has one fetcher, so one waiter per process at most.
actor BlockingClient {
    private let open: @Sendable () async throws -> any RedisCommandExecuting
    private var client: (any RedisCommandExecuting)?

    init(open: @escaping @Sendable () async throws -> any RedisCommandExecuting) {
        self.open = open
    }

    func send(_ command: [RESPArgument], timeout: Duration) async throws -> RESPValue {
        let current: any RedisCommandExecuting
        if let client {
            current = client
        } else {
            current = try await open()
            client = current
        }
        return try await current.send(command, timeout: timeout)
    }

    func close() async {
        await client?.close()
        client = nil
    }
}

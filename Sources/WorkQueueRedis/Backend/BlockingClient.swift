import Logging

/// The dedicated connection for blocking commands (BLMOVE), opened on first use. The runner has
/// one fetcher, so one waiter per process at most.
actor BlockingClient {
    private let configuration: RedisConfiguration
    private let logger: Logger
    private let budget: Duration
    /// The queue's TLS context: the blocking connection shares it.
    private let tls: RedisTLSContext?
    private var client: RedisClient?

    init(configuration: RedisConfiguration, tls: RedisTLSContext?, logger: Logger, budget: Duration) {
        self.configuration = configuration
        self.tls = tls
        self.logger = logger
        self.budget = budget
    }

    func send(_ command: [RESPArgument], timeout: Duration) async throws -> RESPValue {
        let current: RedisClient
        if let client {
            current = client
        } else {
            current = try await RedisClient.connect(configuration, tls: tls, logger: logger, budget: budget)
            client = current
        }
        return try await current.send(command, timeout: timeout)
    }

    func close() async {
        await client?.close()
        client = nil
    }
}

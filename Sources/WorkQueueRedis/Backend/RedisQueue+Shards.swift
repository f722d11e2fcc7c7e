import Logging
import WorkQueueSeam

/// Sharded queues: one job's items spread over several queues, worked as one by
/// `ShardedBackend`. Shard `i` of queue `NAME` is the queue `{NAME:i}`, a complete queue in the
/// tutorial's layout (`{NAME:i}`, `{NAME:i}:processing`, ...) whose keys all share the hash tag
/// `NAME:i`: in Redis Cluster each shard lives in one slot, and the shards in different slots.
extension RedisQueue: DrainedMarker {
    /// Removes `NAME:drained` if `session` set it (script `withdraw-drained`).
    public func withdrawDrained(session: String) async throws {
        _ = try await run(.withdrawDrained, args: [RESPArgument(session)])
    }

    /// The most shards a queue may have.
    public static var maxShards: Int { ShardedBackend<RedisQueue>.maxShards }

    /// The queue names of `name` split into `count` shards: `[name]` for one shard (an
    /// unsharded queue, keys unchanged), else `{name:0}` ... `{name:<count-1>}`.
    /// - Throws: `WorkQueueError/invalidConfiguration(_:)` for a count outside 1 ... ``maxShards``,
    ///   an empty name, or (with several shards) a name with a brace: each shard gets its own
    ///   hash tag, and a tag inside the name would put every shard in one slot.
    public static func shardNames(_ name: String, count: Int) throws -> [String] {
        guard !name.isEmpty else { throw WorkQueueError.invalidConfiguration("the queue name is empty; pass a name such as job2") }
        guard (1...maxShards).contains(count) else {
            throw WorkQueueError.invalidConfiguration("the shard count must be between 1 and \(maxShards), not \(count)")
        }
        guard count > 1 else { return [name] }
        guard !name.contains("{") && !name.contains("}") else {
            let bare = String(name.filter { $0 != "{" && $0 != "}" })
            throw WorkQueueError.invalidConfiguration("""
                the queue name '\(name)' contains a brace; a sharded queue gives each shard its own hash tag \
                ({NAME:0} ... {NAME:\(count - 1)}), so pass the name without braces, e.g. \(bare.isEmpty ? "job2" : bare) with \(count) shards
                """)
        }
        return (0..<count).map { "{\(name):\($0)}" }
    }

    /// Connects to several queues over one connection (each opens its own blocking connection
    /// when first waited on), for the shards of a queue on one Redis server.
    public static func connect(names: [String], configuration: RedisConfiguration, options: Options = Options(),
                               logger: Logger = Logger(label: "workqueue.redis"),
                               connectBudget: Duration = .seconds(30)) async throws -> [RedisQueue] {
        try await connect(names: names, deployment: .standalone(configuration), options: options, logger: logger,
                          connectBudget: connectBudget)
    }

    /// Connects to several queues over one client, for the shards of a queue: one connection to
    /// one server, or one cluster client (a connection per master) that routes each shard's
    /// commands to the master of its slot. Each queue opens its own blocking connection when
    /// first waited on. In a cluster every name must have a hash tag (shard names do).
    public static func connect(names: [String], deployment: RedisDeployment, options: Options = Options(),
                               logger: Logger = Logger(label: "workqueue.redis"),
                               connectBudget: Duration = .seconds(30)) async throws -> [RedisQueue] {
        guard !names.isEmpty, !names.contains(where: \.isEmpty) else {
            throw WorkQueueError.invalidConfiguration("a queue name is empty; pass a name such as job2")
        }
        if names.count == 1 {
            return [try await connect(name: names[0], deployment: deployment, options: options, logger: logger,
                                      connectBudget: connectBudget)]
        }
        let setup = RedisScript.all.map { RESPCommand(["SCRIPT", "LOAD", $0.source]) }
        switch deployment {
        case let .standalone(configuration):
            let client = try await RedisClient.connect(configuration, logger: logger, budget: connectBudget, setup: setup)
            return names.map { name in
                let blocking = BlockingClient { try await RedisClient.connect(configuration, logger: logger, budget: connectBudget) }
                return RedisQueue(name: name, client: client, options: options, logger: logger, blocking: blocking)
            }
        case let .cluster(seeds):
            for name in names {
                if let problem = clusterNameProblem(name) { throw WorkQueueError.invalidConfiguration(problem) }
            }
            let client = try await RedisClusterClient.connect(seeds: seeds, logger: logger, budget: connectBudget, setup: setup,
                                                              homeSlot: HashSlot.of(names[0]))
            return names.map { name in
                let blocking = BlockingClient {
                    try await RedisClusterClient.connect(seeds: seeds, logger: logger, budget: connectBudget, homeSlot: HashSlot.of(name))
                }
                return RedisQueue(name: name, client: client, options: options, logger: logger, blocking: blocking)
            }
        }
    }
}

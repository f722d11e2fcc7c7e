import ArgumentParser
import FoundationEssentials
import Logging
import WorkQueue
import WorkQueueRedis

/// The flags every queue command shares: which queue, which Redis, how long to try, how much
/// to log.
struct QueueOptions: ParsableArguments {
    @Option(help: "The queue name: the Redis list of pending items (env WORKQUEUE_QUEUE).")
    var queue: String?

    @Option(help: ArgumentHelp(
        "Work the queue as M shards {NAME:0} ... {NAME:M-1}, each its own queue and hash tag, 1 to 1024 (env WORKQUEUE_SHARDS; default 1: the queue NAME itself).",
        valueName: "m"))
    var shards: Int?

    @Option(help: ArgumentHelp(
        "Redis URL redis://[user:password@]host[:port][/db] (env REDIS_URL, else REDIS_SERVICE_HOST/REDIS_SERVICE_PORT, else redis://redis:6379).",
        valueName: "url"))
    var redis: String?

    @Flag(help: ArgumentHelp(
        "Redis is a Redis Cluster: discover its nodes from the URL's node(s) and route each command by slot; the queue name needs a hash tag, e.g. {job2} (env WORKQUEUE_CLUSTER; a URL listing several nodes, redis://h1:p1,h2:p2, implies it)."))
    var cluster = false

    @Option(name: .customLong("redis-password-file"), help: ArgumentHelp(
        "Read the Redis password from this file (trailing newline stripped), used when the URL has none (env REDIS_PASSWORD_FILE).",
        valueName: "path"))
    var redisPasswordFile: String?

    @Option(name: .customLong("connect-timeout"), help: ArgumentHelp(
        "Seconds to keep retrying to reach Redis before giving up (env WORKQUEUE_CONNECT_TIMEOUT; default 30).",
        valueName: "seconds"))
    var connectTimeout: Double?

    @Option(name: .customLong("log-level"), help: ArgumentHelp(
        "Diagnostics on stderr: trace, debug, info, notice, warning, error or critical (env WORKQUEUE_LOG_LEVEL; default info).",
        valueName: "level"))
    var logLevel: String?

    @Option(name: .customLong("log-format"), help: ArgumentHelp(
        "Diagnostics format on stderr: text, or json for one JSON object per line (env WORKQUEUE_LOG_FORMAT; default text).",
        valueName: "format"))
    var logFormat: String?

    /// Sends swift-log to stderr at the chosen level and line-buffers stdout, so that each
    /// contract line reaches a pod's log as soon as it is printed. Returns the command's logger.
    func bootstrap(_ settings: Settings) throws -> Logger {
        StandardOutput.useLineBuffering()
        let text = settings.string(logLevel, "WORKQUEUE_LOG_LEVEL") ?? "info"
        guard let level = Logger.Level(rawValue: text.lowercased()) else {
            throw CommandError.invalid(source: logLevel != nil ? "--log-level" : "environment variable WORKQUEUE_LOG_LEVEL",
                                       value: text, expected: Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))
        }
        let format = settings.string(logFormat, "WORKQUEUE_LOG_FORMAT") ?? "text"
        switch format.lowercased() {
        case "text":
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
        case "json":
            LoggingSystem.bootstrap { label in
                var handler = JSONLogHandler(label: label)
                handler.logLevel = level
                return handler
            }
        default:
            throw CommandError.invalid(source: logFormat != nil ? "--log-format" : "environment variable WORKQUEUE_LOG_FORMAT",
                                       value: format, expected: "text or json")
        }
        return Logger(label: "workqueue")
    }

    /// The queue name from the flag or WORKQUEUE_QUEUE.
    func queueName(_ settings: Settings) throws -> String {
        try settings.required(queue, "WORKQUEUE_QUEUE", flagName: "--queue", example: "job2")
    }

    /// The shard count from --shards or WORKQUEUE_SHARDS: 1 (the default) to ``RedisQueue/maxShards``.
    func shardCount(_ settings: Settings) throws -> Int {
        guard let count = try settings.integer(shards, "WORKQUEUE_SHARDS", flagName: "--shards", minimum: Int.min) else { return 1 }
        guard (1...RedisQueue.maxShards).contains(count) else {
            throw CommandError.invalid(source: shards != nil ? "--shards" : "environment variable WORKQUEUE_SHARDS", value: "\(count)",
                                       expected: "a shard count from 1 to \(RedisQueue.maxShards) (1: the queue NAME itself, unsharded)")
        }
        return count
    }

    /// The queues to work: `[NAME]` for one shard, else `{NAME:0}` ... `{NAME:M-1}`.
    func shardNames(_ settings: Settings) throws -> [String] {
        let name = try queueName(settings)
        let count = try shardCount(settings)
        if count > 1 && (name.contains("{") || name.contains("}")) {
            throw CommandError.invalid(source: queue != nil ? "--queue" : "environment variable WORKQUEUE_QUEUE", value: name, expected: """
                a name without braces with --shards \(count): each shard gets its own hash tag, {NAME:0} ... {NAME:\(count - 1)}, \
                so that the shards land in different Redis Cluster slots (a tag in NAME would put them all in one)
                """)
        }
        return try RedisQueue.shardNames(name, count: count)
    }

    /// Connects to every shard of the queue (one shard: the queue itself, connected exactly as
    /// an unsharded queue) over one client, and checks their keys' types.
    func connectShards(_ settings: Settings, logger: Logger) async throws -> [RedisQueue] {
        let names = try shardNames(settings)
        if names.count == 1 { return [try await connect(settings, logger: logger)] }
        let (deployment, budget) = try resolve(settings, names: names)
        logger.debug("connecting", metadata: ["redis": "\(deployment)", "queue": "\(names[0]) ... \(names[names.count - 1])"])
        let queues: [RedisQueue]
        do {
            queues = try await RedisQueue.connect(names: names, deployment: deployment, logger: logger, connectBudget: budget)
        } catch let error as RedisError {
            if case .server = error { throw CommandError.refused(error) }
            throw error
        }
        do {
            for queue in queues { try await queue.validateKeyTypes() }
        } catch {
            for queue in queues { await queue.close() }
            throw error
        }
        return queues
    }

    /// Where Redis is (one server or a cluster's seeds, with the password file applied) and the
    /// connect budget; in a cluster every queue name must have a usable hash tag.
    private func resolve(_ settings: Settings, names: [String]) throws -> (RedisDeployment, Duration) {
        var deployment = try RedisDeployment.resolve(flag: redis, environment: settings.environment,
                                                     cluster: settings.flag(cluster, "WORKQUEUE_CLUSTER"))
        var password: String?
        if let path = settings.string(redisPasswordFile, "REDIS_PASSWORD_FILE"), deployment.configuration?.password == nil {
            let source = redisPasswordFile != nil ? "--redis-password-file" : "REDIS_PASSWORD_FILE"
            password = try PasswordFile.read(path, source: source)
        }
        switch deployment {
        case var .standalone(configuration):
            if configuration.password == nil, let password { configuration.password = password }
            deployment = .standalone(configuration)
        case var .cluster(seeds):
            for index in seeds.indices where seeds[index].password == nil { seeds[index].password = password }
            if let seed = seeds.first(where: { $0.database != 0 }) {
                throw CommandError.invalid(source: redis != nil ? "--redis" : "REDIS_URL", value: seed.redactedDescription,
                                           expected: "database 0 (a Redis Cluster has only database 0: drop the /\(seed.database))")
            }
            for name in names {
                if let problem = RedisQueue.clusterNameProblem(name) { throw CommandError.clusterQueueName(problem) }
            }
            deployment = .cluster(seeds: seeds)
        }
        let budget = try settings.seconds(connectTimeout, "WORKQUEUE_CONNECT_TIMEOUT", flagName: "--connect-timeout", allowZero: true)
            ?? .seconds(30)
        return (deployment, budget)
    }

    /// Connects to the queue, retrying within the connect budget, and checks that its keys have
    /// the right types (nothing is modified when one does not).
    func connect(_ settings: Settings, logger: Logger) async throws -> RedisQueue {
        let name = try queueName(settings)
        let (deployment, budget) = try resolve(settings, names: [name])
        logger.debug("connecting", metadata: ["redis": "\(deployment)", "queue": "\(name)"])
        let queue: RedisQueue
        do {
            queue = try await RedisQueue.connect(name: name, deployment: deployment, logger: logger, connectBudget: budget)
        } catch let error as RedisError {
            // A server that answers but refuses the login, SELECT or SCRIPT LOAD will refuse again.
            if case .server = error { throw CommandError.refused(error) }
            throw error
        }
        do {
            try await queue.validateKeyTypes()
        } catch {
            await queue.close()
            throw error
        }
        return queue
    }
}

/// Runs `body` with a connected queue and closes it afterwards, also when `body` throws.
func withQueue<T>(_ options: QueueOptions, _ settings: Settings, logger: Logger,
                  _ body: (RedisQueue) async throws -> T) async throws -> T {
    let queue = try await options.connect(settings, logger: logger)
    do {
        let value = try await body(queue)
        await queue.close()
        return value
    } catch {
        await queue.close()
        throw error
    }
}

/// Runs `body` with every shard of the queue connected and closes them afterwards, also when
/// `body` throws.
func withShards<T>(_ options: QueueOptions, _ settings: Settings, logger: Logger,
                   _ body: ([RedisQueue]) async throws -> T) async throws -> T {
    let queues = try await options.connectShards(settings, logger: logger)
    do {
        let value = try await body(queues)
        for queue in queues { await queue.close() }
        return value
    } catch {
        for queue in queues { await queue.close() }
        throw error
    }
}

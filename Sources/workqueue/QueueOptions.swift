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

    /// Connects to the queue, retrying within the connect budget, and checks that its keys have
    /// the right types (nothing is modified when one does not).
    func connect(_ settings: Settings, logger: Logger) async throws -> RedisQueue {
        let name = try queueName(settings)
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
            if let problem = RedisQueue.clusterNameProblem(name) { throw CommandError.clusterQueueName(problem) }
            deployment = .cluster(seeds: seeds)
        }
        let budget = try settings.seconds(connectTimeout, "WORKQUEUE_CONNECT_TIMEOUT", flagName: "--connect-timeout", allowZero: true)
            ?? .seconds(30)
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

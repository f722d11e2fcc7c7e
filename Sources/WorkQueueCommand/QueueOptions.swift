import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
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
        "Redis URL redis://[user:password@]host[:port][/db], or rediss:// for TLS (env REDIS_URL, else REDIS_SERVICE_HOST/REDIS_SERVICE_PORT, else redis://redis:6379).",
        valueName: "url"))
    var redis: String?

    @Flag(help: ArgumentHelp(
        "Redis is a Redis Cluster: discover its nodes from the URL's node(s) and route each command by slot; the queue name needs a hash tag, e.g. {job2} (env WORKQUEUE_CLUSTER; a URL listing several nodes, redis://h1:p1,h2:p2, implies it)."))
    var cluster = false

    @Option(name: .customLong("redis-password-file"), help: ArgumentHelp(
        "Read the Redis password from this file (trailing newline stripped), used when the URL has none (env REDIS_PASSWORD_FILE).",
        valueName: "path"))
    var redisPasswordFile: String?

    @Option(name: .customLong("tls-ca-file"), help: ArgumentHelp(
        "Trust the CA certificate(s) in this PEM file, instead of the system's, for a rediss:// URL (env WORKQUEUE_TLS_CA_FILE).",
        valueName: "path"))
    var tlsCAFile: String?

    @Option(name: .customLong("tls-cert-file"), help: ArgumentHelp(
        "Present the client certificate in this PEM file to a rediss:// server; needs --tls-key-file (env WORKQUEUE_TLS_CERT_FILE).",
        valueName: "path"))
    var tlsCertFile: String?

    @Option(name: .customLong("tls-key-file"), help: ArgumentHelp(
        "The private key (PEM, unencrypted) of --tls-cert-file (env WORKQUEUE_TLS_KEY_FILE).",
        valueName: "path"))
    var tlsKeyFile: String?

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
    /// an unsharded queue) over one client, and checks their keys' types. `retryBudget` (the
    /// worker's `--backend-retry-seconds`) also bounds each connect attempt and each reconnect,
    /// so that one reconnect cannot outlast the budget the worker retries within.
    func connectShards(_ settings: Settings, logger: Logger, retryBudget: Duration? = nil) async throws -> [RedisQueue] {
        let names = try shardNames(settings)
        if names.count == 1 { return [try await connect(settings, logger: logger, retryBudget: retryBudget)] }
        let (deployment, budget, tlsSources) = try resolve(settings, names: names, retryBudget: retryBudget)
        logger.debug("connecting", metadata: ["redis": "\(deployment)", "queue": "\(names[0]) ... \(names[names.count - 1])"])
        let queues: [RedisQueue]
        do {
            queues = try await RedisQueue.connect(names: names, deployment: deployment, logger: logger, connectBudget: budget)
        } catch let error as RedisError {
            throw Self.connectError(error, tlsSources: tlsSources)
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
    /// connect budget; in a cluster every queue name must have a usable hash tag. A
    /// `retryBudget` caps the connect timeout (not below 1 s).
    private func resolve(_ settings: Settings, names: [String],
                         retryBudget: Duration? = nil) throws -> (RedisDeployment, Duration, [RedisTLS.File: String]) {
        var deployment = try RedisDeployment.resolve(flag: redis, environment: settings.environment,
                                                     cluster: settings.flag(cluster, "WORKQUEUE_CLUSTER"))
        var password: String?
        if let path = settings.string(redisPasswordFile, "REDIS_PASSWORD_FILE"), deployment.configuration?.password == nil {
            let source = redisPasswordFile != nil ? "--redis-password-file" : "REDIS_PASSWORD_FILE"
            password = try PasswordFile.read(path, source: source)
        }
        var tlsSources: [RedisTLS.File: String] = [:]
        switch deployment {
        case var .standalone(configuration):
            if configuration.password == nil, let password { configuration.password = password }
            tlsSources = try applyTLS(settings, to: &configuration)
            Self.cap(&configuration, retryBudget)
            deployment = .standalone(configuration)
        case var .cluster(seeds):
            for index in seeds.indices where seeds[index].password == nil { seeds[index].password = password }
            // Every node is reached with its seed's settings: the TLS files apply to all.
            for index in seeds.indices {
                tlsSources = try applyTLS(settings, to: &seeds[index])
                Self.cap(&seeds[index], retryBudget)
            }
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
        return (deployment, budget, tlsSources)
    }

    /// A connect attempt (and a reconnect, which the client bounds by it) within `retryBudget`.
    private static func cap(_ configuration: inout RedisConfiguration, _ retryBudget: Duration?) {
        guard let retryBudget else { return }
        configuration.connectTimeout = min(configuration.connectTimeout, max(retryBudget, .seconds(1)))
    }

    /// Connects to the queue, retrying within the connect budget, and checks that its keys have
    /// the right types (nothing is modified when one does not). `retryBudget`: as for
    /// ``connectShards(_:logger:retryBudget:)``.
    func connect(_ settings: Settings, logger: Logger, retryBudget: Duration? = nil) async throws -> RedisQueue {
        let name = try queueName(settings)
        let (deployment, budget, tlsSources) = try resolve(settings, names: [name], retryBudget: retryBudget)
        logger.debug("connecting", metadata: ["redis": "\(deployment)", "queue": "\(name)"])
        let queue: RedisQueue
        do {
            queue = try await RedisQueue.connect(name: name, deployment: deployment, logger: logger, connectBudget: budget)
        } catch let error as RedisError {
            throw Self.connectError(error, tlsSources: tlsSources)
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

extension QueueOptions {
    /// What a failed connect means for the command: a server that answers but refuses the
    /// login, SELECT or SCRIPT LOAD will refuse again, and a certificate that cannot be
    /// verified will not become valid; a TLS file error names the flag or variable.
    static func connectError(_ error: RedisError, tlsSources: [RedisTLS.File: String]) -> any Error {
        switch error {
        case .server, .tls: CommandError.refused(error)
        case let .tlsFile(file, path, reason): CommandError.tlsFile(path: path, source: tlsSources[file] ?? file.rawValue, reason: reason)
        default: error
        }
    }

    /// Sets the TLS files from the flags and WORKQUEUE_TLS_* variables; returns which flag or
    /// variable named each file (for error messages). TLS itself is turned on by the URL
    /// (`rediss://`): a file with a `redis://` URL is refused, not silently ignored nor taken as
    /// a switch to TLS, so that the URL alone says whether the connection is encrypted.
    func applyTLS(_ settings: Settings, to configuration: inout RedisConfiguration) throws -> [RedisTLS.File: String] {
        func source(_ flag: String?, _ flagName: String, _ variable: String) -> String {
            flag != nil ? flagName : "environment variable \(variable)"
        }
        let ca = settings.string(tlsCAFile, "WORKQUEUE_TLS_CA_FILE")
        let certificate = settings.string(tlsCertFile, "WORKQUEUE_TLS_CERT_FILE")
        let key = settings.string(tlsKeyFile, "WORKQUEUE_TLS_KEY_FILE")
        let sources: [RedisTLS.File: String] = [
            .ca: source(tlsCAFile, "--tls-ca-file", "WORKQUEUE_TLS_CA_FILE"),
            .certificate: source(tlsCertFile, "--tls-cert-file", "WORKQUEUE_TLS_CERT_FILE"),
            .key: source(tlsKeyFile, "--tls-key-file", "WORKQUEUE_TLS_KEY_FILE"),
        ]
        let given = [(RedisTLS.File.ca, ca), (.certificate, certificate), (.key, key)].filter { $0.1 != nil }.map(\.0)
        guard let first = given.first else { return sources }
        guard configuration.tls != nil else {
            throw CommandError.tlsSetting("\(sources[first] ?? first.rawValue) was given, but the Redis URL "
                + "\(configuration.redactedDescription) is not a TLS URL: use rediss://\(configuration.endpoint) to connect "
                + "with TLS (TLS files are only used with rediss://)")
        }
        if certificate != nil && key == nil {
            throw CommandError.tlsSetting("\(sources[.certificate] ?? "") needs --tls-key-file (or WORKQUEUE_TLS_KEY_FILE) too: "
                + "a client certificate is presented with its private key")
        }
        if key != nil && certificate == nil {
            throw CommandError.tlsSetting("\(sources[.key] ?? "") needs --tls-cert-file (or WORKQUEUE_TLS_CERT_FILE) too: "
                + "the private key belongs to a client certificate")
        }
        configuration.tls = RedisTLS(caFile: ca, certificateFile: certificate, keyFile: key)
        return sources
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

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
    @Option(name: Catalog.queue.name, help: Catalog.queue.help)
    var queue: String?

    @Option(name: Catalog.shards.name, help: Catalog.shards.help)
    var shards: Int?

    @Option(name: Catalog.redis.name, help: Catalog.redis.help)
    var redis: String?

    @Flag(name: Catalog.cluster.name, help: Catalog.cluster.help)
    var cluster = false

    @Option(name: Catalog.redisPasswordFile.name, help: Catalog.redisPasswordFile.help)
    var redisPasswordFile: String?

    @Option(name: Catalog.tlsCAFile.name, help: Catalog.tlsCAFile.help)
    var tlsCAFile: String?

    @Option(name: Catalog.tlsCertFile.name, help: Catalog.tlsCertFile.help)
    var tlsCertFile: String?

    @Option(name: Catalog.tlsKeyFile.name, help: Catalog.tlsKeyFile.help)
    var tlsKeyFile: String?

    @Option(name: Catalog.connectTimeout.name, help: Catalog.connectTimeout.help)
    var connectTimeout: Double?

    @Option(name: Catalog.logLevel.name, help: Catalog.logLevel.help)
    var logLevel: String?

    @Option(name: Catalog.logFormat.name, help: Catalog.logFormat.help)
    var logFormat: String?

    /// Sends swift-log to stderr at the chosen level and line-buffers stdout, so that each
    /// contract line reaches a pod's log as soon as it is printed. Returns the command's logger.
    func bootstrap(_ settings: Settings) throws -> Logger {
        StandardOutput.useLineBuffering()
        let text = settings.string(logLevel, Catalog.logLevel)
        guard let level = Logger.Level(rawValue: text.lowercased()) else {
            throw CommandError.invalid(source: Catalog.logLevel.source(flagGiven: logLevel != nil),
                                       value: text, expected: Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))
        }
        let format = settings.string(logFormat, Catalog.logFormat)
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
            throw CommandError.invalid(source: Catalog.logFormat.source(flagGiven: logFormat != nil),
                                       value: format, expected: "text or json")
        }
        return Logger(label: "workqueue")
    }

    /// The queue name from the flag or its variable.
    func queueName(_ settings: Settings) throws -> String {
        try settings.required(queue, Catalog.queue, example: "job2")
    }

    /// The queues to work: `[NAME]` for one shard, else `{NAME:0}` ... `{NAME:M-1}`.
    func shardNames(_ settings: Settings) throws -> [String] {
        let name = try queueName(settings)
        let count = try settings.integer(shards, Catalog.shards)
        if count > 1 && (name.contains("{") || name.contains("}")) {
            throw CommandError.invalid(source: Catalog.queue.source(flagGiven: queue != nil), value: name, expected: """
                a name without braces with --shards \(count): each shard gets its own hash tag, {NAME:0} ... {NAME:\(count - 1)}, \
                so that the shards land in different Redis Cluster slots (a tag in NAME would put them all in one)
                """)
        }
        return try RedisQueue.shardNames(name, count: count)
    }

    /// Connects to every shard of the queue (one shard: the queue itself, connected exactly as
    /// an unsharded queue) over one client, and checks their keys' types. `retryBudget` (the
    /// worker's `--backend-retry-seconds`) also bounds each connect attempt and each reconnect,
    /// so that one reconnect cannot outlast the budget the worker retries within. Every shard
    /// keeps `options`.
    func connectShards(_ settings: Settings, logger: Logger, retryBudget: Duration? = nil,
                       options: RedisQueue.Options = .init()) async throws -> [RedisQueue] {
        let names = try shardNames(settings)
        if names.count == 1 { return [try await connect(settings, logger: logger, retryBudget: retryBudget, options: options)] }
        let (deployment, budget, tlsSources) = try resolve(settings, names: names, retryBudget: retryBudget)
        logger.debug("connecting", metadata: ["redis": "\(deployment)", "queue": "\(names[0]) ... \(names[names.count - 1])"])
        let queues: [RedisQueue]
        do {
            queues = try await RedisQueue.connect(names: names, deployment: deployment, options: options, logger: logger,
                                                  connectBudget: budget)
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
                                                     cluster: settings.flag(cluster, Catalog.cluster))
        var password: String?
        if let path = settings.string(redisPasswordFile, Catalog.redisPasswordFile), deployment.configuration?.password == nil {
            password = try PasswordFile.read(path, source: Catalog.redisPasswordFile.source(flagGiven: redisPasswordFile != nil))
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
                throw CommandError.invalid(source: Catalog.redis.source(flagGiven: redis != nil), value: seed.redactedDescription,
                                           expected: "database 0 (a Redis Cluster has only database 0: drop the /\(seed.database))")
            }
            for name in names {
                if let problem = RedisQueue.clusterNameProblem(name) { throw CommandError.clusterQueueName(problem) }
            }
            deployment = .cluster(seeds: seeds)
        }
        let budget = try settings.seconds(connectTimeout, Catalog.connectTimeout)
        return (deployment, budget, tlsSources)
    }

    /// A connect attempt (and a reconnect, which the client bounds by it) within `retryBudget`.
    private static func cap(_ configuration: inout RedisConfiguration, _ retryBudget: Duration?) {
        guard let retryBudget else { return }
        configuration.connectTimeout = min(configuration.connectTimeout, max(retryBudget, .seconds(1)))
    }

    /// Connects to the queue, retrying within the connect budget, and checks that its keys have
    /// the right types (nothing is modified when one does not). `retryBudget` and `options`: as
    /// for ``connectShards(_:logger:retryBudget:options:)``.
    func connect(_ settings: Settings, logger: Logger, retryBudget: Duration? = nil,
                 options: RedisQueue.Options = .init()) async throws -> RedisQueue {
        let name = try queueName(settings)
        let (deployment, budget, tlsSources) = try resolve(settings, names: [name], retryBudget: retryBudget)
        logger.debug("connecting", metadata: ["redis": "\(deployment)", "queue": "\(name)"])
        let queue: RedisQueue
        do {
            queue = try await RedisQueue.connect(name: name, deployment: deployment, options: options, logger: logger,
                                                 connectBudget: budget)
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
        case .server, .tls, .loginRefused, .notAClusterNode, .tlsUntrusted, .tlsClientCertificateRequired, .tlsRefused:
            CommandError.refused(error)
        case let .tlsFile(file, path, reason): CommandError.tlsFile(path: path, source: tlsSources[file] ?? file.rawValue, reason: reason)
        default: error
        }
    }

    /// Sets the TLS files from the flags and WORKQUEUE_TLS_* variables; returns which flag or
    /// variable named each file (for error messages). TLS itself is turned on by the URL
    /// (`rediss://`): a file with a `redis://` URL is refused, not silently ignored nor taken as
    /// a switch to TLS, so that the URL alone says whether the connection is encrypted.
    func applyTLS(_ settings: Settings, to configuration: inout RedisConfiguration) throws -> [RedisTLS.File: String] {
        let ca = settings.string(tlsCAFile, Catalog.tlsCAFile)
        let certificate = settings.string(tlsCertFile, Catalog.tlsCertFile)
        let key = settings.string(tlsKeyFile, Catalog.tlsKeyFile)
        let sources: [RedisTLS.File: String] = [
            .ca: Catalog.tlsCAFile.source(flagGiven: tlsCAFile != nil),
            .certificate: Catalog.tlsCertFile.source(flagGiven: tlsCertFile != nil),
            .key: Catalog.tlsKeyFile.source(flagGiven: tlsKeyFile != nil),
        ]
        let given = [(RedisTLS.File.ca, ca), (.certificate, certificate), (.key, key)].filter { $0.1 != nil }.map(\.0)
        guard let first = given.first else { return sources }
        guard configuration.tls != nil else {
            throw CommandError.tlsSetting("\(sources[first] ?? first.rawValue) was given, but the Redis URL "
                + "\(configuration.redactedDescription) is not a TLS URL: use rediss://\(configuration.endpoint) to connect "
                + "with TLS (TLS files are only used with rediss://)")
        }
        if certificate != nil && key == nil {
            throw CommandError.tlsSetting("\(sources[.certificate] ?? "") needs \(Catalog.tlsKeyFile.either) too: "
                + "a client certificate is presented with its private key")
        }
        if key != nil && certificate == nil {
            throw CommandError.tlsSetting("\(sources[.key] ?? "") needs \(Catalog.tlsCertFile.either) too: "
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

/// Runs `body` with every shard of the queue connected (each keeping `queueOptions`) and closes
/// them afterwards, also when `body` throws.
func withShards<T>(_ options: QueueOptions, _ settings: Settings, logger: Logger, queueOptions: RedisQueue.Options = .init(),
                   _ body: ([RedisQueue]) async throws -> T) async throws -> T {
    let queues = try await options.connectShards(settings, logger: logger, options: queueOptions)
    do {
        let value = try await body(queues)
        for queue in queues { await queue.close() }
        return value
    } catch {
        for queue in queues { await queue.close() }
        throw error
    }
}

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
        "Redis URL redis://[user:password@]host[:port][/db], or rediss:// for TLS (env REDIS_URL, else REDIS_SERVICE_HOST/REDIS_SERVICE_PORT, else redis://redis:6379).",
        valueName: "url"))
    var redis: String?

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

    /// Connects to the queue, retrying within the connect budget, and checks that its keys have
    /// the right types (nothing is modified when one does not).
    func connect(_ settings: Settings, logger: Logger) async throws -> RedisQueue {
        let name = try queueName(settings)
        var configuration = try RedisConfiguration.resolve(flag: redis, environment: settings.environment)
        if configuration.password == nil, let path = settings.string(redisPasswordFile, "REDIS_PASSWORD_FILE") {
            let source = redisPasswordFile != nil ? "--redis-password-file" : "REDIS_PASSWORD_FILE"
            configuration.password = try PasswordFile.read(path, source: source)
        }
        let tlsSources = try applyTLS(settings, to: &configuration)
        let budget = try settings.seconds(connectTimeout, "WORKQUEUE_CONNECT_TIMEOUT", flagName: "--connect-timeout", allowZero: true)
            ?? .seconds(30)
        logger.debug("connecting", metadata: ["redis": "\(configuration)", "queue": "\(name)"])
        let queue: RedisQueue
        do {
            queue = try await RedisQueue.connect(name: name, configuration: configuration, logger: logger, connectBudget: budget)
        } catch let error as RedisError {
            switch error {
            case .server, .tls:
                // A server that answers but refuses the login, SELECT or SCRIPT LOAD will refuse
                // again; a certificate that cannot be verified will not become valid.
                throw CommandError.refused(error)
            case let .tlsFile(file, path, reason):
                throw CommandError.tlsFile(path: path, source: tlsSources[file] ?? file.rawValue, reason: reason)
            default:
                throw error
            }
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

import WorkQueueRedis

/// A fatal error of the command line; the description is what the user reads (after
/// `Error: `) and says what to fix.
enum CommandError: Error, CustomStringConvertible {
    /// A required setting is missing from both its flag and its variable.
    case missing(flag: String, variable: String, example: String)
    /// A flag or variable has a value of the wrong form.
    case invalid(source: String, value: String, expected: String)
    /// `--handler` names no compiled-in handler.
    case unknownHandler(String, known: [String])
    /// Flags that do not go together, or a missing one another needs (both or neither of
    /// `--handler` and `--plugin`, `--on-drained` with `--keep-running`).
    case flagConflict(String)
    /// `push` was given nothing to push.
    case nothingToPush
    /// A file could not be read.
    case unreadable(path: String, reason: String)
    /// `push --file`: the file cannot be opened or is not a file (missing, a folder, no
    /// permission): permanent, unlike a read failing midway.
    case inputFile(path: String, reason: String)
    /// `push`: a line longer than the most bytes a worker takes as one item.
    case itemTooLarge(source: String, bytes: Int, limit: Int, pushed: Int)
    /// `results --consume` with stdout a pipe or socket and no `--output`.
    case consumeToPipe(String)
    /// `results --output`: the file cannot be opened for appending.
    case outputFile(path: String, reason: String)
    /// A push or open into a queue whose workers found it drained and exited (`NAME:drained`).
    case queueDrained(String)
    /// Redis refused the connection's setup (login, SELECT, SCRIPT LOAD): a configuration
    /// error, not an outage. The description is the server's.
    case refused(RedisError)
    /// The Redis server is configured in a way the command refuses to work with.
    case serverSetting(String)
    /// In cluster mode, a queue name whose keys would span slots (no hash tag).
    case clusterQueueName(String)
    /// `push --wait-replicas N`: fewer replicas acknowledged a pushed chunk within the wait.
    case replicasBehind(queue: String, pushed: Int, acknowledged: Int, wanted: Int, seconds: String)
    /// The Redis password file (named by `source`: the flag or the variable) could not be read.
    case passwordFile(path: String, source: String, reason: String)
    /// The dashboard's token file (`--token-file`) cannot be read or is empty.
    case tokenFile(path: String, source: String, reason: String)
    /// The TLS flags or variables do not fit together (a file with a `redis://` URL, a client
    /// certificate without its key).
    case tlsSetting(String)
    /// A TLS file (named by `source`: the flag or the variable) could not be read or used.
    case tlsFile(path: String, source: String, reason: String)
    /// `push --keep-open` stopped by SIGTERM or SIGINT, after pushing every line it had read.
    case stopped(pushed: Int, queue: String, unfinishedLineBytes: Int)
    /// The metrics endpoint could not listen on its port.
    case metricsServer(flag: String, port: Int, error: String)
    /// The final metrics could not be pushed to the Pushgateway.
    case metricsPush(url: String, error: String)
    /// Writing to stdout failed (`results`: a closed pipe, a full disk).
    case output(String)
    /// `results --csv`: a record holds a NUL byte, which CSV cannot carry safely.
    case csvNUL(recordID: String)
    /// A Redis error that reached the command's end, rendered with the flags and variables
    /// that set what it names (``redisSettingNames(_:)``); its exit status is the error's own.
    case redis(RedisError)

    /// ``redisSettingNames(_:)`` for every setting, as `WorkerCommand.main` binds it for the
    /// library's hints (`RedisSetting.names`).
    static var redisSettingTable: [RedisSetting: String] {
        Dictionary(uniqueKeysWithValues: RedisSetting.allCases.map { ($0, redisSettingNames($0)) })
    }

    /// How the command names each ``RedisSetting`` a Redis error points at: by the flags and
    /// environment variables that set it, from ``Catalog``. (The library names them in words.)
    static func redisSettingNames(_ setting: RedisSetting) -> String {
        switch setting {
        case .url:
            "the \(Catalog.redis.flag) flag or \(Catalog.redis.variable ?? "") / REDIS_SERVICE_HOST"
        case .credentials:
            "the user and password (the URL's user:password in \(Catalog.redis.flag) or \(Catalog.redis.variable ?? ""), or "
                + "the file of \(Catalog.redisPasswordFile.flag) or \(Catalog.redisPasswordFile.variable ?? ""))"
        case .cluster:
            "cluster mode (\(Catalog.cluster.flag), or \(Catalog.cluster.variable ?? "")=1)"
        case .tlsCAFile:
            "\(Catalog.tlsCAFile.usage) (env \(Catalog.tlsCAFile.variable ?? ""))"
        case .tlsClientCertificate:
            "\(Catalog.tlsCertFile.usage) and \(Catalog.tlsKeyFile.usage) (env \(Catalog.tlsCertFile.variable ?? ""), "
                + "\(Catalog.tlsKeyFile.variable ?? ""))"
        }
    }

    /// The message, with every credential redacted (``Redaction``): a flag's or variable's
    /// value is redacted whole (it may hold spaces), then every word of the message.
    var description: String { Redaction.redactingCredentials(inMessage: text) }

    private var text: String {
        switch self {
        case let .missing(flag, variable, example):
            "missing \(flag) (or the \(variable) environment variable), e.g. \(flag) \(example)"
        case let .invalid(source, value, expected):
            "\(source) '\(Redaction.redactingCredentials(value))' is invalid: expected \(expected)"
        case let .unknownHandler(name, known):
            "unknown handler '\(Redaction.redactingCredentials(name))'; the compiled-in handlers are: "
                + "\(known.joined(separator: ", ")) (see `\(ProgramName.current) handlers`), or load one from a shared object with --plugin PATH"
        case let .flagConflict(message):
            message
        case .nothingToPush:
            "nothing to push: give items as arguments, --file PATH (one item per line), or - to read standard input"
        case let .unreadable(path, reason):
            "cannot read '\(path)': \(reason)"
        case let .outputFile(path, reason):
            "cannot write '\(path)' (--output): \(reason); nothing was read or deleted"
        case let .inputFile(path, reason):
            "cannot read '\(path)' (--file): \(reason); nothing was pushed"
        case let .itemTooLarge(source, bytes, limit, pushed):
            "a line of \(source) is longer than \(limit) bytes (\(limit >> 20) MiB, the most a worker takes as one item, "
                + "--max-item-bytes at most): \(bytes) bytes read so far without a newline; it was not pushed, nor anything "
                + "after it (\(pushed) item\(pushed == 1 ? "" : "s") before it were pushed). Split the item, or store it "
                + "elsewhere (a file, an object store) and push its name"
        case let .queueDrained(name):
            "queue '\(name)' was drained and the Job's workers have exited (\(name):drained is set): items pushed now "
                + "would wait with no worker to take them. Use a new queue name for a new Job, or pass --reopen to clear "
                + "the marker and push anyway (then start workers for them)"
        case let .refused(error), let .redis(error):
            error.description(naming: Self.redisSettingNames)
        case let .serverSetting(message), let .clusterQueueName(message):
            message
        case let .replicasBehind(queue, pushed, acknowledged, wanted, seconds):
            "\(pushed) item\(pushed == 1 ? "" : "s") pushed to \(queue) so far, but only \(acknowledged) of the \(wanted) "
                + "replica\(wanted == 1 ? "" : "s") asked for (--wait-replicas) confirmed the last chunk within \(seconds) s: "
                + "it is on the primary, and a failover now could lose it (Redis replicates asynchronously). Check the "
                + "replicas (INFO replication, CLUSTER NODES) and push again what must not be lost (workers may then see "
                + "duplicates, which at-least-once delivery allows), or lower --wait-replicas"
        case let .passwordFile(path, source, reason):
            "cannot read the Redis password file '\(path)' (from \(source)): \(reason); "
                + "check that the Secret is mounted there and readable by this user, or fix \(source)"
        case let .tokenFile(path, source, reason):
            "cannot read the dashboard token file '\(path)' (from \(source)): \(reason); "
                + "put the token the page's actions must present in it (e.g. a mounted Secret), or fix \(source)"
        case let .tlsSetting(message), let .output(message), let .consumeToPipe(message):
            message
        case let .tlsFile(path, source, reason):
            "cannot use the TLS file '\(path)' (from \(source)): \(reason); check the path, that the file is readable by "
                + "this user (a mounted Secret), and that it is PEM"
        case let .stopped(pushed, queue, unfinished):
            "stopped by SIGTERM or SIGINT: pushed \(pushed) item\(pushed == 1 ? "" : "s") to \(queue), every line read before "
                + "the signal; input not read yet was left unread"
                + (unfinished > 0 ? ", and the \(unfinished) byte\(unfinished == 1 ? "" : "s") of a last line without its newline were not pushed" : "")
        case let .metricsServer(flag, port, error):
            "cannot serve \(flag == Catalog.dashboardPort.flag ? "the dashboard" : "metrics") on port \(port) (\(flag)): \(error); "
                + "choose a free port, or 0 for any"
        case let .csvNUL(recordID):
            "record \(recordID) holds a NUL byte, which --csv does not write (many CSV readers cut the cell or the file "
                + "there); nothing of its page was written or deleted. Export without --csv: JSON lines write it as \\u0000"
        case let .metricsPush(url, error):
            "pushing the final metrics to \(Redaction.redactingCredentials(url)) failed: \(error); "
                + "check that the Pushgateway is reachable at that URL"
        }
    }
}

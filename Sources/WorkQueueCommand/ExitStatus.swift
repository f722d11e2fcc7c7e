import ArgumentParser
import WorkQueue
import WorkQueuePlugins
import WorkQueueRedis

/// The exit statuses of every command: a contract a Kubernetes Job's podFailurePolicy can
/// match on (docs/commands.md "Exit status"). The one place that maps an error to its code.
enum ExitStatus {
    /// `work`: the queue is drained. Other commands: done.
    static let success: Int32 = 0
    /// A transient outage outlasted its budget: Redis unreachable at start within the connect
    /// budget, or failing mid-run for longer than --backend-retry-seconds. Retrying may help.
    static let transient: Int32 = 1
    /// `wait`: the queue is drained, and some items are dead letters (`NAME:dead` is not empty).
    static let deadLetters: Int32 = 2
    /// `work --on-drained`: the queue is drained, but the hook this worker ran failed (exited
    /// non-zero, was killed, or could not start); it is not re-run.
    static let hookFailed: Int32 = 3
    /// `work`: the job was cancelled (`workqueue cancel`): in-flight items were cancelled and
    /// moved aside with the pending ones. A Job should fail on it (podFailurePolicy FailJob)
    /// rather than start pods that would find nothing to do.
    static let cancelled: Int32 = 4
    /// `work`: every handler thread was held by handlers that ignored `--item-timeout` (the
    /// spare threads too): the worker released the items it held and stopped. A new pod may
    /// succeed (the items are retried there).
    static let handlersStuck: Int32 = 5
    /// EX_SOFTWARE: `work`: a handler called `exit()` (or something else ended the process)
    /// while handlers ran: a crash, like a SIGSEGV; the items it held come back through recovery.
    static let handlerExited: Int32 = 70
    /// `wait --timeout`: the queue was not drained in time (as `timeout(1)` exits).
    static let timedOut: Int32 = 124
    /// EX_USAGE: a bad flag or environment variable.
    static let usage: Int32 = 64
    /// EX_CONFIG: a permanent configuration error (unknown handler, broken plugin, bad handler
    /// option, a queue key of the wrong type, Redis refusing the login or a command, a push
    /// into a drained queue, a TLS file that cannot be used, a server certificate that cannot
    /// be verified), input the command cannot carry (a `push --file` that is missing or a
    /// folder, a `push` line above the worker's 256 MiB item bound, a `results --csv` record
    /// holding a NUL byte). Retrying cannot help.
    static let configuration: Int32 = 78
    /// 128 + SIGTERM: SIGTERM or SIGINT stopped the command before it finished.
    static let stopped: Int32 = 143

    /// The codes a retry cannot fix (or, for a cancelled job, must not undo), which a Job should
    /// fail on at once.
    static let permanent: [Int32] = [cancelled, usage, configuration]

    /// The status for an error thrown by a command, or nil for ArgumentParser's own (help,
    /// parse and validation errors, ``ExitCode``), which it reports and maps itself (64 for a
    /// bad flag).
    static func code(for error: any Error) -> Int32? {
        switch error {
        case let error as CommandError:
            switch error {
            case .missing, .invalid, .flagConflict, .nothingToPush, .tlsSetting, .consumeToPipe: usage
            case .unknownHandler, .queueDrained, .refused, .serverSetting, .clusterQueueName, .passwordFile, .tokenFile, .tlsFile, .metricsServer,
                 .inputFile, .outputFile, .itemTooLarge, .csvNUL:
                configuration
            case .unreadable, .metricsPush, .replicasBehind, .output: transient
            case .stopped: stopped
            case let .redis(error): code(for: error) ?? transient
            }
        case let error as WorkQueueError:
            switch error {
            case .invalidOption, .wrongKeyType, .backendRefused: configuration
            case .invalidConfiguration: usage
            case .backendUnavailable: transient
            }
        case let error as PluginError:
            // A --signature of the wrong form is a bad flag value, as any other.
            if case .invalidSignature = error { usage } else { configuration }
        case let error as RedisError:
            switch error {
            case let .server(message): Self.isRefusal(message) ? configuration : transient
            case .tls, .tlsFile, .tlsUntrusted, .tlsClientCertificateRequired, .tlsRefused: configuration
            // A malformed --redis or REDIS_URL (or REDIS_SERVICE_PORT): a bad flag or variable,
            // which no retry fixes.
            case .invalidURL: usage
            default: transient
            }
        default:
            nil
        }
    }

    /// Server replies that no retry fixes: ACL denials, failed logins, and keys in the wrong
    /// cluster slot (a queue name without a hash tag, or a cluster node without --cluster).
    static func isRefusal(_ message: String) -> Bool {
        ["NOPERM", "WRONGPASS", "NOAUTH", "CROSSSLOT", "MOVED", "ASK "].contains { message.hasPrefix($0) }
    }
}

/// What an error from Redis means for the caller: the one place that decides whether retrying
/// can help.
public enum RedisErrorKind: Sendable, Equatable {
    /// Retrying cannot fix it (a missing ACL permission, a script error, an unknown command, a
    /// failed login, a key of the wrong type): stop and say what to change.
    case permanent
    /// The server cannot serve this connection now (a replica after a failover: READONLY; a
    /// server loading its data set: LOADING): reconnect, then retry.
    case reconnect
    /// The server refuses writes for a while (OOM, MISCONF, BUSY): back off, then retry.
    case backOff
    /// A dropped connection, a timeout, anything else: retry.
    case transient
}

extension RedisError {
    /// The ACL rule a worker user needs for the queue `NAME`: exactly the commands the worker
    /// and the other subcommands send, and those its Lua scripts call (ACL rules apply inside
    /// scripts too), on the queue's own keys.
    public static func aclRule(queue: String = "NAME") -> String {
        let commands = [
            // sent directly
            "ping", "select", "info", "type", "llen", "lrange", "rpush", "get", "hget", "hvals", "exists", "blmove",
            "evalsha", "evalsha_ro", "script|load", "hdel", "pttl", "hscan",
            // Redis Cluster (topology, redirects) and push --wait-replicas
            "cluster|shards", "cluster|slots", "asking", "wait",
            // called by the Lua scripts
            "del", "hexists", "hincrby", "hkeys", "hstrlen", "hlen", "hmget", "hset", "incr", "incrby", "lmove", "lpop", "lpos",
            "lpush", "lrem", "rpop", "set", "time", "zadd", "zcard", "zcount", "zrangebyscore", "zrem", "zscore", "pexpire", "zmscore",
            // the completion records: the exchange script (xadd, xtrim, xlen), `results` (xrange, xdel, xlen)
            "xadd", "xtrim", "xlen", "xrange", "xdel",
            // tracing (NAME:push-traces): a traced push (hset, expire), a traced worker (hmget, hdel)
            "expire",
        ]
        return "ACL SETUSER worker on >PASSWORD resetkeys ~\(queue) ~\(queue):* resetchannels -@all "
            + commands.map { "+\($0)" }.joined(separator: " ")
    }

    /// How the caller should react to this error.
    public var kind: RedisErrorKind {
        switch self {
        case let .server(message): Self.kind(ofReply: message)
        case .invalidURL, .tls, .tlsFile, .tlsUntrusted, .tlsClientCertificateRequired, .tlsRefused: .permanent
        // A refused login and a server that is no cluster node were server replies before they
        // had cases of their own, and keep their kind (a retry after a reconnect).
        case .connectionClosed, .connectFailed, .protocolError, .unexpectedReply, .timedOut, .cluster, .unreachable,
             .clusterUnreachable, .loginRefused, .notAClusterNode:
            .transient
        }
    }

    /// The description, with the ACL rule naming `queue` when a permission is missing.
    public func explained(queue: String) -> String {
        guard case let .server(message) = self else { return description }
        return "Redis replied with an error: \(Self.trimmed(message))\(Self.hint(forReply: message, queue: queue))"
    }

    /// True for a connection that could not be made (retry another node, or later).
    package var isUnreachable: Bool {
        switch self {
        case .connectFailed, .unreachable: true
        default: false
        }
    }

    /// True when retrying cannot fix this error.
    public var isPermanent: Bool { kind == .permanent }

    /// The kind of an error reply, by its error code (the first word) and, for `ERR`, its text.
    public static func kind(ofReply message: String) -> RedisErrorKind {
        let code = message.prefix { $0 != " " }
        switch code {
        case "NOPERM", "WRONGTYPE", "NOAUTH", "WRONGPASS", "NOSCRIPT":
            // NOSCRIPT is handled (by loading the scripts) before it gets here.
            return .permanent
        case "CROSSSLOT", "MOVED", "ASK":
            // Keys in several cluster slots never fit one node; a redirect reaching the caller
            // means a client without cluster mode talks to a cluster node (the cluster client
            // follows redirects itself).
            return .permanent
        case "READONLY", "LOADING", "MASTERDOWN":
            return .reconnect
        case "OOM", "MISCONF", "BUSY", "TRYAGAIN", "CLUSTERDOWN":
            return .backOff
        default:
            break
        }
        let lowered = message.lowercased()
        if message.contains("NOPERM") || lowered.contains("user executing the script can't run") { return .permanent }
        if lowered.hasPrefix("err error running script") || lowered.hasPrefix("err user_script")
            || lowered.contains("script: ") && lowered.contains("@user_script")
            || lowered.hasPrefix("err unknown command") || lowered.hasPrefix("err unknown subcommand")
            || lowered.hasPrefix("err wrong number of arguments") {
            return .permanent
        }
        return .transient
    }

    /// The reply without its closing period, so that a hint can follow it.
    static func trimmed(_ message: String) -> Substring {
        message.hasSuffix(".") && !hint(forReply: message).isEmpty ? message.dropLast() : Substring(message)
    }

    /// What to do about an error reply, appended to its description ("" when nothing specific).
    static func hint(forReply message: String, queue: String = "NAME") -> String {
        let code = message.prefix { $0 != " " }
        let lowered = message.lowercased()
        switch code {
        case _ where message.contains("NOPERM") || lowered.contains("user executing the script can't run"):
            // Also a script's command denied by ACL (Redis 7.0 reports it as ERR).
            return ". The Redis user lacks a permission the worker needs; grant it (for queue \(queue)): "
                + aclRule(queue: queue)
        case "WRONGPASS", "NOAUTH":
            return ". Check \(RedisSetting.credentials.named)"
        case "READONLY":
            return ". This server is a read-only replica; the worker reconnects (point the URL at the primary)"
        case "LOADING":
            return ". Redis is loading its data set; the worker retries"
        case "OOM":
            return ". Redis reached its maxmemory limit; the worker backs off and retries. Raise maxmemory, "
                + "or drain or delete keys (results and dead letters of old queues)"
        case "MISCONF":
            return ". Redis cannot persist its data (see its log); the worker backs off and retries"
        case "CROSSSLOT":
            return ". The keys of one command are in different Redis Cluster slots: a queue name in a cluster needs a "
                + "hash tag, so that every key of the queue is in one slot; use {\(queue)} instead of \(queue)"
        case "MOVED", "ASK":
            return ". This Redis is a Redis Cluster node and the key lives on another node; turn on "
                + "\(RedisSetting.cluster.named) with a queue name that has a hash tag, e.g. {\(queue)}"
        case "TRYAGAIN":
            return ". A slot of the Redis Cluster is being migrated; the worker retries"
        case "CLUSTERDOWN":
            return ". The Redis Cluster cannot serve this slot now (a failover under way, or a slot without a master); "
                + "the worker retries"
        default:
            break
        }
        if lowered.hasPrefix("err unknown command") || lowered.hasPrefix("err unknown subcommand") {
            return ". This server does not support a command the worker needs (Redis 6.2 or later is required), "
                + "or the command was renamed or disabled in its configuration"
        }
        if lowered.hasPrefix("err error running script") || lowered.hasPrefix("err user_script") {
            return ". One of the worker's Lua scripts failed on this server; report it with the message above "
                + "and the Redis version (INFO server)"
        }
        return ""
    }
}

extension RedisError {
    /// Whether a connect attempt that failed this way will fail the same on the next attempt
    /// (a refused login, SELECT or setup, a certificate that cannot be verified, an unusable TLS
    /// file), so that retrying within the connect budget is pointless.
    package var stopsConnectRetries: Bool {
        switch self {
        case .server, .tls, .tlsFile, .loginRefused, .notAClusterNode, .tlsUntrusted, .tlsClientCertificateRequired, .tlsRefused:
            true
        default: false
        }
    }
}

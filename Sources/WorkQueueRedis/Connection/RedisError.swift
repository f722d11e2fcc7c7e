/// Errors of the Redis client.
public enum RedisError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The server answered with an error reply.
    case server(String)
    /// The connection closed (server restart, network) before a reply arrived.
    case connectionClosed(String)
    /// Could not connect within the budget.
    case connectFailed(String)
    /// The server's bytes were not valid RESP.
    case protocolError(String)
    /// A reply had an unexpected shape.
    case unexpectedReply(String)
    /// No reply came within the command timeout; the connection was dropped and is reopened
    /// on the next command.
    case timedOut(endpoint: String, command: String, after: Duration)
    /// A Redis URL could not be parsed.
    case invalidURL(String, reason: String)
    /// Redis Cluster routing gave up for now (too many redirects, no node known for a slot);
    /// retrying later may succeed.
    case cluster(String)
    /// The TLS handshake failed in a way that retrying cannot fix (the server's certificate
    /// could not be verified or names another host, the server does not speak TLS, or it
    /// refused the client certificate). The message says what to change.
    case tls(String)
    /// One of the TLS files (``RedisTLS``) could not be read or holds no usable PEM data.
    case tlsFile(RedisTLS.File, path: String, reason: String)
    /// No connection to `endpoint` could be made in `attempts` attempts within `budget`; the
    /// last failed with `lastError`. Retrying later may succeed; check ``RedisSetting/url``.
    case unreachable(endpoint: String, attempts: Int, budget: Duration, lastError: String)
    /// No seed of a Redis Cluster answered with the cluster's topology within `budget`; the last
    /// attempt failed with `lastError`. Retrying later may succeed; check ``RedisSetting/url``.
    case clusterUnreachable(seeds: [String], budget: Duration, lastError: String)
    /// Redis at `endpoint` refused the login (as `user`, or the default user) with the error
    /// reply `reply`: check ``RedisSetting/credentials``.
    case loginRefused(endpoint: String, user: String?, reply: String)
    /// Cluster mode was asked for, but Redis at `endpoint` is not a Redis Cluster node (its
    /// error reply: `reply`): turn ``RedisSetting/cluster`` off to use it as a single server.
    case notAClusterNode(endpoint: String, reply: String)
    /// The TLS certificate of Redis at `endpoint` is not signed by a CA this client trusts (the
    /// one in `caFile`, or the system's bundle when nil), or it has expired: a private CA's
    /// certificate goes in ``RedisSetting/tlsCAFile``.
    case tlsUntrusted(endpoint: String, caFile: String?)
    /// Redis at `endpoint` requires a client certificate and none was given: see
    /// ``RedisSetting/tlsClientCertificate``.
    case tlsClientCertificateRequired(endpoint: String)
    /// Redis at `endpoint` refused the TLS connection (`reason`, from the handshake): if it checks
    /// client certificates, ``RedisSetting/tlsClientCertificate`` must be signed by a CA it trusts.
    case tlsRefused(endpoint: String, reason: String)

    public var description: String { description(naming: \.description) }

    /// The description, with each ``RedisSetting`` it names as `name` renders it (the library's
    /// ``description`` uses ``RedisSetting/description``; a command passes its flags).
    public func description(naming name: (RedisSetting) -> String) -> String {
        switch self {
        case let .unreachable(endpoint, attempts, budget, lastError):
            "could not connect to Redis at \(endpoint) after \(attempts) attempts within \(budget): \(lastError). "
                + "Check that Redis is running and reachable there, and \(name(.url))"
        case let .clusterUnreachable(seeds, budget, lastError):
            "could not read the Redis Cluster topology from \(seeds.joined(separator: ", ")) within \(budget): "
                + "\(lastError). Check that the nodes are running and reachable, and \(name(.url))"
        case let .loginRefused(endpoint, user, reply):
            "Redis at \(endpoint) refused the login\(user.map { " as user '\($0)'" } ?? ""): \(reply); check \(name(.credentials))"
        case let .notAClusterNode(endpoint, reply):
            "\(reply): Redis at \(endpoint) is not a Redis Cluster node; turn off \(name(.cluster)) to use it as a single server"
        case let .tlsUntrusted(endpoint, caFile):
            "the TLS certificate of Redis at \(endpoint) could not be verified: it is not signed by a CA this worker trusts "
                + "(\(caFile.map { "the CA in '\($0)'" } ?? "the system's CA bundle")), or it has expired. If the server uses a "
                + "private CA, pass its certificate with \(name(.tlsCAFile))"
        case let .tlsClientCertificateRequired(endpoint):
            "Redis at \(endpoint) requires a client certificate (tls-auth-clients): pass one with \(name(.tlsClientCertificate))"
        case let .tlsRefused(endpoint, reason):
            "Redis at \(endpoint) refused the TLS connection (\(reason)): if it checks client certificates, the one in "
                + "\(name(.tlsClientCertificate)) must be signed by a CA the server trusts (its tls-ca-cert-file)"
        default:
            plainDescription
        }
    }

    /// The description of the cases that name no setting.
    private var plainDescription: String {
        switch self {
        case let .server(message): "Redis replied with an error: \(Self.trimmed(message))\(Self.hint(forReply: message))"
        case let .connectionClosed(endpoint): "the connection to Redis at \(endpoint) closed; it will be reopened on the next command"
        case let .connectFailed(message): message
        case let .protocolError(message): "Redis sent invalid data: \(message)"
        case let .unexpectedReply(message): "unexpected Redis reply: \(message)"
        case let .timedOut(endpoint, command, after):
            "Redis at \(endpoint) did not answer \(command) within \(after); the connection was dropped "
                + "and will be reopened (is the server overloaded, paused, or the network stalled?)"
        case let .invalidURL(url, reason):
            "invalid Redis URL '\(Redaction.redactingCredentials(url))': \(reason); "
                + "expected redis://[user:password@]host[:port][/db] (rediss:// for TLS)"
        case let .tls(message): message
        case let .tlsFile(file, path, reason): "cannot use the TLS \(file.rawValue) '\(path)': \(reason)"
        case let .cluster(message): "Redis Cluster: \(message)"
        case .unreachable, .clusterUnreachable, .loginRefused, .notAClusterNode, .tlsUntrusted, .tlsClientCertificateRequired,
             .tlsRefused:
            description(naming: \.description)
        }
    }
}

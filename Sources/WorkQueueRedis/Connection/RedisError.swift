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

    public var description: String {
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
        }
    }
}

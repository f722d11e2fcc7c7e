/// A setting of the connection that an error names as the thing to check or change. The
/// library's messages name it in words (``description``); a program with flags of its own
/// renders the same error with them (``RedisError/description(naming:)``): the `workqueue`
/// command names `--redis` and `REDIS_URL`, `--tls-ca-file`, and so on.
public enum RedisSetting: Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Where Redis is: the URL of ``RedisConfiguration`` (or the seeds of ``RedisDeployment``).
    case url
    /// The user and password: the URL's `user:password`, or ``RedisConfiguration/password``.
    case credentials
    /// Cluster mode: a ``RedisDeployment/cluster(seeds:)`` deployment.
    case cluster
    /// The certificate authorities that verify the server: ``RedisTLS/caFile``.
    case tlsCAFile
    /// The client certificate and its key: ``RedisTLS/certificateFile`` and ``RedisTLS/keyFile``.
    case tlsClientCertificate

    /// The setting in words, e.g. `the Redis URL`.
    public var description: String {
        switch self {
        case .url: "the Redis URL"
        case .credentials: "the user and password (the URL's user:password, or the configuration's password)"
        case .cluster: "cluster mode"
        case .tlsCAFile: "a TLS CA file"
        case .tlsClientCertificate: "a TLS client certificate and its key file"
        }
    }

    /// How messages built deep in the library (the hints on server replies, which travel as
    /// text) name a setting: in words (``description``) unless a command binds its own names
    /// for the duration of its run, as `workqueue` binds its flags and variables.
    @TaskLocal package static var names: [RedisSetting: String] = [:]

    /// This setting as ``names`` binds it, or in words.
    package var named: String { Self.names[self] ?? description }
}

/// How a queue reaches Redis: one server (or a primary), or a Redis Cluster. Its description
/// (for logs) shows every URL with the password redacted.
public enum RedisDeployment: Sendable, Hashable, CustomStringConvertible {
    /// One server.
    case standalone(RedisConfiguration)
    /// A Redis Cluster, reached through these seed nodes (any reachable one is enough: the
    /// rest of the topology is discovered). Every node is reached with the first seed's
    /// configuration with host and port replaced, so its credentials, TLS settings and
    /// timeouts apply to all. The queue name must have a hash tag (`{job2}`), so that every
    /// key of the queue is in one slot.
    case cluster(seeds: [RedisConfiguration])

    public var description: String {
        switch self {
        case let .standalone(configuration): configuration.redactedDescription
        case let .cluster(seeds): "cluster " + seeds.map(\.redactedDescription).joined(separator: ",")
        }
    }

    /// The configuration of the server, or of the first seed.
    public var configuration: RedisConfiguration? {
        switch self {
        case let .standalone(configuration): configuration
        case let .cluster(seeds): seeds.first
        }
    }
}

extension RedisDeployment {
    /// The deployment from, in order, `flag` (a URL), `REDIS_URL`, `REDIS_SERVICE_HOST` with
    /// `REDIS_SERVICE_PORT`, `redis://redis:6379` (as ``RedisConfiguration/resolve(flag:environment:)``).
    /// A URL naming several nodes, `redis://[user:password@]host1:port1,host2:port2[/db]`, is
    /// a cluster's seed list; `cluster` makes a single node a cluster seed too.
    public static func resolve(flag: String?, environment: [String: String], cluster: Bool) throws -> RedisDeployment {
        if let url = RedisConfiguration.url(flag: flag, environment: environment), let seeds = try seedList(url) { return .cluster(seeds: seeds) }
        let configuration = try RedisConfiguration.resolve(flag: flag, environment: environment)
        return cluster ? .cluster(seeds: [configuration]) : .standalone(configuration)
    }

    /// The nodes of a URL naming several (`scheme://[credentials@]h1:p1,h2:p2[/db]`), each as
    /// the same URL with one host; nil for a URL with one host.
    static func seedList(_ url: String) throws(RedisError) -> [RedisConfiguration]? {
        guard let scheme = url.firstRange(of: "://") else { return nil }
        let rest = url[scheme.upperBound...]
        let hostStart = rest.lastIndex(of: "@").map { rest.index(after: $0) } ?? rest.startIndex
        let hostEnd = rest[hostStart...].firstIndex(of: "/") ?? rest.endIndex
        let hosts = rest[hostStart..<hostEnd].split(separator: ",", omittingEmptySubsequences: false)
        guard hosts.count > 1 else { return nil }
        let prefix = url[..<hostStart]
        let suffix = rest[hostEnd...]
        var seeds: [RedisConfiguration] = []
        for host in hosts {
            guard !host.isEmpty else {
                throw .invalidURL(RedisConfiguration.redactURL(url), reason: "an empty host in the list of cluster nodes")
            }
            seeds.append(try RedisConfiguration(url: String(prefix + host + suffix)))
        }
        return seeds
    }
}

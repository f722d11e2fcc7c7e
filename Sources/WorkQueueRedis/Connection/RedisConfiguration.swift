/// Where and how to reach Redis.
public struct RedisConfiguration: Sendable, Hashable, CustomStringConvertible {
    /// The host name or address of the Redis server (or of one Cluster node).
    public var host: String
    /// The TCP port, 6379 unless the URL names another.
    public var port: Int
    /// The ACL user to log in as (`AUTH user password`); nil for the default user.
    public var username: String?
    /// The password, or nil for none; never printed (see ``redactedDescription``).
    public var password: String?
    /// The database number `SELECT`ed after connecting (0 by default; a Cluster has only 0).
    public var database: Int
    /// How long one connection attempt may take.
    public var connectTimeout: Duration
    /// How long a command may wait for its reply (a blocking command: its own timeout plus
    /// this) before the connection is dropped as stalled and the command fails with
    /// ``RedisError/timedOut(endpoint:command:after:)``.
    public var commandTimeout: Duration
    /// TLS settings; nil for a plaintext connection. A `rediss://` URL sets `RedisTLS()`: the
    /// system's CA bundle, no client certificate.
    public var tls: RedisTLS?
    /// The most bytes one reply may take (RESP's own bound, 512 MiB and a margin); a larger
    /// one closes the connection as a protocol error. Tests lower it to check that no reply of
    /// the queue grows with the size of its items.
    package var maxReplyBytes = RESPParser.defaultMaxBufferedBytes

    /// A configuration from its parts; ``init(url:)`` parses them from a URL.
    public init(host: String, port: Int = 6379, username: String? = nil, password: String? = nil,
                database: Int = 0, connectTimeout: Duration = .seconds(5), commandTimeout: Duration = .seconds(10),
                tls: RedisTLS? = nil) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
        self.tls = tls
    }

    /// Parses `redis://[user:password@]host[:port][/db]` (also `redis://:password@host`);
    /// `rediss://` is the same over TLS (``tls`` set, certificates verified).
    public init(url: String) throws(RedisError) {
        let redacted = Self.redactURL(url)
        guard let scheme = Self.scheme(of: url) else {
            throw .invalidURL(redacted, reason: Self.schemeProblem(url))
        }
        var rest = Substring(url.dropFirst(scheme.count))
        var username: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                let user = credentials[..<colon]
                username = user.isEmpty ? nil : String(user)
                password = String(credentials[credentials.index(after: colon)...])
            } else if !credentials.isEmpty {
                password = String(credentials)
            }
        }
        var database = 0
        if let slash = rest.firstIndex(of: "/") {
            let dbText = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
            if !dbText.isEmpty {
                guard let db = Int(dbText), db >= 0 else { throw .invalidURL(redacted, reason: "database '\(dbText)' is not a non-negative number") }
                database = db
            }
        }
        var host = String(rest)
        var port = 6379
        if let colon = rest.lastIndex(of: ":"), !rest.hasSuffix("]") {
            host = String(rest[..<colon])
            let portText = rest[rest.index(after: colon)...]
            guard let value = Int(portText), (1...65535).contains(value) else {
                // A port that is not a number may be a password without its '@host'
                // (`redis://:s3cret`): it is not shown.
                let shown = portText.allSatisfy(\.isNumber) ? "'\(portText)'" : "(not shown)"
                throw .invalidURL(Self.hidingPort(portText, in: redacted),
                                  reason: "the port \(shown) is not a number from 1 to 65535; "
                                      + "a password needs an '@host' after it")
            }
            port = value
        }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw .invalidURL(redacted, reason: "the host is missing") }
        self.init(host: host, port: port, username: username, password: password, database: database,
                  tls: scheme == "rediss://" ? RedisTLS() : nil)
    }

    /// `redacted` with its last `:portText` shown as `:***` unless the port is all digits.
    private static func hidingPort(_ portText: Substring, in redacted: String) -> String {
        let needle = ":" + portText
        guard !portText.allSatisfy(\.isNumber),
              let start = redacted.indices.last(where: { redacted[$0...].hasPrefix(needle) })
        else { return redacted }
        return String(redacted[..<start]) + ":***" + String(redacted[redacted.index(start, offsetBy: needle.count)...])
    }

    /// The configuration from, in order: `flag` (a URL), `REDIS_URL`, `REDIS_SERVICE_HOST` with
    /// `REDIS_SERVICE_PORT` (set by Kubernetes for a Service named `redis`), ``fallback``.
    public static func resolve(flag: String?, environment: [String: String]) throws -> RedisConfiguration {
        if let url = url(flag: flag, environment: environment) { return try RedisConfiguration(url: url) }
        if let host = environment["REDIS_SERVICE_HOST"], !host.isEmpty {
            var port = fallback.port
            if let portText = environment["REDIS_SERVICE_PORT"], !portText.isEmpty {
                guard let value = Int(portText), (1...65535).contains(value) else {
                    throw RedisError.invalidURL("REDIS_SERVICE_PORT=\(Redaction.redactingCredentials(portText))",
                                                reason: "the port is not a number from 1 to 65535")
                }
                port = value
            }
            return RedisConfiguration(host: host, port: port)
        }
        return fallback
    }

    /// `flag` when given (not empty), else `REDIS_URL` when set (not empty): the one place the
    /// variable is read.
    static func url(flag: String?, environment: [String: String]) -> String? {
        if let flag, !flag.isEmpty { return flag }
        if let url = environment["REDIS_URL"], !url.isEmpty { return url }
        return nil
    }

    /// Where Redis is when nothing says: `redis://redis:6379`, the Kubernetes Service `redis`.
    public static var fallback: RedisConfiguration { RedisConfiguration(host: "redis", port: 6379) }

    /// ``fallback`` as a URL, for help texts.
    public static var fallbackURL: String { "redis://\(fallback.endpoint)" }

    /// `host:port`, for messages (a host holding an `@`, say from `REDIS_SERVICE_HOST`, is
    /// redacted as a URL's credentials are).
    public var endpoint: String {
        Redaction.redactingCredentials(host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)")
    }

    /// A URL form with the password replaced by `***`.
    public var redactedDescription: String {
        var credentials = ""
        if username != nil || password != nil {
            credentials = (username ?? "") + (password != nil ? ":***" : "") + "@"
        }
        return Redaction.redactingCredentials("\(tls == nil ? "redis" : "rediss")://\(credentials)\(endpoint)/\(database)")
    }

    public var description: String { redactedDescription }

    /// `redis://` or `rediss://`, or nil for anything else.
    static func scheme(of url: String) -> String? {
        ["redis://", "rediss://"].first { url.hasPrefix($0) }
    }

    /// What is wrong with the scheme of `url` (which is neither `redis://` nor `rediss://`),
    /// naming what it has only when that is a plain scheme (no credential can be in it).
    static func schemeProblem(_ url: String) -> String {
        let wanted = "the scheme must be redis:// (or rediss:// for TLS)"
        let letters = url.prefix { $0.isASCII && ($0.isLetter || $0.isNumber || "+-.".contains($0)) }
        guard let first = letters.first, first.isLetter, url.dropFirst(letters.count).first == ":" else {
            return wanted + ", and this URL has none"
        }
        let slashes = url.dropFirst(letters.count + 1).prefix { $0 == "/" }
        let scheme = "\(letters):\(slashes)"
        if ["redis", "rediss"].contains(letters.lowercased()) {
            return slashes == "//" ? "\(wanted), in lower case, not \(scheme)" : "\(wanted), not \(scheme)"
        }
        // `host:port` or `user:password@host`: no scheme, not a scheme `host:`.
        return slashes.isEmpty ? wanted + ", and this URL has none" : "\(wanted), not \(scheme)"
    }

    /// `url` with its credentials hidden, whatever its shape (``Redaction``).
    static func redactURL(_ url: String) -> String {
        Redaction.redactingCredentials(url)
    }
}

/// The server's `maxmemory-policy`, and what it means for a queue's keys.
public struct EvictionPolicy: Sendable, Equatable {
    /// `noeviction`, `allkeys-lru`, `volatile-ttl`, ...
    public var name: String
    /// `maxmemory` in bytes; 0 means no limit (nothing is evicted while it stays 0).
    public var maxmemory: Int

    /// A policy as `CONFIG GET maxmemory-policy` and `maxmemory` report it.
    public init(name: String, maxmemory: Int) {
        self.name = name
        self.maxmemory = maxmemory
    }

    /// Parses `INFO memory` (the `maxmemory` and `maxmemory_policy` lines).
    public init?(info: String) {
        var policy: String?
        var maxmemory = 0
        for line in info.split(whereSeparator: \.isNewline) {
            if line.hasPrefix("maxmemory_policy:") {
                policy = String(line.dropFirst("maxmemory_policy:".count))
            } else if line.hasPrefix("maxmemory:") {
                maxmemory = Int(line.dropFirst("maxmemory:".count)) ?? 0
            }
        }
        guard let policy, !policy.isEmpty else { return nil }
        self.init(name: policy, maxmemory: maxmemory)
    }

    /// True only for `noeviction`: Redis then refuses writes (OOM) instead of deleting keys.
    public var isNoEviction: Bool { name == "noeviction" }

    /// What this policy can do to the queue `queue`, or nil when it never deletes our keys.
    public func warning(queue: String) -> String? {
        guard !isNoEviction else { return nil }
        let limit = maxmemory == 0
            ? " (maxmemory is 0, so nothing is evicted until a limit is set)"
            : " once Redis reaches maxmemory (\(maxmemory) bytes)"
        let what: String
        if name.hasPrefix("volatile-") {
            what = "Redis deletes keys that have a TTL\(limit): the rediswq.py lease keys \(queue):leased_by_session:* "
                + "(an item a Python worker holds can then be handed out again) and \(queue):recovery (harmless)"
        } else {
            what = "Redis deletes any key\(limit): pending items (\(queue)), items in progress (\(queue):processing), "
                + "leases, retries and dead letters can be lost"
        }
        return "maxmemory-policy is \(name): \(what). A queue needs maxmemory-policy noeviction "
            + "(CONFIG SET maxmemory-policy noeviction, and in redis.conf)"
    }
}

extension RedisQueue {
    /// The server's eviction policy, from `INFO memory` (allowed by the worker's ACL rule,
    /// unlike `CONFIG GET`).
    public func evictionPolicy() async throws -> EvictionPolicy {
        let reply: RESPValue
        do {
            reply = try await client.send(["INFO", "memory"])
        } catch let error as RedisError {
            throw await classified(error)
        }
        guard let text = reply.string, let policy = EvictionPolicy(info: text) else {
            throw RedisError.unexpectedReply("INFO memory has no maxmemory_policy line")
        }
        return policy
    }
}

import WorkQueueSeam

/// The push trace contexts (tracing, docs/tracing.md): `NAME:push-traces`, a hash from the
/// SHA-224 hex of an item to the encoded trace carrier of the push that added it. Written only
/// by a push made while tracing is on, read and cleared only by workers with tracing on; it
/// expires ``RedisQueue/pushTraceTTLSeconds`` after the last traced push. No script: each call is one
/// plain command (the store: `HSET` and `EXPIRE`, pipelined, per 1000 items).
extension RedisQueue: PushTraceStore {
    /// How long `NAME:push-traces` outlives the last traced push: 7 days.
    public static let pushTraceTTLSeconds = 7 * 86_400

    /// Items per `HSET`, `HMGET` or `HDEL`.
    static let pushTraceBatch = 1000

    /// Records `context` for each of `items` in `NAME:push-traces` (`HSET` by SHA-224 hex, then
    /// `EXPIRE` ``RedisQueue/pushTraceTTLSeconds``, pipelined, per 1000 items).
    public func storePushTrace(_ context: String, for items: [WorkItem]) async throws {
        guard !items.isEmpty else { return }
        let key = RESPArgument(keys.pushTraces)
        let value = RESPArgument(context)
        var start = 0
        while start < items.count {
            let end = Swift.min(start + Self.pushTraceBatch, items.count)
            var hset: [RESPArgument] = ["HSET", key]
            hset.reserveCapacity(2 + 2 * (end - start))
            for item in items[start..<end] {
                hset.append(RESPArgument(SHA224.hex(item.bytes)))
                hset.append(value)
            }
            let replies = try await client.pipeline([hset, ["EXPIRE", key, RESPArgument(Self.pushTraceTTLSeconds)]])
            for reply in replies {
                if case let .error(message) = reply { throw await classified(RedisError.server(message)) }
            }
            start = end
        }
    }

    /// The stored context of each of `items`, in their order (`HMGET`, per 1000 items).
    public func pushTraces(for items: [WorkItem]) async throws -> [String?] {
        var contexts: [String?] = []
        contexts.reserveCapacity(items.count)
        var start = 0
        while start < items.count {
            let end = Swift.min(start + Self.pushTraceBatch, items.count)
            let reply = try await client.send(["HMGET", RESPArgument(keys.pushTraces)]
                + items[start..<end].map { RESPArgument(SHA224.hex($0.bytes)) })
            guard let values = reply.array, values.count == end - start else {
                throw RedisError.unexpectedReply("HMGET \(keys.pushTraces) -> \(reply)")
            }
            contexts += values.map(\.string)
            start = end
        }
        return contexts
    }

    /// Deletes the stored contexts of `items` (`HDEL`, per 1000 items).
    public func forgetPushTraces(for items: [WorkItem]) async throws {
        var start = 0
        while start < items.count {
            let end = Swift.min(start + Self.pushTraceBatch, items.count)
            _ = try await client.send(["HDEL", RESPArgument(keys.pushTraces)]
                + items[start..<end].map { RESPArgument(SHA224.hex($0.bytes)) })
            start = end
        }
    }
}

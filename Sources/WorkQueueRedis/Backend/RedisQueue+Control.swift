import WorkQueue

/// Pause, resume and cancel: the marks in `NAME:control`, the items aside in `NAME:cancelled`.
extension RedisQueue {
    /// The largest page ``cancel(max:)`` and ``restoreCancelled(max:)`` move in one script call
    /// (about 10 ms of Redis time for small items); a larger `max` is cut to it.
    public static let controlPageSize = 10_000

    /// The marks of `NAME:control` and the length of `NAME:cancelled`, in one round trip.
    public func control() async throws -> QueueControl {
        let replies = try await client.pipeline([
            ["HMGET", RESPArgument(keys.control), "paused", "cancelled"],
            ["LLEN", RESPArgument(keys.cancelled)],
        ])
        guard replies.count == 2, let marks = replies[0].array, marks.count == 2 else {
            throw RedisError.unexpectedReply("control -> \(replies)")
        }
        return QueueControl(paused: !marks[0].isNull, cancelled: !marks[1].isNull, cancelledItems: replies[1].int)
    }

    /// Sets `paused` in `NAME:control` (to 1), or deletes it.
    public func setPaused(_ paused: Bool) async throws {
        if paused {
            _ = try await client.send(["HSET", RESPArgument(keys.control), "paused", "1"])
        } else {
            _ = try await client.send(["HDEL", RESPArgument(keys.control), "paused"])
        }
    }

    /// One call of the `cancel` script: marks the queue cancelled and moves up to `max`
    /// (at most ``controlPageSize``) pending items, then scheduled retries, to `NAME:cancelled`.
    public func cancel(max: Int) async throws -> Int {
        let page = Swift.min(Swift.max(1, max), Self.controlPageSize)
        let reply = try await run(.cancel, keys: [keys.pending, keys.retry, keys.cancelled, keys.control], args: [RESPArgument(page)])
        guard let moved = reply.array?.first?.int else { throw RedisError.unexpectedReply("cancel -> \(reply)") }
        return moved
    }

    /// Deletes `cancelled` from `NAME:control`.
    public func clearCancelled() async throws {
        _ = try await client.send(["HDEL", RESPArgument(keys.control), "cancelled"])
    }

    /// `LRANGE` of `NAME:cancelled` (at most 1000 items a call).
    public func cancelledItems(offset: Int, limit: Int) async throws -> [WorkItem] {
        let start = Swift.max(0, offset)
        let count = Swift.min(Swift.max(1, limit), 1000)
        let reply = try await client.send(["LRANGE", RESPArgument(keys.cancelled), RESPArgument(start), RESPArgument(start + count - 1)])
        return (reply.array ?? []).compactMap(\.bytes).map { WorkItem($0) }
    }

    /// One call of the `restore-cancelled` script: up to `max` (at most
    /// ``controlPageSize``) items from `NAME:cancelled` to the tail of pending, in order.
    public func restoreCancelled(max: Int) async throws -> Int {
        let page = Swift.min(Swift.max(1, max), Self.controlPageSize)
        let reply = try await run(.restoreCancelled, keys: [keys.cancelled, keys.pending], args: [RESPArgument(page)])
        guard let moved = reply.array?.first?.int else { throw RedisError.unexpectedReply("restore-cancelled -> \(reply)") }
        return moved
    }
}

import WorkQueueSeam

/// Pause, resume and cancel: the marks in `NAME:control`, the items aside in `NAME:cancelled`.
extension RedisQueue: QueueControlling, CancelledItemsReading {
    /// The most items ``cancelPage(max:mark:)`` and ``restorePage(max:clearCancel:hold:)`` move
    /// in one script call (about 10 ms of Redis time for small items); a larger `max` is cut to
    /// it. A page also stops once its items reach `replyByteBudget` bytes (1 MiB by default).
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

    /// One call of the `cancel` script: with `mark`, marks the queue cancelled first; without,
    /// moves only while it is marked. Up to `max` (at most ``controlPageSize``) items and about
    /// `replyByteBudget` bytes (at least one item) move to `NAME:cancelled`, pending first, then
    /// scheduled retries.
    public func cancelPage(max: Int, mark: Bool) async throws -> ControlPage {
        let page = Swift.min(Swift.max(1, max), Self.controlPageSize)
        let reply = try await run(.cancel,
                                  args: [RESPArgument(page), RESPArgument(replyByteBudget), RESPArgument(mark ? "1" : "0")])
        guard let values = reply.array, values.count == 4, let moved = values[0].int, let pending = values[1].int,
              let scheduled = values[2].int, let marked = values[3].int else {
            throw RedisError.unexpectedReply("cancel -> \(reply)")
        }
        return ControlPage(moved: moved, remaining: pending + scheduled, cancelled: marked == 1)
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

    /// How long a restore's hold (``restorePage(max:clearCancel:hold:)``) keeps the queue open
    /// after its last page, should the restore stop midway: 30 s.
    public static let restoreHoldMilliseconds = 30_000

    /// One call of the `restore-cancelled` script: with `clearCancel`, clears the cancel mark
    /// first; then up to `max` (at most ``controlPageSize``) items and about `replyByteBudget`
    /// bytes (at least one item) from `NAME:cancelled` to the tail of pending, in order. With
    /// `hold`, the queue is held open under that name in `NAME:holds` while items remain aside
    /// (expiring ``restoreHoldMilliseconds`` after the page), and the hold is removed once none do.
    public func restorePage(max: Int, clearCancel: Bool, hold: String?) async throws -> ControlPage {
        let page = Swift.min(Swift.max(1, max), Self.controlPageSize)
        let reply = try await run(.restoreCancelled,
                                  args: [RESPArgument(page), RESPArgument(replyByteBudget), RESPArgument(clearCancel ? "1" : "0"),
                                         RESPArgument(hold ?? ""), RESPArgument(Self.restoreHoldMilliseconds)])
        guard let values = reply.array, values.count == 3, let moved = values[0].int, let left = values[1].int,
              let marked = values[2].int else {
            throw RedisError.unexpectedReply("restore-cancelled -> \(reply)")
        }
        return ControlPage(moved: moved, remaining: left, cancelled: marked == 1)
    }
}

import WorkQueue

/// The safe producer: `NAME:open` (a producer is still filling the queue, with a TTL) and
/// `NAME:drained` (the Job's workers found the queue drained and exited). Workers do not exit
/// while the queue is open; pushes into a drained queue are refused.
extension RedisQueue {
    /// What ``open(producer:ttl:reopen:)`` and ``push(_:)`` answer.
    public enum ProducerOutcome: Sendable, Equatable {
        /// Done; for a push, the pending count afterwards.
        case done(Int)
        /// Refused: `NAME:drained` is set (the workers have exited); nothing was changed.
        case drained
    }

    /// The worker's exit-0 decision, atomically: true (and `NAME:drained` set) when pending,
    /// processing and scheduled retries are empty and no producer holds the queue open.
    public func finishIfDrained(session: String) async throws -> Bool {
        let reply = try await run(.finishIfDrained, keys: [keys.pending, keys.processing, keys.retry, keys.open, keys.drained],
                                  args: [RESPArgument(session)])
        guard let value = reply.int else { throw RedisError.unexpectedReply("finish-if-drained -> \(reply)") }
        return value == 1
    }

    /// Marks the queue open by `producer` for `ttl` (or refreshes the mark). With `reopen`, a
    /// drained queue's marker is deleted first; without, a drained queue is refused.
    public func open(producer: String, ttl: Duration, reopen: Bool) async throws -> ProducerOutcome {
        let reply = try await run(.open, keys: [keys.open, keys.drained],
                                  args: [RESPArgument(producer), RESPArgument(Swift.max(1, Self.milliseconds(ttl))),
                                         RESPArgument(reopen ? "1" : "0")])
        guard let value = reply.int else { throw RedisError.unexpectedReply("open -> \(reply)") }
        return value == 1 ? .done(1) : .drained
    }

    /// Removes the open mark of `producer` (nil: whichever mark is there). Returns whether a
    /// mark was removed.
    @discardableResult
    public func close(producer: String?) async throws -> Bool {
        let reply = try await run(.close, keys: [keys.open], args: [RESPArgument(producer ?? "")])
        return reply.int == 1
    }

    /// Appends items to pending unless the queue was drained, in one step.
    public func push(_ items: [WorkItem]) async throws -> ProducerOutcome {
        guard !items.isEmpty else { return .done(try await client.send(["LLEN", RESPArgument(name)]).int ?? 0) }
        let reply = try await run(.guardedPush, keys: [keys.pending, keys.drained], args: items.map { RESPArgument($0.bytes) })
        guard let value = reply.int else { throw RedisError.unexpectedReply("guarded-push -> \(reply)") }
        return value < 0 ? .drained : .done(value)
    }

    /// Deletes `NAME:drained` (for `push --reopen`). Returns whether it was set.
    @discardableResult
    public func clearDrained() async throws -> Bool {
        try await client.send(["DEL", RESPArgument(keys.drained)]).int == 1
    }

    /// The producer marks: who holds the queue open (nil: nobody) and who found it drained.
    public func producerMarks() async throws -> (open: String?, drained: String?) {
        let replies = try await client.pipeline([["GET", RESPArgument(keys.open)], ["GET", RESPArgument(keys.drained)]])
        return (replies.first?.string, replies.dropFirst().first?.string)
    }

    /// Waits until `replicas` replicas have acknowledged every write sent so far on the
    /// queue's connection (`WAIT`; in a cluster, the connection to the queue's master), at most
    /// `timeout`. Returns how many replicas did: fewer than asked means a failover now could
    /// lose those writes (Redis replicates asynchronously).
    public func waitForReplicas(_ replicas: Int, timeout: Duration) async throws -> Int {
        let milliseconds = Swift.max(1, Self.milliseconds(timeout))
        let reply: RESPValue
        do {
            // On the connection that pushed: in a cluster, the master of this queue's slot.
            reply = try await client.send(RESPCommand(["WAIT", RESPArgument(replicas), RESPArgument(milliseconds)]),
                                          routedBy: name, timeout: timeout + configuration.commandTimeout)
        } catch let error as RedisError {
            throw await classified(error)
        }
        guard let count = reply.int else { throw RedisError.unexpectedReply("WAIT -> \(reply)") }
        return count
    }
}

extension RedisQueue {
    /// The record of the `work --on-drained` hook (`NAME:on-drained`): which drain it ran
    /// for, who ran it and how it ended.
    public struct OnDrainedRecord: Sendable, Equatable {
        /// `started` (claimed; the hook runs, or its worker died mid-hook), `done` (it exited
        /// 0) or `failed` (it exited non-zero, could not start, or was killed).
        public var state: String
        /// The session of the worker that claimed and runs it.
        public var session: String
        /// The `NAME:drained` value (the session that drained the queue) it ran for.
        public var drain: String
        /// When it was claimed, ms of the Redis clock.
        public var startedMilliseconds: Int?
        /// When it ended, ms of the Redis clock; nil while `started`.
        public var finishedMilliseconds: Int?
        /// Its exit status once ended (128 + N: killed by signal N; -1: it could not be started).
        public var exitStatus: Int?

        /// A record as `onDrainedRecord()` reads it.
        public init(state: String, session: String, drain: String, startedMilliseconds: Int? = nil,
                    finishedMilliseconds: Int? = nil, exitStatus: Int? = nil) {
            self.state = state
            self.session = session
            self.drain = drain
            self.startedMilliseconds = startedMilliseconds
            self.finishedMilliseconds = finishedMilliseconds
            self.exitStatus = exitStatus
        }
    }

    /// The answer of ``claimOnDrained(session:)``.
    public enum OnDrainedClaim: Sendable, Equatable {
        /// This session has the hook of this drain; the record says `started`.
        case claimed
        /// Another call (any session) claimed this drain's hook first.
        case taken
        /// `NAME:drained` is not set: nothing to claim.
        case notDrained
    }

    /// Claims this drain's `--on-drained` hook for `session`, atomically: ``OnDrainedClaim/claimed``
    /// for exactly one call per `NAME:drained` value (the first after the queue drained),
    /// ``OnDrainedClaim/taken`` for every later one. The record says `started` from then on.
    public func claimOnDrained(session: String) async throws -> OnDrainedClaim {
        let reply = try await run(.claimOnDrained, args: [RESPArgument(session)])
        switch reply.int {
        case 1: return .claimed
        case 0: return .taken
        case -1: return .notDrained
        default: throw RedisError.unexpectedReply("claim-on-drained -> \(reply)")
        }
    }

    /// Records that the hook `session` claimed ended: `done` for exit status 0, else `stopped`
    /// when the worker was told to stop (SIGTERM or SIGINT, forwarded to the hook) while it
    /// ran, else `failed`. Returns false when the record is no longer that session's.
    @discardableResult
    public func finishOnDrained(session: String, exitStatus: Int, stopped: Bool = false) async throws -> Bool {
        let state = exitStatus == 0 ? "done" : stopped ? "stopped" : "failed"
        let reply = try await run(.finishOnDrained,
                                  args: [RESPArgument(session), RESPArgument(state),
                                         RESPArgument(String(exitStatus))])
        guard let value = reply.int else { throw RedisError.unexpectedReply("finish-on-drained -> \(reply)") }
        return value == 1
    }

    /// The hook's record, or nil when no hook was claimed on this queue.
    public func onDrainedRecord() async throws -> OnDrainedRecord? {
        // HMGET, not HGETALL: the worker's ACL (docs/redis.md) grants the former.
        let names = ["state", "session", "drain", "started_ms", "finished_ms", "exit_status"]
        let reply = try await client.send(["HMGET", RESPArgument(keys.onDrained)] + names.map { RESPArgument($0) })
        guard let values = reply.array, values.count == names.count else {
            throw RedisError.unexpectedReply("HMGET \(keys.onDrained) -> \(reply)")
        }
        var fields: [String: String] = [:]
        for (name, value) in zip(names, values) { fields[name] = value.string }
        guard let state = fields["state"] else { return nil }
        return OnDrainedRecord(state: state, session: fields["session"] ?? "", drain: fields["drain"] ?? "",
                               startedMilliseconds: fields["started_ms"].flatMap { Int($0) },
                               finishedMilliseconds: fields["finished_ms"].flatMap { Int($0) },
                               exitStatus: fields["exit_status"].flatMap { Int($0) })
    }
}

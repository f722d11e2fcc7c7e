import WorkQueueSeam

/// Live workers: each worker's heartbeat record (`NAME:workers`, `NAME:worker-info`, written by
/// ``RedisScript/heartbeat``), and what each session holds, read from the lease tokens.
extension RedisQueue: WorkerRecords {
    /// The leases one session holds.
    public struct SessionLeases: Sendable, Hashable {
        /// Who wrote the leases.
        public enum Kind: String, Sendable, Hashable {
            /// Our leases (`NAME:leases`), under the session's fencing tokens.
            case workqueue
            /// A `rediswq.py` worker's `NAME:leased_by_session:<sha224>` keys.
            case rediswq
        }

        /// One held item with the time left on its lease (nil: no deadline known).
        public struct Item: Sendable, Hashable {
            /// The item held.
            public var item: WorkItem
            /// How long its lease has left; nil when the lease key has no expiry.
            public var expiresIn: Duration?
        }

        /// The worker session holding the leases.
        public var session: String
        /// Whose leases these are: ours, or a `rediswq.py` worker's.
        public var kind: Kind
        /// How many items the session holds.
        public var total: Int
        /// The first of them (soonest deadline first for ours), at most the limit asked for.
        public var items: [Item]
    }

    public func heartbeat(_ heartbeat: WorkerHeartbeat, ttl: Duration) async throws {
        let ttlMilliseconds = Swift.max(1, Self.milliseconds(ttl))
        _ = try await run(.heartbeat,
                          args: [RESPArgument(heartbeat.session), RESPArgument(ttlMilliseconds),
                                 RESPArgument(HeartbeatRecord.encode(heartbeat, ttlMilliseconds: ttlMilliseconds))])
    }

    public func removeHeartbeat(session: String) async throws {
        _ = try await run(.heartbeat, args: [RESPArgument(session), RESPArgument(0), ""])
    }

    /// The live records, by session; a record that cannot be read shows with host and handler
    /// `?`. Two round trips, whatever the queue holds.
    public func liveWorkers() async throws -> [LiveWorker] {
        let replies = try await checked(client.pipeline([["TIME"], ["ZRANGEBYSCORE", RESPArgument(keys.workers), "-inf", "+inf", "WITHSCORES"]]))
        let now = try Self.milliseconds(time: replies[0])
        let scored = replies[1].array ?? []
        var entries: [(session: String, expiry: Int)] = []
        for index in stride(from: 0, to: scored.count - 1, by: 2) {
            guard let session = scored[index].string, let expiry = Self.score(scored[index + 1]), expiry > now else { continue }
            entries.append((session, expiry))
        }
        guard !entries.isEmpty else { return [] }
        let records = try await checked([client.send(["HMGET", RESPArgument(keys.workerInfo)] + entries.map { RESPArgument($0.session) })])
        let values = records[0].array ?? []
        return entries.enumerated().map { index, entry in
            let decoded = index < values.count ? values[index].bytes.flatMap { HeartbeatRecord.decode($0, session: entry.session) } : nil
            let heartbeat = decoded?.heartbeat ?? WorkerHeartbeat(session: entry.session, host: "?", handler: "?", startedAtMilliseconds: 0)
            let seenAt = entry.expiry - (decoded?.ttlMilliseconds ?? 0)
            return LiveWorker(heartbeat: heartbeat, lastSeen: .milliseconds(Swift.max(0, now - seenAt)),
                              expiresIn: .milliseconds(entry.expiry - now))
        }
        .sorted { $0.heartbeat.session < $1.heartbeat.session }
    }

    /// What each session holds: our leases grouped by the session in their tokens
    /// (`<session>:<n>`), and, when items in processing hold none of our leases, the
    /// `rediswq.py` lease keys of those items. `limit` items per session are returned with
    /// their deadlines (soonest first), the rest only counted. Reads `NAME:leases` in pages of
    /// 1,000 (at most 100,000 leases), not atomically: a lease taken or settled meanwhile may
    /// be missed or seen twice.
    public func heldLeases(limit: Int) async throws -> [SessionLeases] {
        let limit = Swift.max(0, limit)
        let now = try await Self.milliseconds(time: checked([client.send(["TIME"])])[0])
        var sessions: [String: (total: Int, tokens: [(token: String, deadline: Int)])] = [:]
        var order: [String] = []
        let page = 1000
        for pageIndex in 0..<100 {
            let reply = try await checked([client.send(["ZRANGEBYSCORE", RESPArgument(keys.leases), "-inf", "+inf", "WITHSCORES",
                                                        "LIMIT", RESPArgument(pageIndex * page), RESPArgument(page)])])[0]
            let values = reply.array ?? []
            for index in stride(from: 0, to: values.count - 1, by: 2) {
                guard let token = values[index].string, let deadline = Self.score(values[index + 1]) else { continue }
                let session = token.lastIndex(of: ":").map { String(token[..<$0]) } ?? token
                if sessions[session] == nil { order.append(session) }
                sessions[session, default: (0, [])].total += 1
                if sessions[session, default: (0, [])].tokens.count < limit {
                    sessions[session, default: (0, [])].tokens.append((token, deadline))
                }
            }
            if values.count < page * 2 { break }
        }
        let shown = order.flatMap { session in sessions[session]?.tokens ?? [] }
        var itemsByToken: [String: WorkItem] = [:]
        // Few items per read: they may be megabytes each.
        for start in stride(from: 0, to: shown.count, by: 16) {
            let chunk = shown[start..<Swift.min(shown.count, start + 16)]
            let reply = try await checked([client.send(["HMGET", RESPArgument(keys.leaseItems)] + chunk.map { RESPArgument($0.token) })])[0]
            for (entry, value) in zip(chunk, reply.array ?? []) {
                if let bytes = value.bytes { itemsByToken[entry.token] = WorkItem(bytes) }
            }
        }
        var result = order.compactMap { session -> SessionLeases? in
            guard let entry = sessions[session] else { return nil }
            let items = entry.tokens.compactMap { token -> SessionLeases.Item? in
                guard let item = itemsByToken[token.token] else { return nil }
                return SessionLeases.Item(item: item, expiresIn: .milliseconds(token.deadline - now))
            }
            return SessionLeases(session: session, kind: .workqueue, total: entry.total, items: items)
        }
        result += try await tutorialLeases(limit: limit)
        return result
    }

    /// The items `rediswq.py` workers hold, by session, from their lease keys (read only when
    /// processing holds items: only tutorial workers put items there).
    private func tutorialLeases(limit: Int) async throws -> [SessionLeases] {
        let values = try await rawCounts()
        guard values[8] > 0 else { return [] }
        let unheld = try await unheldItems()
        guard !unheld.isEmpty else { return [] }
        var commands: [[RESPArgument]] = []
        for entry in unheld {
            let key = RESPArgument(keys.tutorialLease(entry.item))
            commands.append(["GET", key])
            commands.append(["PTTL", key])
        }
        let replies = try await checked(client.pipeline(commands))
        var bySession: [String: SessionLeases] = [:]
        var order: [String] = []
        for (index, entry) in unheld.enumerated() {
            guard let session = replies[index * 2].string else { continue }
            if bySession[session] == nil {
                order.append(session)
                bySession[session] = SessionLeases(session: session, kind: .rediswq, total: 0, items: [])
            }
            bySession[session]?.total += entry.copies
            if (bySession[session]?.items.count ?? 0) < limit {
                let ttl = replies[index * 2 + 1].int ?? -1
                bySession[session]?.items.append(SessionLeases.Item(item: WorkItem(entry.item),
                                                                    expiresIn: ttl >= 0 ? .milliseconds(ttl) : nil))
            }
        }
        return order.compactMap { bySession[$0] }
    }

    /// The replies, or the first error reply thrown (classified like a script's).
    private func checked(_ replies: [RESPValue]) async throws -> [RESPValue] {
        for reply in replies {
            if case let .error(message) = reply { throw await classified(RedisError.server(message)) }
        }
        return replies
    }

    /// `TIME`'s reply in ms.
    private static func milliseconds(time reply: RESPValue) throws -> Int {
        guard let parts = reply.array, parts.count == 2, let seconds = parts[0].int, let micros = parts[1].int else {
            throw RedisError.unexpectedReply("TIME -> \(reply)")
        }
        return seconds * 1000 + micros / 1000
    }

    /// A sorted-set score holding ms (an integer, possibly written as a float).
    private static func score(_ value: RESPValue) -> Int? {
        guard let text = value.string else { return nil }
        if let integer = Int(text) { return integer }
        return Double(text).flatMap { $0.isFinite && Swift.abs($0) < 9e18 ? Int($0) : nil }
    }
}

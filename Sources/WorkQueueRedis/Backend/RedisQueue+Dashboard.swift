import WorkQueueSeam

/// What the web dashboard (`workqueue dashboard`, `status --serve`) reads and does: one
/// read-only script call per refresh (``RedisScript/dashboardSnapshot``) and the retry of one
/// dead letter (``RedisScript/retryOneDead``).
extension RedisQueue {
    /// The bounds of one snapshot: what the script reads at most.
    package struct DashboardRequest: Sendable, Equatable {
        /// Most live workers listed (their records; the count is always exact).
        package var maxWorkers = 100
        /// Most live leases listed, soonest deadline first.
        package var maxLeases = 100
        /// Bytes of each listed lease item returned as its preview.
        package var previewBytes = 240
        /// Lease items read for previews at most, in bytes; a longer item shows its size only.
        package var leaseItemBudget = 256 << 10
        /// The dead list's length when its first page was last read; the page is read again
        /// only when the length differs (nil: read it now).
        package var deadLengthSeen: Int?
        /// Dead letters per page.
        package var deadPageSize = 20
        /// Dead letters of an older version (without a preview record) are read whole only when
        /// the whole dead list takes at most this many bytes (``RedisScript/deadPreviews``).
        package var deadByteBudget = 256 << 10
        /// SHA-224s of dead letters whose attempts and last errors to read (at most 100).
        package var deadDigests: [String] = []

        package init() {}
    }

    /// One live lease of a snapshot.
    package struct DashboardLease: Sendable, Equatable {
        /// The fencing token, `<session>:<n>`.
        package var token: String
        /// The session part of the token.
        package var session: String { token.lastIndex(of: ":").map { String(token[..<$0]) } ?? token }
        /// Milliseconds left on the lease (Redis clock).
        package var millisecondsLeft: Int
        /// The item's size in bytes.
        package var size: Int
        /// The item's first bytes, nil when the item was too long to read for a preview.
        package var preview: [UInt8]?
    }

    /// One read of the dashboard script.
    package struct DashboardSnapshot: Sendable {
        /// The Redis clock, ms.
        package var now: Int
        /// The counts (`leased` and `workers` included), as `status` shows them.
        package var counts: QueueCounts
        /// Entries of `NAME:lease-items` (live and expired leases).
        package var leaseRecords: Int
        /// Live holds (`NAME:holds`).
        package var holds: Int
        /// Whether a legacy `NAME:open` mark exists.
        package var legacyOpen: Bool
        /// Whether `NAME:drained` is set (the workers found the queue drained and exited).
        package var drainedMarker: Bool
        /// The live workers listed (at most ``DashboardRequest/maxWorkers``).
        package var workers: [LiveWorker]
        /// The live leases listed (at most ``DashboardRequest/maxLeases``), soonest deadline first.
        package var leases: [DashboardLease]
        /// The first page of `NAME:dead` (from the letters' preview records), or nil when its
        /// length was what the request saw.
        package var deadPage: [DeadPreview]?
        /// For each SHA-224 the request asked about: attempts and last error.
        package var deadDetails: [String: (attempts: Int?, error: String?)]
        /// The pause and cancel marks (`NAME:control`) and the items a cancel moved aside
        /// (the length of `NAME:cancelled`).
        package var control: QueueControl
        /// When the queue was cancelled, ms of the Redis clock (nil: not cancelled).
        package var cancelledAtMilliseconds: Int?
        /// The completion records kept in `NAME:results` and those its bound dropped (nil: the
        /// key is not a stream yet, an older version's hash). The progress handlers report rides
        /// in the worker records (`LiveWorker.heartbeat.progress`).
        package var results: (kept: Int, dropped: Int)?
    }

    /// One dead letter as the dashboard shows it, read from its preview record
    /// (``RedisKeys/deadPreviews``) without its bytes.
    package struct DeadPreview: Sendable, Equatable {
        /// Its size in bytes; nil when unknown (a large letter of an older version).
        package var size: Int?
        /// Its SHA-224 hex; nil when the record has none (a letter dead-lettered for its size).
        package var digest: String?
        /// Its first bytes (at most 240), or an older letter's whole bytes; nil when unknown.
        package var bytes: [UInt8]?
        /// Its failed attempts and last error (by its digest).
        package var attempts: Int?
        package var error: String?

        /// The digest, computed from the bytes when the record had none and they are whole.
        package var knownDigest: String? {
            if let digest { return digest }
            if let bytes, let size, bytes.count == size { return RedisQueue.digest(bytes) }
            return nil
        }
    }

    /// Parses the reply of ``RedisScript/deadPreviews`` (also the snapshot's `dead` part).
    static func deadPreviews(_ reply: RESPValue) -> (total: Int, next: Int?, letters: [DeadPreview])? {
        guard let values = reply.array, values.count >= 2, let total = values[0].int, let next = values[1].int,
              (values.count - 2) % 5 == 0 else { return nil }
        var letters: [DeadPreview] = []
        for index in stride(from: 2, to: values.count, by: 5) {
            let size = values[index].int ?? -1
            let digest = values[index + 1].string ?? ""
            letters.append(DeadPreview(size: size < 0 ? nil : size, digest: digest.isEmpty ? nil : digest,
                                       bytes: values[index + 2].bytes, attempts: values[index + 3].int,
                                       error: values[index + 4].string))
        }
        return (total, next < 0 ? nil : next, letters)
    }

    /// A page of dead letters from position `start` (at most `limit`, 1 to 100) from their
    /// preview records, in one read-only call that never reads a letter's bytes (an older
    /// letter without a record: only while the whole list is small), with the list's length
    /// and where the next page starts (nil at the end).
    package func deadPreviews(from start: Int, limit: Int, oldLetterBudget: Int = 256 << 10) async throws
        -> (total: Int, next: Int?, letters: [DeadPreview])
    {
        var command = command(.deadPreviews, capacity: 64,
                                   readOnly: true)
        command.append(Swift.max(0, start))
        command.append(Swift.min(Swift.max(1, limit), 100))
        command.append(Swift.max(0, oldLetterBudget))
        let reply = try await run(.deadPreviews, command)
        guard let page = Self.deadPreviews(reply) else { throw RedisError.unexpectedReply("dead-previews -> \(reply)") }
        return page
    }

    /// Reads everything the dashboard shows of this queue in one `EVALSHA_RO` call.
    package func dashboardSnapshot(_ request: DashboardRequest) async throws -> DashboardSnapshot {
        let digests = Array(request.deadDigests.prefix(100))
        var command = command(.dashboardSnapshot, capacity: 128 + digests.count * 64, readOnly: true)
        command.append(Swift.max(1, request.maxWorkers))
        command.append(Swift.max(1, request.maxLeases))
        command.append(Swift.max(0, request.previewBytes))
        command.append(Swift.max(0, request.leaseItemBudget))
        command.append(request.deadLengthSeen ?? -1)
        command.append(Swift.max(1, request.deadPageSize))
        command.append(Swift.max(1, request.deadByteBudget))
        for digest in digests { command.append(digest) }
        let reply = try await run(.dashboardSnapshot, command)
        guard let flat = reply.array, flat.count % 2 == 0 else { throw RedisError.unexpectedReply("dashboard-snapshot -> \(reply)") }
        var parts: [String: RESPValue] = [:]
        for index in stride(from: 0, to: flat.count, by: 2) {
            if let name = flat[index].string { parts[name] = flat[index + 1] }
        }
        guard let now = parts["now"]?.int, let counts = parts["counts"]?.array?.compactMap(\.int), counts.count == 8,
              let marks = parts["marks"]?.array?.compactMap(\.int), marks.count == 3 else {
            throw RedisError.unexpectedReply("dashboard-snapshot -> \(reply)")
        }
        // An older script (during an upgrade) has no control part: a queue running normally.
        let control = parts["control"]?.array?.compactMap(\.int) ?? []
        let cancelledAt = control.count == 3 && control[1] != 0 ? control[1] : nil
        let results = parts["results"]?.array?.compactMap(\.int) ?? []
        var workers: [LiveWorker] = []
        let live = parts["workers"]?.array ?? []
        for index in stride(from: 0, to: live.count - 2, by: 3) {
            guard let session = live[index].string, let expiry = live[index + 1].int else { continue }
            let decoded = live[index + 2].bytes.flatMap { HeartbeatRecord.decode($0, session: session) }
            let heartbeat = decoded?.heartbeat ?? WorkerHeartbeat(session: session, host: "?", handler: "?", startedAtMilliseconds: 0)
            let seenAt = expiry - (decoded?.ttlMilliseconds ?? 0)
            workers.append(LiveWorker(heartbeat: heartbeat, lastSeen: .milliseconds(Swift.max(0, now - seenAt)),
                                      expiresIn: .milliseconds(expiry - now)))
        }
        var leases: [DashboardLease] = []
        let held = parts["leases"]?.array ?? []
        for index in stride(from: 0, to: held.count - 3, by: 4) {
            guard let token = held[index].string, let left = held[index + 1].int, let size = held[index + 2].int else { continue }
            leases.append(DashboardLease(token: token, millisecondsLeft: left, size: size, preview: held[index + 3].bytes))
        }
        var details: [String: (attempts: Int?, error: String?)] = [:]
        let errors = parts["errors"]?.array ?? []
        let attempts = parts["attempts"]?.array ?? []
        for (index, digest) in digests.enumerated() {
            details[digest] = (index < attempts.count ? attempts[index].int : nil, index < errors.count ? errors[index].string : nil)
        }
        return DashboardSnapshot(
            now: now,
            counts: QueueCounts(pending: counts[0], processing: counts[1], leased: counts[5], scheduled: counts[2], dead: counts[3],
                                completed: counts[4], workers: counts[7]),
            leaseRecords: counts[6], holds: marks[0], legacyOpen: marks[1] == 1, drainedMarker: marks[2] == 1,
            workers: workers, leases: leases, deadPage: parts["dead"].flatMap(Self.deadPreviews)?.letters,
            deadDetails: details,
            control: QueueControl(paused: control.count == 3 && control[0] != 0, cancelled: cancelledAt != nil,
                                  cancelledItems: control.count == 3 ? control[2] : nil),
            cancelledAtMilliseconds: cancelledAt,
            results: results.count == 2 && results[0] >= 0 ? (kept: results[0], dropped: results[1]) : nil)
    }

    /// What retrying one dead letter did.
    package enum RetryOneOutcome: Sendable, Equatable {
        /// Moved back to pending.
        case moved
        /// Not found where it was looked for: another retry or a purge came first.
        case notFound
        /// Refused: the queue was drained and its workers exited (`NAME:drained`); nothing moved.
        case drained
    }

    /// Moves the dead letter `item`, found within the first `index + margin` entries of
    /// `NAME:dead`, back to pending with its attempts and error cleared (`reopen`: also when the
    /// queue was drained, deleting the marker). The scan is bounded by that position.
    package func retryDeadLetter(_ item: [UInt8], near index: Int, margin: Int = 1000, reopen: Bool = false) async throws
        -> RetryOneOutcome
    {
        let reply = try await run(.retryOneDead,
                                  args: [RESPArgument(item), RESPArgument(SHA224.hex(item)),
                                         RESPArgument(Swift.max(0, index) + Swift.max(1, margin)), RESPArgument(reopen ? "1" : "0")])
        switch reply.int {
        case 1: return .moved
        case 0: return .notFound
        case -1: return .drained
        default: throw RedisError.unexpectedReply("retry-one-dead -> \(reply)")
        }
    }

    /// The SHA-224 (lowercase hex) the queue keys an item's attempts, errors and results by.
    package static func digest(_ item: [UInt8]) -> String { SHA224.hex(item) }
}

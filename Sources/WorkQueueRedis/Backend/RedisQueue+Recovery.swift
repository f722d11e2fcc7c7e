import WorkQueueSeam

/// Recovery: expired leases of ours, and items that tutorial workers left in processing.
extension RedisQueue: QueueRecovery {
    /// The text recorded for an item dead-lettered by recovery (`%d`: its attempts).
    static let expiredLeaseError = "lease expired %d times; the worker processing it died or stalled (poison item?)"

    /// One recovery pass now (the `reap` command and tests); the runner calls
    /// ``maintain(maxAttempts:interval:session:)``, which takes turns across the fleet.
    public func recoverExpiredLeases(maxAttempts: Int) async throws -> RecoveryReport {
        try await recover(maxAttempts: maxAttempts, turn: .zero, session: "") ?? RecoveryReport()
    }

    /// Promotes due retries and recovers expired leases, unless another worker did within
    /// `interval` (then nil). One pass per interval for the whole fleet: its cost does not grow
    /// with the number of workers.
    public func maintain(maxAttempts: Int, interval: Duration, session: String) async throws -> RecoveryReport? {
        try await recover(maxAttempts: maxAttempts, turn: interval, session: session)
    }

    public func promoteDueRetries() async throws -> Int {
        var promoted = 0
        // Each call moves at most replyByteBudget of items (after one): as many calls as it
        // takes, up to recoveryPagesPerPass; what is left waits for the next pass or a take.
        for _ in 0..<Self.recoveryPagesPerPass {
            guard let reply = try await expiredLeases(turn: .zero, session: "", limit: 0) else { break }
            promoted += reply.promoted
            if !reply.moreDue { break }
        }
        return promoted
    }

    /// Most requeue calls one recovery pass makes (each about ``RedisQueue/replyByteBudget``
    /// of items, at most 1000 leases): what is left waits for the next pass.
    static let recoveryPagesPerPass = 256

    private func recover(maxAttempts: Int, turn: Duration, session: String) async throws -> RecoveryReport? {
        guard var found = try await expiredLeases(turn: turn, session: session, limit: 1000) else { return nil }
        var report = RecoveryReport()
        // The promotion stopped at its byte budget: the rest in further calls (this pass has the turn).
        if found.moreDue { _ = try await promoteDueRetries() }
        var page = 0
        while page < Self.recoveryPagesPerPass {
            // Each requeue call moves about replyByteBudget of items: it holds Redis briefly.
            var start = 0
            while start < found.expired.count && page < Self.recoveryPagesPerPass {
                page += 1
                let expired = found.expired
                let end = Self.page(from: start, count: expired.count, most: expired.count, budget: replyByteBudget) { expired[$0].size }.end
                let group = Array(found.expired[start..<end])
                start = end
                let items = try await leaseItems(group.map { ($0.token, $0.size) })
                var pairs: [(token: String, hash: String)] = []
                for (entry, item) in zip(group, items) {
                    // Gone meanwhile: settled late by its worker, or recovered by another pass.
                    guard let item else { continue }
                    pairs.append((entry.token, SHA224.hex(item)))
                }
                // The script stops at its own byte budget too: what it did not look at goes again.
                var next = 0
                for _ in 0..<pairs.count where next < pairs.count {
                    var args: [RESPArgument] = [RESPArgument(maxAttempts), RESPArgument(Self.expiredLeaseError),
                                                RESPArgument(replyByteBudget)]
                    for pair in pairs[next...] {
                        args.append(RESPArgument(pair.token))
                        args.append(RESPArgument(pair.hash))
                    }
                    let reply = try await run(.requeueExpired,
                                              args: args)
                    let counts = reply.array?.compactMap(\.int) ?? []
                    guard counts.count == 3 else { throw RedisError.unexpectedReply("requeue-expired -> \(reply)") }
                    report.requeued += counts[0]
                    report.deadLettered += counts[1]
                    next += Swift.max(1, counts[2])
                }
            }
            // The listing stopped at its count: list the next ones (this pass has the turn).
            guard found.more, page < Self.recoveryPagesPerPass,
                  let next = try await expiredLeases(turn: .zero, session: session, limit: 1000) else { break }
            found.expired = next.expired
            found.more = next.more
        }
        if found.orphans > 0 {
            let orphans = try await recoverOrphans(maxAttempts: maxAttempts)
            report.requeued += orphans.requeued
            report.deadLettered += orphans.deadLettered
        }
        if report.requeued + report.deadLettered > 0 {
            logger.info("recovered expired leases", metadata: ["queue": "\(name)", "requeued": "\(report.requeued)",
                                                               "deadLettered": "\(report.deadLettered)"])
        }
        return report
    }

    /// The first recovery step (see ``RedisScript/expiredLeases``); nil when it is not our turn.
    /// `more`: the listing stopped at its count or byte bound.
    private func expiredLeases(turn: Duration, session: String, limit: Int) async throws
        -> (promoted: Int, moreDue: Bool, orphans: Int, more: Bool, expired: [(token: String, size: Int)])?
    {
        let reply = try await run(.expiredLeases,
                                  args: [RESPArgument(session), RESPArgument(Self.milliseconds(turn)), RESPArgument(limit),
                                         RESPArgument(replyByteBudget)])
        guard let values = reply.array, let promoted = values.first?.int else {
            throw RedisError.unexpectedReply("expired-leases -> \(reply)")
        }
        if promoted < 0 { return nil }
        guard values.count >= 4, values.count % 2 == 0, let orphans = values[1].int, let more = values[2].int,
              let moreDue = values[3].int else {
            throw RedisError.unexpectedReply("expired-leases -> \(reply)")
        }
        var expired: [(token: String, size: Int)] = []
        for index in stride(from: 4, to: values.count, by: 2) {
            guard let token = values[index].string, let size = values[index + 1].int else { continue }
            expired.append((token, size))
        }
        return (promoted, moreDue == 1, orphans, more == 1, expired)
    }

    /// The items in processing, each distinct item once with how many copies it has there: all
    /// of them are tutorial workers' (our leases put no entry there), held by a live
    /// `rediswq.py` lease key or not. Reads the whole processing list, so it runs only when the
    /// counts say it is not empty (tutorial workers share the queue). It is read in pages
    /// bounded by bytes (script `list-page`), and only a digest of each item seen is kept:
    /// items of megabytes cost neither a huge reply nor memory. Returns at most `limit`
    /// distinct items (the rest wait for the next pass).
    func unheldItems(limit: Int = 1000) async throws -> [(item: [UInt8], copies: Int)] {
        var unheld: [ItemDigest: (item: [UInt8], copies: Int)] = [:]
        var order: [ItemDigest] = []
        var start = 0
        for _ in 0..<100_000 {
            let reply = try await run(.listPage, given: [keys.processing],
                                      args: [RESPArgument(start), RESPArgument(1000), RESPArgument(replyByteBudget)])
            guard let values = reply.array, let next = values.first?.int else {
                throw RedisError.unexpectedReply("list-page \(keys.processing) -> \(reply)")
            }
            for value in values.dropFirst() {
                guard let bytes = value.bytes else { continue }
                let digest = ItemDigest(bytes)
                if unheld[digest] != nil {
                    unheld[digest]?.copies += 1
                } else if order.count < limit {
                    order.append(digest)
                    unheld[digest] = (bytes, 1)
                }
            }
            if next < 0 { break }
            start = next
        }
        return order.compactMap { unheld[$0] }
    }

    /// Recovers items that tutorial workers took and then died holding (no live
    /// `NAME:leased_by_session:<sha224>` key), after ``recoveryGrace``.
    private func recoverOrphans(maxAttempts: Int) async throws -> RecoveryReport {
        var report = RecoveryReport()
        let grace = RESPArgument(Self.milliseconds(recoveryGrace))
        for (item, copies) in try await unheldItems() {
            let hash = SHA224.hex(item)
            for _ in 0..<copies {
                let reply = try await run(
                    .recoverOrphan,
                    given: [keys.tutorialLeasePrefix + hash],
                    args: [RESPArgument(item), RESPArgument(hash), RESPArgument(maxAttempts), RESPArgument(Self.expiredLeaseError), grace])
                switch reply.int {
                case 1: report.requeued += 1
                case 2: report.deadLettered += 1
                default: break
                }
                if reply.int == 0 { break }
            }
        }
        return report
    }

    /// ``counts()`` with `QueueCounts/leased` filled in: how many items in flight hold a live
    /// lease, ours or a tutorial worker's (the rest wait for recovery). Cheap unless tutorial
    /// workers hold items (entries in processing): then it reads the processing list.
    public func countsWithLeases() async throws -> QueueCounts {
        let values = try await rawCounts()
        var counts = QueueCounts(pending: values[0], processing: values[1], leased: values[5], scheduled: values[2],
                                 dead: values[3], completed: values[4], workers: values[7])
        if values[8] > 0 {
            let unheld = try await unheldItems()
            let exists = try await client.pipeline(unheld.map { ["EXISTS", RESPArgument(keys.tutorialLease($0.item))] })
            for (entry, reply) in zip(unheld, exists) where reply.int == 1 { counts.leased = (counts.leased ?? 0) + entry.copies }
        }
        return counts
    }
}

import WorkQueue

/// The dead letters: `NAME:dead`, with attempts and errors by the items' SHA-224.
extension RedisQueue {
    public func deadLetters() async throws -> [DeadLetter] {
        let items = try await deadItems()
        guard !items.isEmpty else { return [] }
        var commands: [[RESPArgument]] = []
        for item in items {
            let hash = RESPArgument(SHA224.hex(item))
            commands.append(["HGET", RESPArgument(keys.errors), hash])
            commands.append(["HGET", RESPArgument(keys.attempts), hash])
        }
        let details = try await client.pipeline(commands)
        let limit = maxItemBytes
        return items.enumerated().map { index, item in
            // An item above the size limit was dead-lettered by the take without being read.
            let error = details[2 * index].string
                ?? (item.count > limit ? "the item is \(item.count) bytes, above the item size limit of \(limit) bytes" : nil)
            return DeadLetter(item: WorkItem(item), lastError: error, attempts: details[2 * index + 1].int)
        }
    }

    /// Moves every dead letter back to pending. A queue whose workers found it drained and
    /// exited (`NAME:drained`) is refused with ``WorkQueueError/backendRefused(_:)``, nothing
    /// moved: ``retryDeadLetters(reopen:)`` can reopen it.
    public func retryDeadLetters() async throws -> Int {
        switch try await retryDeadLetters(reopen: false) {
        case let .done(moved): return moved
        case .drained:
            throw WorkQueueError.backendRefused(
                "queue '\(name)' was drained and its workers have exited (\(keys.drained) is set): retried items would wait "
                    + "with no worker to take them; reopen it first")
        }
    }

    /// Moves every dead letter back to pending with its attempts reset, unless the queue was
    /// drained (its workers have exited): then ``ProducerOutcome/drained`` and nothing moved,
    /// or with `reopen` the drained marker is deleted first. The check and the move are one step.
    public func retryDeadLetters(reopen: Bool) async throws -> ProducerOutcome {
        // A page at a time from the head (moved items leave it), so that each call holds Redis
        // briefly whatever the number and size of the dead letters.
        var moved = 0
        for _ in 0..<100_000 {
            let page = try await deadPage(from: 0)
            guard !page.items.isEmpty else { break }
            let reply = try await run(.retryDead, keys: [keys.dead, keys.pending, keys.attempts, keys.errors, keys.retried, keys.drained],
                                      args: [RESPArgument(page.items.count), RESPArgument(reopen ? "1" : "0")]
                                          + Set(page.items.map { SHA224.hex($0) }).map { RESPArgument($0) })
            guard let count = reply.int else { throw RedisError.unexpectedReply("retry-dead -> \(reply)") }
            if count < 0 { return moved == 0 ? .drained : .done(moved) }
            moved += count
            if count == 0 { break }
        }
        return .done(moved)
    }

    public func purgeDeadLetters() async throws -> Int {
        try await run(.purgeDead, keys: [keys.dead], args: []).int ?? 0
    }

    /// Every dead letter, read in pages bounded by bytes (script `list-page`): dead items may
    /// be megabytes each.
    private func deadItems() async throws -> [[UInt8]] {
        var items: [[UInt8]] = []
        var start = 0
        while true {
            let page = try await deadPage(from: start)
            items += page.items
            guard let next = page.next else { return items }
            start = next
        }
    }

    /// One page of `NAME:dead` from index `start` (at most 1000 items and about
    /// ``replyByteBudget`` bytes), and where the next one starts (nil at the end).
    private func deadPage(from start: Int) async throws -> (items: [[UInt8]], next: Int?) {
        let reply = try await run(.listPage, keys: [keys.dead],
                                  args: [RESPArgument(start), RESPArgument(1000), RESPArgument(replyByteBudget)])
        guard let values = reply.array, let next = values.first?.int, next < 0 || next > start else {
            throw RedisError.unexpectedReply("list-page \(keys.dead) -> \(reply)")
        }
        return (values.dropFirst().compactMap(\.bytes), next < 0 ? nil : next)
    }
}

import WorkQueueSeam

/// The dead letters: `NAME:dead`, with attempts and errors by the items' SHA-224.
extension RedisQueue {
    public func deadLetters() async throws -> [DeadLetter] {
        var letters: [DeadLetter] = []
        var start = 0
        while true {
            let page = try await deadLetters(from: start, limit: 1000)
            letters += page.letters
            guard let next = page.next else { return letters }
            start = next
        }
    }

    /// The dead letters from position `start` of `NAME:dead`: at most `limit` (1 to 1000) and
    /// about `replyByteBudget` bytes of items (at least one), with their attempts and last
    /// errors, and where the next page starts (nil at the end).
    public func deadLetters(from start: Int, limit: Int) async throws -> (letters: [DeadLetter], next: Int?) {
        let page = try await deadPage(from: Swift.max(0, start), count: Swift.min(Swift.max(1, limit), 1000))
        guard !page.items.isEmpty else { return ([], nil) }
        var commands: [[RESPArgument]] = []
        for item in page.items {
            let hash = RESPArgument(SHA224.hex(item))
            commands.append(["HGET", RESPArgument(keys.errors), hash])
            commands.append(["HGET", RESPArgument(keys.attempts), hash])
        }
        let details = try await client.pipeline(commands)
        let bound = maxItemBytes
        let letters = page.items.enumerated().map { index, item in
            // An item above the size limit was dead-lettered by the take without being read.
            let error = details[2 * index].string
                ?? (item.count > bound ? "the item is \(item.count) bytes, above the item size limit of \(bound) bytes" : nil)
            return DeadLetter(item: WorkItem(item), lastError: error, attempts: details[2 * index + 1].int)
        }
        return (letters, page.next)
    }

    /// Moves every dead letter back to pending. A queue whose workers found it drained and
    /// exited (`NAME:drained`) is refused with `WorkQueueError/backendRefused(_:)`, nothing
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
            let reply = try await run(.retryDead,
                                      args: [RESPArgument(page.items.count), RESPArgument(reopen ? "1" : "0"),
                                             RESPArgument(replyByteBudget)]
                                          + page.items.map { RESPArgument(SHA224.hex($0)) })
            guard let count = reply.int else { throw RedisError.unexpectedReply("retry-dead -> \(reply)") }
            if count < 0 { return moved == 0 ? .drained : .done(moved) }
            moved += count
            if count == 0 { break }
        }
        return .done(moved)
    }

    /// Deletes every dead letter with its attempts, last error, retry count and checkpoint
    /// (`NAME:attempts`, `NAME:errors`, `NAME:retried`, `NAME:checkpoints`), so that an item
    /// pushed again starts from zero. A page at a time from the head (at most 1000 items and
    /// about `replyByteBudget` bytes, at least one), each page one `purge-dead` call. Returns how
    /// many it deleted.
    public func purgeDeadLetters() async throws -> Int {
        var purged = 0
        for _ in 0..<100_000 {
            let page = try await deadPage(from: 0)
            guard !page.items.isEmpty else { break }
            var args: [RESPArgument] = [RESPArgument(page.items.count)]
            args.reserveCapacity(1 + 2 * page.items.count)
            for item in page.items {
                args.append(RESPArgument(SHA1.hex(item)))
                args.append(RESPArgument(SHA224.hex(item)))
            }
            let reply = try await run(.purgeDead,
                                      args: args)
            guard let values = reply.array, values.count == 2, let count = values[0].int, let left = values[1].int else {
                throw RedisError.unexpectedReply("purge-dead -> \(reply)")
            }
            purged += count
            // Nothing left, or the head changed under a concurrent retry or purge (read it again).
            if left == 0 { break }
        }
        return purged
    }

    /// One page of `NAME:dead` from index `start` (at most `count` items and about
    /// `replyByteBudget` bytes; dead items may be megabytes each), and where the next one
    /// starts (nil at the end).
    private func deadPage(from start: Int, count: Int = 1000) async throws -> (items: [[UInt8]], next: Int?) {
        let reply = try await run(.listPage, given: [keys.dead],
                                  args: [RESPArgument(start), RESPArgument(count), RESPArgument(replyByteBudget)])
        guard let values = reply.array, let next = values.first?.int, next < 0 || next > start else {
            throw RedisError.unexpectedReply("list-page \(keys.dead) -> \(reply)")
        }
        return (values.dropFirst().compactMap(\.bytes), next < 0 ? nil : next)
    }
}

import WorkQueueSeam

// Queue control shared by the command (`pause`, `cancel`, `status`) and the dashboard's actions.

/// The queue as one backend: the queue itself, or its shards through `ShardedBackend`.
package func controlBackend(_ queues: [RedisQueue]) throws -> any WorkQueueBackend & QueueControlling {
    queues.count == 1 ? queues[0] : try ShardedBackend(shards: queues)
}

/// Moves every pending item and scheduled retry aside, a page per call; returns how many.
/// The first page marks the queue cancelled; the later ones move only while it stays marked
/// (a resume meanwhile wins). Pages go on while items remain (a page is bounded by bytes as
/// well as count, so a short page is no end); each moves at least one, and the pages stop
/// after moving what remained at the first page and one page more (producers pushing all the
/// while cannot keep it going: `cancel` again moves what came later).
package func cancelAll(_ backend: any QueueControlling) async throws -> Int {
    var page = try await backend.cancelPage(max: RedisQueue.controlPageSize, mark: true)
    var total = page.moved
    let most = page.moved + page.remaining + RedisQueue.controlPageSize
    while page.remaining > 0, page.cancelled, page.moved > 0, total < most {
        page = try await backend.cancelPage(max: RedisQueue.controlPageSize, mark: false)
        total += page.moved
    }
    return total
}

import WorkQueue

/// The results handlers returned: `NAME:results`, by the items' SHA-224.
extension RedisQueue {
    /// The result stored for each item (nil: none, e.g. not completed yet, a handler that
    /// returned nil, or trimmed by ``resultsMax``), in the order of `items`. Results are kept
    /// per item bytes, so equal items share one; a result over ``StoredText/maxBytes`` is
    /// stored cut (``StoredText/bounded(_:)``).
    public func results(for items: [WorkItem]) async throws -> [String?] {
        var results: [String?] = []
        results.reserveCapacity(items.count)
        var start = 0
        while start < items.count {
            let end = Swift.min(start + 1000, items.count)
            let fields = items[start..<end].map { RESPArgument(SHA224.hex($0.bytes)) }
            let reply = try await client.send(["HMGET", RESPArgument(keys.results)] + fields)
            if case let .error(message) = reply { throw await classified(RedisError.server(message)) }
            guard let values = reply.array, values.count == end - start else {
                throw RedisError.unexpectedReply("HMGET \(keys.results) -> \(reply)")
            }
            results += values.map(\.string)
            start = end
        }
        return results
    }
}

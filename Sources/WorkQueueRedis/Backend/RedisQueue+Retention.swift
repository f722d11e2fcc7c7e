extension RedisQueue {
    /// The default ``resultsMax``.
    public static let defaultResultsMax = 10_000

    /// Trims `NAME:results` to at most `limit` entries, dropping at most 10,000 per call. The
    /// hash has no order, so which results go is arbitrary: this bounds memory, it keeps no
    /// history. Called by the recovery pass (once per interval for the whole fleet), so the
    /// completing path stays O(1) per item. Returns how many were dropped.
    @discardableResult
    public func trimResults(to limit: Int) async throws -> Int {
        let count = try await client.send(["HLEN", RESPArgument(keys.results)]).int ?? 0
        let excess = min(count - max(0, limit), 10_000)
        guard excess > 0 else { return 0 }
        let fields = try await client.send(["HRANDFIELD", RESPArgument(keys.results), RESPArgument(excess)]).array ?? []
        let names = fields.compactMap(\.string)
        guard !names.isEmpty else { return 0 }
        let dropped = try await client.send(["HDEL", RESPArgument(keys.results)] + names.map { RESPArgument($0) }).int ?? 0
        logger.info("trimmed results", metadata: ["queue": "\(name)", "dropped": "\(dropped)", "limit": "\(limit)"])
        return dropped
    }
}

extension RedisQueue {
    /// The default ``resultsMax``: `workqueue work` keeps the 10,000 most recent completion
    /// records unless told otherwise.
    public static let defaultResultsMax = 10_000

    /// Why an earlier version's results (a hash: SHA-224 of the item -> result) in
    /// `NAME:results` stop the queue: results are now a stream in that key. Nothing is modified.
    static func oldResultsHash(_ key: String) -> String {
        "key '\(key)' holds a hash: the results an earlier version kept (SHA-224 of the item -> result). Results are "
            + "now completion records in a stream at that key, and nothing was modified. Keep the old results with "
            + "`redis-cli RENAME '\(key)' '\(key)-v1'` (read them with HGET by SHA-224), or delete them with "
            + "`redis-cli DEL '\(key)'`, then run the command again"
    }
}

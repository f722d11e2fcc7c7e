/// A Lua script of the queue: its text and its SHA-1, computed once, for `EVALSHA`.
/// The scripts themselves live in `Scripts/`, one per file, KEYS and ARGV documented on top.
struct RedisScript: Sendable {
    /// A short name for messages.
    let name: String
    let source: String
    /// Lowercase hex SHA-1 of `source`, as `SCRIPT LOAD` answers it.
    let sha1: String

    init(name: String, source: String) {
        self.name = name
        self.source = source
        self.sha1 = SHA1.hex(Array(source.utf8))
    }

    /// Every script, for loading them on a new connection.
    static let all: [RedisScript] = [
        .exchange, .renew, .expiredLeases, .requeueExpired, .recoverOrphan, .counts, .retryDead, .purgeDead,
        .finishIfDrained, .withdrawDrained, .open, .close, .holds, .guardedPush, .heartbeat, .listPage,
        .claimOnDrained, .finishOnDrained, .dashboardSnapshot, .deadPreviews, .retryOneDead, .cancel, .restoreCancelled,
    ]
}

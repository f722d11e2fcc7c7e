/// A Lua script of the queue: its text and its SHA-1, computed once, for `EVALSHA`.
/// The scripts themselves live in `Scripts/`, one per file, KEYS and ARGV documented on top.
struct RedisScript: Sendable {
    /// How much of the queue's items one call of a script may touch: every script declares it,
    /// and `BoundsTests` drives every script declared ``budgeted(_:)`` with huge items and with
    /// thousands of small ones.
    enum Bound: Sendable, Equatable {
        /// Moves and reads no item bytes (marks, counts, leases, holds, heartbeats).
        case noItems
        /// Moves exactly the item (or items) its caller passes in ARGV, each once: the call
        /// costs what the caller sent.
        case itemsItIsGiven
        /// Moves items through ``budgetPrelude`` (at most a count and a byte budget per call,
        /// after at least one item); the text says where the counts and budgets come from.
        case budgeted(String)
        /// Bounded by its own page loop, checked by the named tests (scripts another part of
        /// the code owns).
        case pagedElsewhere(String)
    }

    /// A short name for messages.
    let name: String
    let source: String
    /// Lowercase hex SHA-1 of `source`, as `SCRIPT LOAD` answers it.
    let sha1: String
    /// What one call may touch of the items; nil: not declared (`BoundsTests` fails).
    let bound: Bound?

    /// A script; a ``Bound/budgeted(_:)`` one gets ``budgetPrelude`` prepended to `source`.
    /// Scripts whose files another part of the code owns are declared in ``boundsDeclaredHere``.
    init(name: String, source: String, bound: Bound? = nil) {
        self.name = name
        let bound = bound ?? Self.boundsDeclaredHere[name]
        if case .budgeted = bound {
            self.source = Self.budgetPrelude + source
        } else {
            self.source = source
        }
        self.sha1 = SHA1.hex(Array(self.source.utf8))
        self.bound = bound
    }

    /// The bounds of scripts that do not declare one in their own file.
    static let boundsDeclaredHere: [String: Bound] = [
        "purge-dead": .pagedElsewhere("its own page loop; see ControlFlowTests"),
        "list-page": .pagedElsewhere("reads a page of at most ARGV[2] items and about ARGV[3] bytes; see BoundsTests, DashboardTests"),
        "dashboard-snapshot": .pagedElsewhere("reads previews only; see DashboardSnapshotTests"),
        "dead-previews": .pagedElsewhere("reads at most 100 preview records, and letters of an older version whole only while the whole dead list is at most ARGV[3] bytes; see DeadPreviewTests"),
    ]

    /// The one routine every loop that moves items goes through: a budget of at most `most`
    /// items and `bytes` bytes of them per call, always letting the first item through (so
    /// that a call makes progress whatever the item sizes). `promote` moves due retries with
    /// it, one member at a time (a member's bytes are read once, and removed by rank, which
    /// returns nothing).
    static let budgetPrelude = #"""
-- Shared budget (prepended to every script that moves items): at most `most` items and
-- `bytes` bytes of them in one call, after at least one item.
local function budget(most, bytes) return { most = most, bytes = bytes, items = 0, used = 0 } end
local function room(b) return b.items < b.most and (b.items == 0 or b.used < b.bytes) end
local function spend(b, size)
  b.items = b.items + 1
  b.used = b.used + size
end
-- Moves due retries (zset `<16 hex digits>:<item>` scored by due ms) to the tail of `list`,
-- soonest first, within budget `b`. Returns how many moved and whether due ones remain.
local function promote(b, retry, list, now)
  local moved = 0
  while room(b) do
    local due = redis.call('ZRANGEBYSCORE', retry, '-inf', now, 'LIMIT', 0, 1)
    if #due == 0 then return moved, false end
    redis.call('RPUSH', list, string.sub(due[1], 18))
    redis.call('ZREMRANGEBYRANK', retry, 0, 0)
    spend(b, #due[1] - 17)
    moved = moved + 1
  end
  return moved, redis.call('ZCOUNT', retry, '-inf', now) > 0
end

"""#

    /// Every script, for loading them on a new connection.
    static let all: [RedisScript] = [
        .exchange, .renew, .expiredLeases, .requeueExpired, .recoverOrphan, .counts, .retryDead, .purgeDead,
        .finishIfDrained, .withdrawDrained, .open, .close, .holds, .guardedPush, .heartbeat, .listPage,
        .claimOnDrained, .finishOnDrained, .dashboardSnapshot, .deadPreviews, .retryOneDead, .cancel, .restoreCancelled,
    ]
}

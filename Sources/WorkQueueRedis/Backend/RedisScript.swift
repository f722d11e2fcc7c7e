/// A Lua script of the queue: its text and its SHA-1, computed once, for `EVALSHA`.
/// The scripts themselves live in `Scripts/`, one per file, KEYS and ARGV documented on top.
struct RedisScript: Sendable {
    /// How much of the queue's items one call of a script may touch: every script declares it
    /// (the initializer requires it), and `ScriptBoundTests` drives every registered script
    /// declared ``budgeted(_:)`` with huge items and with thousands of small ones.
    enum Bound: Sendable, Equatable {
        /// Moves and reads no item bytes (marks, counts, leases, holds, heartbeats).
        case noItems
        /// Moves exactly the item (or items) its caller passes in ARGV, each once: the call
        /// costs what the caller sent.
        case itemsItIsGiven
        /// Moves items through ``budgetPrelude`` (at most a count and a byte budget per call,
        /// after at least one item); the text says where the counts and budgets come from.
        case budgeted(String)
        /// Reads (never moves) a page of items or previews bounded by its own loop, checked by
        /// the named tests.
        case pagedElsewhere(String)
    }

    /// A short name for messages.
    let name: String
    /// The keys it uses, by name, in the order of its KEYS: the caller's KEYS array and the
    /// Lua locals of ``keyPrelude`` both come from this list (see ``QueueKey``).
    let keys: [QueueKey]
    /// Lua names of keys the caller passes after ``keys`` (a list chosen per call, an item's
    /// `rediswq.py` lease key): each gets a local of that name too.
    let given: [String]
    /// The full text loaded into Redis: the shared budget (budgeted scripts), the named keys
    /// and their type checks, then the body.
    let source: String
    /// Lowercase hex SHA-1 of `source`, as `SCRIPT LOAD` answers it.
    let sha1: String
    /// What one call may touch of the items: every script must declare it.
    let bound: Bound

    /// A script whose body reads its keys by their Lua names (``QueueKey/Row/lua``), never by
    /// `KEYS[n]`. `checks`: keys read (by a command of their type) before the body runs, so
    /// that a key of the wrong type fails the call before anything is written; the body reads
    /// the others before it writes. A ``Bound/budgeted(_:)`` script gets ``budgetPrelude``
    /// first; `functions` (shared Lua functions, e.g. ``deadLetterFunction``) go before the body.
    init(name: String, keys: [QueueKey], given: [String] = [], checks: [QueueKey] = [], functions: [String] = [],
         source: String, bound: Bound) {
        self.name = name
        self.keys = keys
        self.given = given
        var text = ""
        if case .budgeted = bound { text += Self.budgetPrelude }
        text += Self.keyPrelude(keys.map(\.row.lua) + given)
        for key in checks { text += "redis.call('\(key.row.type.check)', \(key.row.lua))\n" }
        text += functions.joined()
        text += source
        self.source = text
        self.sha1 = SHA1.hex(Array(text.utf8))
        self.bound = bound
    }

    /// `local pending, processing = KEYS[1], KEYS[2]`: the keys by name, in their order.
    static func keyPrelude(_ names: [String]) -> String {
        guard !names.isEmpty else { return "" }
        return "local " + names.joined(separator: ", ") + " = "
            + names.indices.map { "KEYS[\($0 + 1)]" }.joined(separator: ", ") + "\n"
    }

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

    /// Every script: the registry. A connection loads exactly these (`SCRIPT LOAD` on connect
    /// and on `NOSCRIPT`), so a script not listed here cannot run, and `ScriptBoundTests`
    /// checks each one's declared bound.
    static let all: [RedisScript] = [
        .exchange, .renew, .expiredLeases, .requeueExpired, .recoverOrphan, .counts, .retryDead, .purgeDead,
        .finishIfDrained, .withdrawDrained, .open, .close, .holds, .guardedPush, .pushWithOptions, .nextDue, .heartbeat, .listPage,
        .claimOnDrained, .finishOnDrained, .dashboardSnapshot, .deadPreviews, .retryOneDead, .cancel, .restoreCancelled,
    ]

    /// The SHA-1s of ``all``.
    static let registered: Set<String> = Set(all.map(\.sha1))
}

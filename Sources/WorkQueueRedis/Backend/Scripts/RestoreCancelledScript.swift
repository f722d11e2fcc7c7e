extension RedisScript {
    /// One page of a restore (`workqueue cancelled restore`, `resume --restore`): moves items
    /// aside back to the tail of pending, in their order, in one atomic step.
    ///
    /// Keys (by name, see `keys:`): cancelled (list), pending, control (hash), holds (zset: hold name -> its
    /// expiry, ms of the Redis clock).
    /// ARGV: 1 most items to move, 2 byte budget (the page stops once the items moved reach it,
    ///       after at least one), 3 `1`: clear the cancel mark first (`resume --restore`'s
    ///       first page: from then on no cancel page without the mark, such as a worker's
    ///       sweep, moves anything aside again), else `0`; 4 a hold name (empty: none),
    ///       5 the hold's time to live in ms.
    /// Returns { moved, items left aside, cancelled 0/1 (the mark after the page) }: the caller
    /// pages while items are left, not on a short page.
    ///
    /// The hold keeps workers from finding the queue drained between two pages (pending may
    /// run empty while items are still aside): while items are left it is set to expire ARGV[5]
    /// ms from now; once none are left it is removed. The page goes through the shared budget
    /// (``budgetPrelude``: at most ARGV[1] items and ARGV[2] bytes after one): LMOVE from the
    /// head of the cancelled list to the tail of pending until it is spent or the list is empty.
    static let restoreCancelled = RedisScript(name: "restore-cancelled",
        keys: [.cancelled, .pending, .control, .holds], checks: [.cancelled, .pending],
        source: #"""
if ARGV[3] == '1' then redis.call('HDEL', control, 'cancelled') end
local b = budget(tonumber(ARGV[1]), tonumber(ARGV[2]))
while room(b) do
  local item = redis.call('LMOVE', cancelled, pending, 'LEFT', 'RIGHT')
  if not item then break end
  spend(b, #item)
end
local left = redis.call('LLEN', cancelled)
if ARGV[4] ~= '' then
  if left > 0 then
    local t = redis.call('TIME')
    local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    redis.call('ZADD', holds, now + tonumber(ARGV[5]), ARGV[4])
  else
    redis.call('ZREM', holds, ARGV[4])
  end
end
return { b.items, left, redis.call('HEXISTS', control, 'cancelled') }
"""#, bound: .budgeted("at most ARGV[1] items and ARGV[2] bytes after one; the caller pages on what is left"))
}

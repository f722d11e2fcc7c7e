extension RedisScript {
    /// One page of a cancel: moves pending items, then scheduled retries, aside to the
    /// cancelled list, in one atomic step.
    ///
    /// Keys (by name, see `keys:`): pending, retry (zset of `<16 hex digits>:<item>`), cancelled (list),
    /// control (hash).
    /// ARGV: 1 most items to move, 2 byte budget (the page stops once the items moved reach it,
    ///       after at least one), 3 `1`: mark the queue cancelled first (`workqueue cancel`'s
    ///       first page); `0`: move only while the queue is marked, never mark it (a cancel's
    ///       later pages, a worker's sweep: a `resume` meanwhile wins).
    /// Returns { moved, pending left, scheduled left, cancelled 0/1 (the mark after the page) }:
    /// the caller pages while something is left and the mark stands, not on a short page.
    ///
    /// The page goes through the shared budget (``budgetPrelude``: at most ARGV[1] items and
    /// ARGV[2] bytes after one): items leave one at a time, LMOVE from the head of pending,
    /// then `promote` of every scheduled retry (soonest first, whatever its due time), until
    /// the budget is spent or both are empty. Pending items keep their order; scheduled ones follow, soonest first.
    /// Their attempts and errors stay recorded (by item), so a restored item goes on counting.
    static let cancel = RedisScript(name: "cancel", keys: [.pending, .retry, .cancelled, .control], checks: [.pending, .retry, .cancelled], source: #"""
if ARGV[3] == '1' then
  local t = redis.call('TIME')
  redis.call('HSET', control, 'cancelled', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
elseif redis.call('HEXISTS', control, 'cancelled') == 0 then
  return { 0, redis.call('LLEN', pending), redis.call('ZCARD', retry), 0 }
end
local b = budget(tonumber(ARGV[1]), tonumber(ARGV[2]))
while room(b) do
  local item = redis.call('LMOVE', pending, cancelled, 'LEFT', 'RIGHT')
  if not item then break end
  spend(b, #item)
end
promote(b, retry, cancelled, '+inf')
return { b.items, redis.call('LLEN', pending), redis.call('ZCARD', retry), 1 }
"""#, bound: .budgeted("at most ARGV[1] items and ARGV[2] bytes after one; the caller pages on what is left"))
}

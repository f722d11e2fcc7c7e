extension RedisScript {
    /// One page of a cancel: moves pending items, then scheduled retries, aside to the
    /// cancelled list, in one atomic step.
    ///
    /// KEYS: 1 pending, 2 retry (zset of `<16 hex digits>:<item>`), 3 cancelled (list),
    /// 4 control (hash).
    /// ARGV: 1 most items to move, 2 byte budget (the page stops once the items moved reach it,
    ///       after at least one), 3 `1`: mark the queue cancelled first (`workqueue cancel`'s
    ///       first page); `0`: move only while the queue is marked, never mark it (a cancel's
    ///       later pages, a worker's sweep: a `resume` meanwhile wins).
    /// Returns { moved, pending left, scheduled left, cancelled 0/1 (the mark after the page) }:
    /// the caller pages while something is left and the mark stands, not on a short page.
    ///
    /// The page loop: items leave one at a time (LMOVE from the head of pending; then ZRANGE 0 0,
    /// ZREM, RPUSH for the soonest retry), each adding its length to the bytes moved; the loop
    /// ends at ARGV[1] items or once the bytes reach ARGV[2], whichever comes first, or when
    /// both are empty. Pending items keep their order; scheduled ones follow, soonest first.
    /// Their attempts and errors stay recorded (by item), so a restored item goes on counting.
    static let cancel = RedisScript(name: "cancel", source: #"""
redis.call('LLEN', KEYS[1])
redis.call('ZCARD', KEYS[2])
redis.call('LLEN', KEYS[3])
if ARGV[3] == '1' then
  local t = redis.call('TIME')
  redis.call('HSET', KEYS[4], 'cancelled', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
elseif redis.call('HEXISTS', KEYS[4], 'cancelled') == 0 then
  return { 0, redis.call('LLEN', KEYS[1]), redis.call('ZCARD', KEYS[2]), 0 }
end
local max, budget = tonumber(ARGV[1]), tonumber(ARGV[2])
local moved, bytes = 0, 0
while moved < max and bytes < budget do
  local item = redis.call('LMOVE', KEYS[1], KEYS[3], 'LEFT', 'RIGHT')
  if not item then break end
  moved, bytes = moved + 1, bytes + #item
end
while moved < max and bytes < budget do
  local member = redis.call('ZRANGE', KEYS[2], 0, 0)[1]
  if not member then break end
  redis.call('ZREM', KEYS[2], member)
  redis.call('RPUSH', KEYS[3], string.sub(member, 18))
  moved, bytes = moved + 1, bytes + #member
end
return { moved, redis.call('LLEN', KEYS[1]), redis.call('ZCARD', KEYS[2]), 1 }
"""#)
}

extension RedisScript {
    /// `workqueue cancel`: marks the queue cancelled and moves a page of pending items, then of
    /// scheduled retries, aside to the cancelled list, in one atomic step.
    ///
    /// KEYS: 1 pending, 2 retry (zset of `<16 hex digits>:<item>`), 3 cancelled (list),
    /// 4 control (hash).
    /// ARGV: 1 most items to move (the caller calls again while a call moves this many).
    /// Returns { moved, pending left, scheduled left }.
    ///
    /// Pending items keep their order (the head first); scheduled ones follow, soonest first.
    /// Their attempts and errors stay recorded (by item), so a restored item goes on counting.
    static let cancel = RedisScript(name: "cancel", source: #"""
redis.call('LLEN', KEYS[1])
redis.call('ZCARD', KEYS[2])
redis.call('LLEN', KEYS[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[4], 'cancelled', now)
local max = tonumber(ARGV[1])
local moved = 0
while moved < max do
  if not redis.call('LMOVE', KEYS[1], KEYS[3], 'LEFT', 'RIGHT') then break end
  moved = moved + 1
end
if moved < max then
  local due = redis.call('ZRANGE', KEYS[2], 0, math.min(max - moved, 1000) - 1)
  for _, m in ipairs(due) do redis.call('RPUSH', KEYS[3], string.sub(m, 18)) end
  if #due > 0 then redis.call('ZREM', KEYS[2], unpack(due)) end
  moved = moved + #due
end
return { moved, redis.call('LLEN', KEYS[1]), redis.call('ZCARD', KEYS[2]) }
"""#)

    /// `workqueue cancelled restore`: moves a page of the cancelled items back to the tail of
    /// pending, in their order.
    ///
    /// KEYS: 1 cancelled (list), 2 pending.
    /// ARGV: 1 most items to move.
    /// Returns { moved, cancelled left }.
    static let restoreCancelled = RedisScript(name: "restore-cancelled", source: #"""
redis.call('LLEN', KEYS[1])
redis.call('LLEN', KEYS[2])
local max = tonumber(ARGV[1])
local moved = 0
while moved < max do
  if not redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT') then break end
  moved = moved + 1
end
return { moved, redis.call('LLEN', KEYS[1]) }
"""#)
}

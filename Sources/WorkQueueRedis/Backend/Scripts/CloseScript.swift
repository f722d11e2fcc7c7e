extension RedisScript {
    /// Ends one named hold, or every hold: workers exit once the queue is drained and no hold
    /// is left. The other holds stay. Expired holds are pruned (at most 100 per call), and
    /// `NAME:open`, the single mark older workers read, is kept alive until the last remaining
    /// hold's expiry, or deleted with the last hold. An older producer's mark there (a value
    /// other than the holds key's name) is removed only when asked, or when its value is the
    /// hold's name (as an older `close` of that producer did).
    ///
    /// Keys (by name, see `keys:`): holds (zset: hold name -> its expiry, ms of the Redis clock), open (the legacy
    ///       mark, string).
    /// ARGV: 1 the hold to end, or "" for every hold (and any legacy mark); 2 "1" to remove an
    ///       older producer's legacy mark whatever its value, else "0".
    /// Returns { how many live holds were ended (a legacy mark counting as one), how many
    /// live holds remain (an older producer's legacy mark counting as one) }.
    static let close = RedisScript(name: "close", keys: [.holds, .open], checks: [.holds], source: #"""
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local legacy = redis.call('GET', open)
local ended = 0
if ARGV[1] == '' then
  ended = redis.call('ZCOUNT', holds, '(' .. now, '+inf')
  redis.call('DEL', holds)
else
  local expiry = redis.call('ZSCORE', holds, ARGV[1])
  if expiry and tonumber(expiry) > now then ended = 1 end
  redis.call('ZREM', holds, ARGV[1])
  local expired = redis.call('ZRANGEBYSCORE', holds, '-inf', now, 'LIMIT', 0, 100)
  if #expired > 0 then redis.call('ZREM', holds, unpack(expired)) end
end
if legacy and legacy ~= holds and (ARGV[1] == '' or ARGV[2] == '1' or legacy == ARGV[1]) then
  redis.call('DEL', open)
  legacy = false
  ended = ended + 1
end
local live = redis.call('ZRANGEBYSCORE', holds, '(' .. now, '+inf', 'WITHSCORES')
local remaining = #live / 2
if legacy and legacy ~= holds then
  remaining = remaining + 1
elseif #live > 0 then
  redis.call('SET', open, holds, 'PX', tonumber(live[#live]) - now)
elseif legacy then
  redis.call('DEL', open)
end
return { ended, remaining }
"""#, bound: .noItems)
}

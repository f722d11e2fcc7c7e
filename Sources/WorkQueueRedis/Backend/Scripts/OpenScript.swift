extension RedisScript {
    /// Adds or refreshes one named hold on the queue (it is being filled): workers wait instead
    /// of exiting while any hold lives. Each hold expires on its own; another holder's hold is
    /// never touched. Refused when the queue was drained (its workers have exited) unless the
    /// caller reopens it, which deletes `NAME:drained` first. Expired holds are pruned (at most
    /// 100 per call), and `NAME:open`, the single mark older workers read, is kept alive until
    /// the last hold's expiry (value: the holds key's name), unless it holds an older
    /// producer's mark, which stays as it is.
    ///
    /// Keys (by name, see `keys:`): holds (zset: hold name -> its expiry, ms of the Redis clock), open (the legacy
    ///       mark, string), drained.
    /// ARGV: 1 the hold's name, 2 its TTL in ms, 3 "1" to reopen a drained queue, else "0".
    /// Returns 1 when the hold is set, -1 when refused (the queue was drained; nothing changed).
    static let open = RedisScript(name: "open", keys: [.holds, .open, .drained], checks: [.holds], source: #"""
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local legacy = redis.call('GET', open)
if redis.call('EXISTS', drained) == 1 then
  if ARGV[3] ~= '1' then return -1 end
  redis.call('DEL', drained)
end
local expired = redis.call('ZRANGEBYSCORE', holds, '-inf', now, 'LIMIT', 0, 100)
if #expired > 0 then redis.call('ZREM', holds, unpack(expired)) end
redis.call('ZADD', holds, now + tonumber(ARGV[2]), ARGV[1])
local live = redis.call('ZRANGEBYSCORE', holds, '(' .. now, '+inf', 'WITHSCORES')
if #live > 0 and (not legacy or legacy == holds) then
  redis.call('SET', open, holds, 'PX', tonumber(live[#live]) - now)
end
return 1
"""#, bound: .noItems)
}

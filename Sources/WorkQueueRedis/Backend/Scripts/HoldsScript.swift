extension RedisScript {
    /// The live holds of the queue, read in one step (nothing is changed).
    ///
    /// Keys (by name, see `keys:`): holds (zset: hold name -> its expiry, ms of the Redis clock), open (the legacy
    ///       mark, string).
    /// ARGV: none.
    /// Returns { { name, ms left, name, ms left, ... } for the live holds, the one expiring last
    /// last; the legacy mark's value, or nil when there is none or it only mirrors the holds;
    /// its TTL in ms (PTTL: -1 without one) }.
    static let holds = RedisScript(name: "holds", keys: [.holds, .open], source: #"""
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local live = redis.call('ZRANGEBYSCORE', holds, '(' .. now, '+inf', 'WITHSCORES')
for i = 2, #live, 2 do live[i] = tonumber(live[i]) - now end
local legacy = redis.call('GET', open)
if legacy == holds then legacy = false end
local ttl = -2
if legacy then ttl = redis.call('PTTL', open) end
return { live, legacy, ttl }
"""#, bound: .noItems)
}

extension RedisScript {
    /// Extends leases that are still alive.
    ///
    /// KEYS: 1 leases (zset token -> deadline ms).
    /// ARGV: 1 lease ms, then the tokens.
    /// Returns 1 per token extended, 0 per token whose lease is gone or already expired (an
    /// expired lease may be recovered at any moment: its holder must stop).
    static let renew = RedisScript(name: "renew", source: #"""
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local deadline = now + tonumber(ARGV[1])
local out = {}
for i = 2, #ARGV do
  local s = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if s and tonumber(s) > now then
    redis.call('ZADD', KEYS[1], 'XX', deadline, ARGV[i])
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out
"""#)
}

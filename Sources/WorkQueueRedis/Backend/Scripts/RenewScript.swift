extension RedisScript {
    /// Extends leases that are still alive, and stores handlers' checkpoints with them.
    ///
    /// KEYS: 1 leases (zset token -> deadline ms); with checkpoints also 2 lease checkpoints
    /// (hash token -> the copy's latest checkpoint).
    /// ARGV: 1 lease ms, then the tokens. With checkpoints (2 keys): 1 lease ms, 2 number of
    /// tokens N, then the N tokens, then pairs (index of a token among them, 1-based; the
    /// checkpoint's bytes).
    /// Returns 1 per token extended, 0 per token whose lease is gone or already expired (an
    /// expired lease may be recovered at any moment: its holder must stop). A checkpoint is
    /// stored only for a lease extended, under its token: it belongs to that copy alone (an
    /// equal item's other copy never sees it). No item bytes are read.
    static let renew = RedisScript(name: "renew", source: #"""
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local deadline = now + tonumber(ARGV[1])
local first, last = 2, #ARGV
if #KEYS > 1 then first, last = 3, 2 + tonumber(ARGV[2]) end
local out = {}
for i = first, last do
  local s = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if s and tonumber(s) > now then
    redis.call('ZADD', KEYS[1], 'XX', deadline, ARGV[i])
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
for i = last + 1, #ARGV - 1, 2 do
  local index = tonumber(ARGV[i])
  if out[index] == 1 then redis.call('HSET', KEYS[2], ARGV[first + index - 1], ARGV[i + 1]) end
end
return out
"""#, bound: .noItems)
}

extension RedisScript {
    /// Extends leases that are still alive, and stores handlers' checkpoints with them.
    ///
    /// Keys: see `keys:`. ARGV (one layout, checkpoints or not): 1 lease ms, 2 number of
    /// tokens N, then the N tokens, then pairs (index of a token among them, 1-based; the
    /// checkpoint's bytes), none when no handler saved one.
    /// Returns { 1 per token extended, 0 per token whose lease is gone or already expired (an
    /// expired lease may be recovered at any moment: its holder must stop), { paused 0/1,
    /// cancelled 0/1 } (the marks of `NAME:control`, read in the same step: the renewal beat
    /// is one round trip) }. A checkpoint is
    /// stored only for a lease extended, under its token: it belongs to that copy alone (an
    /// equal item's other copy never sees it). No item bytes are read.
    static let renew = RedisScript(name: "renew", keys: [.leases, .leaseCheckpoints, .control], source: #"""
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local deadline = now + tonumber(ARGV[1])
local last = 2 + tonumber(ARGV[2])
local out = {}
for i = 3, last do
  local s = redis.call('ZSCORE', leases, ARGV[i])
  if s and tonumber(s) > now then
    redis.call('ZADD', leases, 'XX', deadline, ARGV[i])
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
for i = last + 1, #ARGV - 1, 2 do
  local index = tonumber(ARGV[i])
  if out[index] == 1 then redis.call('HSET', lease_checkpoints, ARGV[2 + index], ARGV[i + 1]) end
end
local marks = redis.call('HMGET', control, 'paused', 'cancelled')
return { out, { marks[1] and 1 or 0, marks[2] and 1 or 0 } }
"""#, bound: .noItems)
}

extension RedisScript {
    /// Recovery, first step: promotes due retries and lists the expired leases, at most once
    /// per interval across the whole fleet (the first caller in an interval takes the turn).
    ///
    /// Keys (by name, see `keys:`): recovery turn (string), leases, lease items, retry, pending,
    /// processing, orphans.
    /// ARGV: 1 session, 2 turn length ms (0: always run), 3 most expired leases to list,
    /// 4 byte budget of the promotion (it moves at most 1000 due retries and about this many
    /// bytes of them, after at least one, through the shared budget).
    /// Returns { -1 } when another worker has the turn, else { promoted, entries in processing
    /// (only `rediswq.py` workers put items there: no lease of ours holds one), 1 when the listing stopped at its count (more may be
    /// expired) else 0, 1 when due retries remain (the promotion stopped at its budget) else 0,
    /// token, item size, token, item size, ... } for the expired leases: no
    /// item bytes (the caller reads the items it needs with plain `HMGET`s, in pages bounded by
    /// bytes, outside any script).
    static let expiredLeases = RedisScript(name: "expired-leases",
        keys: [.recoveryTurn, .leases, .leaseItems, .retry, .pending, .processing, .orphans],
        source: #"""
if tonumber(ARGV[2]) > 0 then
  if not redis.call('SET', recovery_turn, ARGV[1], 'NX', 'PX', ARGV[2]) then return { -1 } end
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local promoted, due = promote(budget(1000, tonumber(ARGV[4])), retry, pending, now)
local unheld = redis.call('LLEN', processing)
if unheld <= 0 then redis.call('DEL', orphans) end
local out = { promoted, unheld, 0, due and 1 or 0 }
local limit = tonumber(ARGV[3])
local expired = redis.call('ZRANGEBYSCORE', leases, '-inf', now, 'LIMIT', 0, limit)
for i = 1, #expired do
  local size = redis.call('HSTRLEN', lease_items, expired[i])
  if size > 0 or redis.call('HEXISTS', lease_items, expired[i]) == 1 then
    out[#out + 1] = expired[i]
    out[#out + 1] = size
  end
end
if #expired == limit then out[3] = 1 end
return out
"""#, bound: .budgeted("promotion: at most 1000 due retries and ARGV[4] bytes after one; the listing returns sizes only"))
}

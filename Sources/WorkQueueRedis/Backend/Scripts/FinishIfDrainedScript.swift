extension RedisScript {
    /// The exit-0 decision of a worker, in one step: the queue is drained when pending,
    /// processing (the tutorial workers' entries), our leases and scheduled retries are all empty and no producer holds it open (no live
    /// hold in `NAME:holds`, and no `NAME:open`, the mark of earlier versions and the mirror
    /// of the holds for older workers); then `NAME:drained` is set (the first worker's session
    /// stays), so that later pushes are refused. Expired holds are pruned (at most 100 per call).
    ///
    /// Keys (by name, see `keys:`): pending, processing, lease items, retry, holds (zset: hold name -> its expiry, ms of the
    ///       Redis clock), open (the legacy mark, string), drained.
    /// ARGV: 1 the worker's session.
    /// Returns 1 when drained (the marker is set), 0 when not (nothing else is changed).
    static let finishIfDrained = RedisScript(name: "finish-if-drained",
        keys: [.pending, .processing, .leaseItems, .retry, .holds, .open, .drained],
        source: #"""
if redis.call('LLEN', pending) > 0 or redis.call('LLEN', processing) > 0 or redis.call('HLEN', lease_items) > 0
    or redis.call('ZCARD', retry) > 0 then
  return 0
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expired = redis.call('ZRANGEBYSCORE', holds, '-inf', now, 'LIMIT', 0, 100)
if #expired > 0 then redis.call('ZREM', holds, unpack(expired)) end
if redis.call('ZCOUNT', holds, '(' .. now, '+inf') > 0 or redis.call('EXISTS', open) == 1 then return 0 end
redis.call('SET', drained, ARGV[1], 'NX')
return 1
"""#, bound: .noItems)
}

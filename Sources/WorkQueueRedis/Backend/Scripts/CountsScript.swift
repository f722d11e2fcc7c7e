extension RedisScript {
    /// An atomic snapshot of the queue's counts.
    ///
    /// Keys (by name, see `keys:`): pending, processing, retry, dead, completed, leases, lease items, workers.
    /// ARGV: none.
    /// Returns { pending, in flight (entries of processing, which only `rediswq.py` workers put
    /// there, plus our leases), scheduled, dead, completed, our live leases, our leases, live
    /// heartbeat records, entries of processing }.
    static let counts = RedisScript(name: "counts",
        keys: [.pending, .processing, .retry, .dead, .completed, .leases, .leaseItems, .workers],
        source: #"""
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local tutorial, ours = redis.call('LLEN', processing), redis.call('HLEN', lease_items)
return { redis.call('LLEN', pending), tutorial + ours, redis.call('ZCARD', retry),
         redis.call('LLEN', dead), tonumber(redis.call('GET', completed) or '0') or 0,
         redis.call('ZCOUNT', leases, '(' .. now, '+inf'), ours,
         redis.call('ZCOUNT', workers, '(' .. now, '+inf'), tutorial }
"""#, bound: .noItems)
}

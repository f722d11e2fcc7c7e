extension RedisScript {
    /// An atomic snapshot of the queue's counts.
    ///
    /// KEYS: 1 pending, 2 processing, 3 retry, 4 dead, 5 completed, 6 leases, 7 lease items, 8 workers.
    /// ARGV: none.
    /// Returns { pending, processing, scheduled, dead, completed, our live leases, our leases,
    /// live heartbeat records }.
    static let counts = RedisScript(name: "counts", source: #"""
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return { redis.call('LLEN', KEYS[1]), redis.call('LLEN', KEYS[2]), redis.call('ZCARD', KEYS[3]),
         redis.call('LLEN', KEYS[4]), tonumber(redis.call('GET', KEYS[5]) or '0') or 0,
         redis.call('ZCOUNT', KEYS[6], '(' .. now, '+inf'), redis.call('HLEN', KEYS[7]),
         redis.call('ZCOUNT', KEYS[8], '(' .. now, '+inf') }
"""#, bound: .noItems)
}

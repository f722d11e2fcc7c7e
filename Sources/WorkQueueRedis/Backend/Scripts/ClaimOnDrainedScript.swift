extension RedisScript {
    /// The claim of the `work --on-drained` hook, once per drain: the first worker to call it
    /// after `NAME:drained` was set wins, every later call (any worker, a restarted one too)
    /// loses, until the queue is drained again (a new `NAME:drained` value). The record is
    /// written before the hook starts, so a crash mid-hook leaves state `started`.
    ///
    /// KEYS: 1 drained (string: the session that drained it), 2 on-drained (hash, see
    ///       `RedisKeys.onDrained`).
    /// ARGV: 1 the claiming worker's session.
    /// Returns 1 when claimed (the record is now state `started`), 0 when this drain's hook was
    /// already claimed, -1 when `NAME:drained` is not set (nothing is changed either way).
    static let claimOnDrained = RedisScript(name: "claim-on-drained", source: #"""
local drain = redis.call('GET', KEYS[1])
if not drain then return -1 end
if redis.call('HGET', KEYS[2], 'drain') == drain then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'drain', drain, 'state', 'started', 'session', ARGV[1], 'started_ms', now)
return 1
"""#, bound: .noItems)
}

extension RedisScript {
    /// The claim of the `work --on-drained` hook, once per drain: the first worker to call it
    /// after `NAME:drained` was set wins, every later call (any worker, a restarted one too)
    /// loses, until the queue is drained again (a new `NAME:drained` value). The record is
    /// written before the hook starts, so a crash mid-hook leaves state `started`.
    ///
    /// Keys (by name, see `keys:`): drained (string: the session that drained it), on-drained (hash, see
    ///       `RedisKeys.onDrained`).
    /// ARGV: 1 the claiming worker's session.
    /// Returns 1 when claimed (the record is now state `started`), 0 when this drain's hook was
    /// already claimed, -1 when `NAME:drained` is not set (nothing is changed either way).
    static let claimOnDrained = RedisScript(name: "claim-on-drained", keys: [.drained, .onDrained], source: #"""
local drain = redis.call('GET', drained)
if not drain then return -1 end
if redis.call('HGET', on_drained, 'drain') == drain then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('DEL', on_drained)
redis.call('HSET', on_drained, 'drain', drain, 'state', 'started', 'session', ARGV[1], 'started_ms', now)
return 1
"""#, bound: .noItems)
}

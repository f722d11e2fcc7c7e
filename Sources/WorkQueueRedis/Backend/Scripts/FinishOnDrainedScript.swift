extension RedisScript {
    /// Records how the `work --on-drained` hook ended, if the record is still the claiming
    /// session's (a later drain's claim is left alone).
    ///
    /// Keys (by name, see `keys:`): on-drained (hash, see `RedisKeys.onDrained`).
    /// ARGV: 1 the session that claimed it, 2 the state (done, failed or stopped), 3 the hook's exit
    ///       status (128 + N: killed by signal N; -1: it could not be started).
    /// Returns 1 when recorded, 0 when the record is another session's.
    static let finishOnDrained = RedisScript(name: "finish-on-drained", keys: [.onDrained], source: #"""
if redis.call('HGET', on_drained, 'session') ~= ARGV[1] then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', on_drained, 'state', ARGV[2], 'exit_status', ARGV[3], 'finished_ms', now)
return 1
"""#, bound: .noItems)
}

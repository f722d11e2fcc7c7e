extension RedisScript {
    /// Appends items to pending unless the queue was drained (its workers have exited, so the
    /// items would wait forever), in one step.
    ///
    /// KEYS: 1 pending, 2 drained.
    /// ARGV: the items (any number: they are pushed 1000 at a time, Lua's `unpack` stops near 8000).
    /// Returns the pending count afterwards, or -1 when refused (nothing was pushed).
    static let guardedPush = RedisScript(name: "guarded-push", source: #"""
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
local n = redis.call('LLEN', KEYS[1])
for i = 1, #ARGV, 1000 do n = redis.call('RPUSH', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV))) end
return n
"""#, bound: .itemsItIsGiven)
}

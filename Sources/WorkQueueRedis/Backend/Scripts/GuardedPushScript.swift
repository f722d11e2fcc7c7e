extension RedisScript {
    /// Appends items to pending unless the queue was drained (its workers have exited, so the
    /// items would wait forever), in one step.
    ///
    /// Keys (by name, see `keys:`): pending, drained.
    /// ARGV: the items (any number: they are pushed 1000 at a time, Lua's `unpack` stops near 8000).
    /// Returns the pending count afterwards, or -1 when refused (nothing was pushed).
    static let guardedPush = RedisScript(name: "guarded-push", keys: [.pending, .drained], source: #"""
if redis.call('EXISTS', drained) == 1 then return -1 end
local n = redis.call('LLEN', pending)
for i = 1, #ARGV, 1000 do n = redis.call('RPUSH', pending, unpack(ARGV, i, math.min(i + 999, #ARGV))) end
return n
"""#, bound: .itemsItIsGiven)
}

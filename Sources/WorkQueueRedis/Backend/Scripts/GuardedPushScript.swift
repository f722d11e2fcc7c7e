extension RedisScript {
    /// Appends items to pending unless the queue was drained (its workers have exited, so the
    /// items would wait forever), in one step.
    ///
    /// KEYS: 1 pending, 2 drained.
    /// ARGV: the items (at most a few thousand per call).
    /// Returns the pending count afterwards, or -1 when refused (nothing was pushed).
    static let guardedPush = RedisScript(name: "guarded-push", source: #"""
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
return redis.call('RPUSH', KEYS[1], unpack(ARGV))
"""#)
}

extension RedisScript {
    /// Takes back a worker's drained marker: a sharded worker found a later shard not drained
    /// after its finish-if-drained had marked this one. Another worker's marker stays.
    ///
    /// Keys (by name, see `keys:`): drained.
    /// ARGV: 1 the worker's session.
    /// Returns 1 when the marker was removed, 0 when there was none or another session's.
    static let withdrawDrained = RedisScript(name: "withdraw-drained", keys: [.drained], source: #"""
if redis.call('GET', drained) ~= ARGV[1] then return 0 end
redis.call('DEL', drained)
return 1
"""#, bound: .noItems)
}

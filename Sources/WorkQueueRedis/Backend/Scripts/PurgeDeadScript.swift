extension RedisScript {
    /// Deletes every dead letter.
    ///
    /// KEYS: 1 dead.
    /// ARGV: none.
    /// Returns how many it held.
    static let purgeDead = RedisScript(name: "purge-dead", source: #"""
local n = redis.call('LLEN', KEYS[1])
redis.call('DEL', KEYS[1])
return n
"""#)
}

extension RedisScript {
    /// Deletes every dead letter.
    ///
    /// KEYS: 1 dead, 2 dead previews (``deadLetterFunction``).
    /// ARGV: none.
    /// Returns how many it held.
    static let purgeDead = RedisScript(name: "purge-dead", source: #"""
local n = redis.call('LLEN', KEYS[1])
redis.call('DEL', KEYS[1], KEYS[2])
return n
"""#)
}

extension RedisScript {
    /// Removes the open mark: workers exit once the queue is drained.
    ///
    /// KEYS: 1 open.
    /// ARGV: 1 the producer id whose mark to remove, or "" for whichever mark is there.
    /// Returns 1 when a mark was removed, 0 when there was none (or another producer's).
    static let close = RedisScript(name: "close", source: #"""
local holder = redis.call('GET', KEYS[1])
if not holder then return 0 end
if ARGV[1] ~= '' and holder ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
"""#)
}

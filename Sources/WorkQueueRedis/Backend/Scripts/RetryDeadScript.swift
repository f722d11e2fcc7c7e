extension RedisScript {
    /// Moves the oldest dead letters back to pending with their attempts and errors cleared.
    ///
    /// KEYS: 1 dead, 2 pending, 3 attempts, 4 errors, 5 retried.
    /// ARGV: 1 how many (the caller read them), then their SHA-224 hex digests.
    /// Returns how many moved. New dead letters arrive at the tail, so the head is what the
    /// caller read.
    static let retryDead = RedisScript(name: "retry-dead", source: #"""
local n = tonumber(ARGV[1])
if n == 0 then return 0 end
local items = redis.call('LPOP', KEYS[1], n)
if not items then return 0 end
for _, item in ipairs(items) do
  redis.call('RPUSH', KEYS[2], item)
  redis.call('HDEL', KEYS[5], item)
end
for i = 2, #ARGV do
  redis.call('HDEL', KEYS[3], ARGV[i])
  redis.call('HDEL', KEYS[4], ARGV[i])
end
return #items
"""#)
}

extension RedisScript {
    /// Moves the oldest dead letters back to pending with their attempts and errors cleared,
    /// unless the queue was drained (its workers have exited, so the items would wait with
    /// nobody to take them), in one step.
    ///
    /// KEYS: 1 dead, 2 pending, 3 attempts, 4 errors, 5 retried, 6 drained, 7 dead previews (the
    /// records of the letters moved are popped with them: ``deadLetterFunction``).
    /// ARGV: 1 how many (the caller read them), 2 "1" to reopen a drained queue (deletes
    ///       `NAME:drained` first), else "0"; then their SHA-224 hex digests.
    /// Returns how many moved, or -1 when refused (the queue was drained; nothing changed).
    /// New dead letters arrive at the tail, so the head is what the caller read. The caller
    /// sends a page at a time (at most 1000 items, about 1 MiB), so a call holds Redis briefly.
    static let retryDead = RedisScript(name: "retry-dead", source: #"""
local n = tonumber(ARGV[1])
if n == 0 then return 0 end
redis.call('LLEN', KEYS[1])
redis.call('LLEN', KEYS[2])
if redis.call('EXISTS', KEYS[6]) == 1 then
  if ARGV[2] ~= '1' then return -1 end
  redis.call('DEL', KEYS[6])
end
local unrecorded = redis.call('LLEN', KEYS[1]) - redis.call('LLEN', KEYS[7])
local items = redis.call('LPOP', KEYS[1], n)
if not items then return 0 end
if #items > unrecorded then redis.call('LPOP', KEYS[7], #items - math.max(0, unrecorded)) end
for _, item in ipairs(items) do
  redis.call('RPUSH', KEYS[2], item)
  redis.call('HDEL', KEYS[5], item)
end
for i = 3, #ARGV do
  redis.call('HDEL', KEYS[3], ARGV[i])
  redis.call('HDEL', KEYS[4], ARGV[i])
end
return #items
"""#)
}

extension RedisScript {
    /// One page of `workqueue dead purge`: deletes the oldest dead letters with what is kept
    /// for them, so that an item pushed again later starts from zero, in one atomic step.
    ///
    /// KEYS: 1 dead (list), 2 attempts, 3 errors (hashes by SHA-224 hex), 4 retried,
    /// 5 checkpoints (hashes by item bytes), 6 dead previews (the purged letters' records go
    /// with them: ``deadLetterFunction``).
    /// ARGV: 1 how many (the caller read them from the head: at most 1000 items and about
    ///       1 MiB, at least one), then per item its SHA-1 hex and its SHA-224 hex.
    /// Returns { purged, dead letters left }.
    ///
    /// The page loop: the head's items are read (LRANGE 0 n-1) and compared with the caller's
    /// SHA-1 digests, one by one; the loop ends at the first that differs (the head changed
    /// since the caller read it: a retried or purged letter), so only the items the caller
    /// hashed lose their attempts and errors. Those are trimmed from the list (LTRIM), with
    /// their fields in the four hashes. Bounded by the caller's page (count and bytes).
    static let purgeDead = RedisScript(name: "purge-dead", source: #"""
redis.call('LLEN', KEYS[1])
local n = tonumber(ARGV[1])
if n < 1 then return { 0, redis.call('LLEN', KEYS[1]) } end
local items = redis.call('LRANGE', KEYS[1], 0, n - 1)
local purged = 0
for i, item in ipairs(items) do
  if redis.sha1hex(item) ~= ARGV[2 * i] then break end
  local hash = ARGV[2 * i + 1]
  redis.call('HDEL', KEYS[2], hash)
  redis.call('HDEL', KEYS[3], hash)
  redis.call('HDEL', KEYS[4], item)
  redis.call('HDEL', KEYS[5], item)
  purged = i
end
if purged > 0 then
  -- Letters of an older version (at the head) have no preview record.
  local unrecorded = redis.call('LLEN', KEYS[1]) - redis.call('LLEN', KEYS[6])
  redis.call('LTRIM', KEYS[1], purged, -1)
  if purged > unrecorded then redis.call('LTRIM', KEYS[6], purged - math.max(0, unrecorded), -1) end
end
return { purged, redis.call('LLEN', KEYS[1]) }
"""#)
}

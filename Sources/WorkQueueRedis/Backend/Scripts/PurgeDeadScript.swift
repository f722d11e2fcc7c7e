extension RedisScript {
    /// One page of `workqueue dead purge`: deletes the oldest dead letters with what is kept
    /// for them, so that an item pushed again later starts from zero, in one atomic step.
    ///
    /// Keys (by name, see `keys:`): dead (list), attempts, errors (hashes by SHA-224 hex), retried,
    /// checkpoints (hashes by item bytes), dead previews (the purged letters' records go
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
    static let purgeDead = RedisScript(name: "purge-dead",
        keys: [.dead, .attempts, .errors, .retried, .checkpoints, .deadPreviews], checks: [.dead],
        source: #"""
local n = tonumber(ARGV[1])
if n < 1 then return { 0, redis.call('LLEN', dead) } end
local items = redis.call('LRANGE', dead, 0, n - 1)
local purged = 0
for i, item in ipairs(items) do
  if redis.sha1hex(item) ~= ARGV[2 * i] then break end
  local hash = ARGV[2 * i + 1]
  redis.call('HDEL', attempts, hash)
  redis.call('HDEL', errors, hash)
  redis.call('HDEL', retried, item)
  redis.call('HDEL', checkpoints, item)
  purged = i
end
if purged > 0 then
  -- Letters of an older version (at the head) have no preview record.
  local unrecorded = redis.call('LLEN', dead) - redis.call('LLEN', dead_previews)
  redis.call('LTRIM', dead, purged, -1)
  if purged > unrecorded then redis.call('LTRIM', dead_previews, purged - math.max(0, unrecorded), -1) end
end
return { purged, redis.call('LLEN', dead) }
"""#, bound: .pagedElsewhere("its own page loop; see ControlFlowTests"))
}

extension RedisScript {
    /// Moves the oldest dead letters back to pending with their attempts and errors cleared,
    /// unless the queue was drained (its workers have exited, so the items would wait with
    /// nobody to take them), in one step.
    ///
    /// Keys (by name, see `keys:`): dead, pending, attempts, errors, retried, drained, dead previews (the
    /// records of the letters moved are popped with them: ``deadLetterFunction``).
    /// ARGV: 1 how many (the caller read them), 2 "1" to reopen a drained queue (deletes
    ///       `NAME:drained` first), else "0", 3 byte budget; then their SHA-224 hex digests, one
    ///       per item in their order.
    /// Returns how many moved, or -1 when refused (the queue was drained; nothing changed).
    /// New dead letters arrive at the tail, so the head is what the caller read. The items go
    /// one at a time through the shared budget (at most ARGV[1], at most 1000, and ARGV[3]
    /// bytes after one), so a call holds Redis briefly whatever their size; the caller calls
    /// again for the rest.
    static let retryDead = RedisScript(name: "retry-dead",
        keys: [.dead, .pending, .attempts, .errors, .retried, .drained, .deadPreviews], checks: [.dead, .pending],
        source: #"""
local n = math.min(tonumber(ARGV[1]), 1000)
if n == 0 then return 0 end
if redis.call('EXISTS', drained) == 1 then
  if ARGV[2] ~= '1' then return -1 end
  redis.call('DEL', drained)
end
-- Letters of an older version (at the head) have no preview record: pop a record only past them.
local unrecorded = redis.call('LLEN', dead) - redis.call('LLEN', dead_previews)
local b = budget(n, tonumber(ARGV[3]))
while room(b) do
  local item = redis.call('LMOVE', dead, pending, 'LEFT', 'RIGHT')
  if not item then break end
  spend(b, #item)
  if unrecorded > 0 then unrecorded = unrecorded - 1 else redis.call('LPOP', dead_previews) end
  redis.call('HDEL', retried, item)
  local sha = ARGV[3 + b.items]
  if sha then
    redis.call('HDEL', attempts, sha)
    redis.call('HDEL', errors, sha)
  end
end
return b.items
"""#, bound: .budgeted("at most ARGV[1] (and 1000) items and ARGV[3] bytes after one"))
}

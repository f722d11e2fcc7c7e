extension RedisScript {
    /// Moves the oldest dead letters back to pending with their attempts and errors cleared,
    /// unless the queue was drained (its workers have exited, so the items would wait with
    /// nobody to take them), in one step.
    ///
    /// KEYS: 1 dead, 2 pending, 3 attempts, 4 errors, 5 retried, 6 drained, 7 dead previews (the
    /// records of the letters moved are popped with them: ``deadLetterFunction``).
    /// ARGV: 1 how many (the caller read them), 2 "1" to reopen a drained queue (deletes
    ///       `NAME:drained` first), else "0", 3 byte budget; then their SHA-224 hex digests, one
    ///       per item in their order.
    /// Returns how many moved, or -1 when refused (the queue was drained; nothing changed).
    /// New dead letters arrive at the tail, so the head is what the caller read. The items go
    /// one at a time through the shared budget (at most ARGV[1], at most 1000, and ARGV[3]
    /// bytes after one), so a call holds Redis briefly whatever their size; the caller calls
    /// again for the rest.
    static let retryDead = RedisScript(name: "retry-dead", source: #"""
local n = math.min(tonumber(ARGV[1]), 1000)
if n == 0 then return 0 end
redis.call('LLEN', KEYS[1])
redis.call('LLEN', KEYS[2])
if redis.call('EXISTS', KEYS[6]) == 1 then
  if ARGV[2] ~= '1' then return -1 end
  redis.call('DEL', KEYS[6])
end
-- Letters of an older version (at the head) have no preview record: pop a record only past them.
local unrecorded = redis.call('LLEN', KEYS[1]) - redis.call('LLEN', KEYS[7])
local b = budget(n, tonumber(ARGV[3]))
while room(b) do
  local item = redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT')
  if not item then break end
  spend(b, #item)
  if unrecorded > 0 then unrecorded = unrecorded - 1 else redis.call('LPOP', KEYS[7]) end
  redis.call('HDEL', KEYS[5], item)
  local sha = ARGV[3 + b.items]
  if sha then
    redis.call('HDEL', KEYS[3], sha)
    redis.call('HDEL', KEYS[4], sha)
  end
end
return b.items
"""#, bound: .budgeted("at most ARGV[1] (and 1000) items and ARGV[3] bytes after one"))
}

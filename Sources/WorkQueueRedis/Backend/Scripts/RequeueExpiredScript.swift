extension RedisScript {
    /// Recovery, second step: returns the items of leases that are still expired to pending
    /// (or to the dead letters once their attempts run out), counting an attempt.
    ///
    /// KEYS: 1 leases, 2 lease items, 3 processing, 4 pending, 5 dead, 6 attempts, 7 errors,
    /// 8 retried (item -> attempts), 9 checkpoints (item -> the checkpoint of a copy waiting
    /// for its redelivery), 10 lease checkpoints (token -> the copy's latest checkpoint: moved
    /// to 9 for a requeued copy, deleted for a dead-lettered one), 11 dead previews (a record
    /// per dead letter: ``deadLetterFunction``).
    /// ARGV: 1 max attempts, 2 error text (`%d` = attempts), 3 byte budget, then token, item
    /// SHA-224 hex, ... (at most 1000 pairs).
    /// Returns { requeued, dead-lettered, vanished, pairs handled }: vanished counts the items
    /// (among the requeued or dead-lettered) whose copy was no longer in processing (a
    /// `rediswq.py` worker's `LREM NAME:processing 0 item` removes every equal copy, ours too):
    /// such an item is put back all the same, since at least once beats lost. The items go
    /// through the shared budget (at most 1000 and ARGV[3] bytes after one): the pairs after
    /// `pairs handled` were not looked at, and the caller sends them again.
    static let requeueExpired = RedisScript(name: "requeue-expired", source: RedisScript.deadLetterFunction + #"""
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local max = tonumber(ARGV[1])
local requeued, dead, vanished, handled = 0, 0, 0, 0
local b = budget(1000, tonumber(ARGV[3]))
for i = 4, #ARGV, 2 do
  if not room(b) then break end
  handled = handled + 1
  local token, sha = ARGV[i], ARGV[i + 1]
  local s = redis.call('ZSCORE', KEYS[1], token)
  if s and tonumber(s) <= now then
    local item = redis.call('HGET', KEYS[2], token)
    redis.call('ZREM', KEYS[1], token)
    redis.call('HDEL', KEYS[2], token)
    local checkpoint = redis.call('HGET', KEYS[10], token)
    if checkpoint then redis.call('HDEL', KEYS[10], token) end
    if item then
      spend(b, #item)
      if redis.call('LREM', KEYS[3], 1, item) == 0 then vanished = vanished + 1 end
      local n = redis.call('HINCRBY', KEYS[6], sha, 1)
      if n >= max then
        dead_letter(KEYS[5], KEYS[11], item, sha)
        redis.call('HSET', KEYS[7], sha, string.format(ARGV[2], n))
        redis.call('HDEL', KEYS[8], item)
        dead = dead + 1
      else
        redis.call('RPUSH', KEYS[4], item)
        redis.call('HSET', KEYS[8], item, n)
        if checkpoint then redis.call('HSET', KEYS[9], item, checkpoint) end
        requeued = requeued + 1
      end
    end
  end
end
return { requeued, dead, vanished, handled }
"""#, bound: .budgeted("at most 1000 leases and ARGV[3] bytes of their items after one; the caller pages by item size too"))
}

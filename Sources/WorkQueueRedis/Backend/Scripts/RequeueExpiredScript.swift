extension RedisScript {
    /// Recovery, second step: returns the items of leases that are still expired to pending
    /// (or to the dead letters once their attempts run out), counting an attempt.
    ///
    /// KEYS: 1 leases, 2 lease items, 3 processing, 4 pending, 5 dead, 6 attempts, 7 errors,
    /// 8 retried (item -> attempts), 9 checkpoints (item -> checkpoint; deleted with a dead
    /// letter, kept for a requeued item's next attempt), 10 dead previews (a record per dead letter:
    /// ``deadLetterFunction``).
    /// ARGV: 1 max attempts, 2 error text (`%d` = attempts), then token, item SHA-224 hex, ...
    /// Returns { requeued, dead-lettered, vanished }: vanished counts the items (among the
    /// requeued or dead-lettered) whose copy was no longer in processing (a `rediswq.py` worker's
    /// `LREM NAME:processing 0 item` removes every equal copy, ours too): such an item is put
    /// back all the same, since at least once beats lost.
    static let requeueExpired = RedisScript(name: "requeue-expired", source: RedisScript.deadLetterFunction + #"""
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local max = tonumber(ARGV[1])
local requeued, dead, vanished = 0, 0, 0
for i = 3, #ARGV, 2 do
  local token, sha = ARGV[i], ARGV[i + 1]
  local s = redis.call('ZSCORE', KEYS[1], token)
  if s and tonumber(s) <= now then
    local item = redis.call('HGET', KEYS[2], token)
    redis.call('ZREM', KEYS[1], token)
    redis.call('HDEL', KEYS[2], token)
    if item then
      if redis.call('LREM', KEYS[3], 1, item) == 0 then vanished = vanished + 1 end
      local n = redis.call('HINCRBY', KEYS[6], sha, 1)
      if n >= max then
        dead_letter(KEYS[5], KEYS[10], item, sha)
        redis.call('HSET', KEYS[7], sha, string.format(ARGV[2], n))
        redis.call('HDEL', KEYS[8], item)
        redis.call('HDEL', KEYS[9], item)
        dead = dead + 1
      else
        redis.call('RPUSH', KEYS[4], item)
        redis.call('HSET', KEYS[8], item, n)
        requeued = requeued + 1
      end
    end
  end
end
return { requeued, dead, vanished }
"""#)
}

extension RedisScript {
    /// Recovery, second step: returns the items of leases that are still expired to pending
    /// (or to the dead letters once their attempts run out), counting an attempt.
    ///
    /// Keys (by name, see `keys:`): leases, lease items, pending, dead, attempts, errors,
    /// retried (item -> attempts), checkpoints (item -> the checkpoint of a copy waiting
    /// for its redelivery), lease checkpoints (token -> the copy's latest checkpoint: moved
    /// to 9 for a requeued copy, deleted for a dead-lettered one), dead previews (a record
    /// per dead letter: ``deadLetterFunction``).
    /// ARGV: 1 max attempts, 2 error text (`%d` = attempts), 3 byte budget, then token, item
    /// SHA-224 hex, ... (at most 1000 pairs).
    /// Returns { requeued, dead-lettered, pairs handled }. Our leases have no entry in
    /// `NAME:processing` (the lease's fields hold the item), so nothing is removed there. The items go
    /// through the shared budget (at most 1000 and ARGV[3] bytes after one): the pairs after
    /// `pairs handled` were not looked at, and the caller sends them again.
    static let requeueExpired = RedisScript(name: "requeue-expired",
        keys: [.leases, .leaseItems, .pending, .dead, .attempts, .errors, .retried, .checkpoints, .leaseCheckpoints, .deadPreviews], functions: [RedisScript.deadLetterFunction],
        source: #"""
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local max = tonumber(ARGV[1])
local requeued, lettered, handled = 0, 0, 0
local b = budget(1000, tonumber(ARGV[3]))
for i = 4, #ARGV, 2 do
  if not room(b) then break end
  handled = handled + 1
  local token, sha = ARGV[i], ARGV[i + 1]
  local s = redis.call('ZSCORE', leases, token)
  if s and tonumber(s) <= now then
    local item = redis.call('HGET', lease_items, token)
    redis.call('ZREM', leases, token)
    redis.call('HDEL', lease_items, token)
    local checkpoint = redis.call('HGET', lease_checkpoints, token)
    if checkpoint then redis.call('HDEL', lease_checkpoints, token) end
    if item then
      spend(b, #item)
      local n = redis.call('HINCRBY', attempts, sha, 1)
      if n >= max then
        dead_letter(dead, dead_previews, item, sha)
        redis.call('HSET', errors, sha, string.format(ARGV[2], n))
        redis.call('HDEL', retried, item)
        lettered = lettered + 1
      else
        redis.call('RPUSH', pending, item)
        redis.call('HSET', retried, item, n)
        if checkpoint then redis.call('HSET', checkpoints, item, checkpoint) end
        requeued = requeued + 1
      end
    end
  end
end
return { requeued, lettered, handled }
"""#, bound: .budgeted("at most 1000 leases and ARGV[3] bytes of their items after one; the caller pages by item size too"))
}

extension RedisScript {
    /// Not a script: how ``exchange`` settles one failure or release (completions it settles
    /// in batches itself), put before its body after ``deadLetterFunction``.
    ///
    /// `settle(kind, token, sha, text, delay, carried, now)`: `kind` `f` (fail) or `r`
    /// (release), the lease `token`, the item's SHA-224 hex `sha`, the error `text`, the retry
    /// `delay` in ms (empty: dead-letter it), the checkpoint the copy `carried` (nil: none; the
    /// one stored under its token, if any, is used), `now` the ms of the Redis clock. Returns 1
    /// when the lease was held (and the item settled), 0 when it was not (nothing changes).
    /// A release puts the item back at the head of the list; a failure counts the attempt,
    /// keeps the error, and dead-letters the item or schedules its retry. Our leases have no
    /// entry in `NAME:processing`: the lease's own fields are all there is to remove.
    ///
    /// Its keys are the exchange's own locals, by their names in the key table (``QueueKey``):
    /// lease_items, leases, lease_checkpoints, pending, checkpoints, attempts,
    /// errors, retried, retry_seq, retry, dead, dead_previews.
    static let settleFunction = #"""
local function settle(kind, token, sha, text, delay, carried, now)
  local item = redis.call('HGET', lease_items, token)
  if not item then return 0 end
  redis.call('HDEL', lease_items, token)
  redis.call('ZREM', leases, token)
  -- The copy's latest checkpoint: the one it carries, else the one stored with its lease.
  local checkpoint = carried or redis.call('HGET', lease_checkpoints, token)
  if checkpoint then redis.call('HDEL', lease_checkpoints, token) end
  if kind == 'r' then
    redis.call('LPUSH', pending, item)
    if checkpoint then redis.call('HSET', checkpoints, item, checkpoint) end
    return 1
  end
  local tries = redis.call('HINCRBY', attempts, sha, 1)
  redis.call('HSET', errors, sha, text)
  if delay == '' then
    dead_letter(dead, dead_previews, item, sha)
    redis.call('HDEL', retried, item)
  else
    redis.call('HSET', retried, item, tries)
    if checkpoint then redis.call('HSET', checkpoints, item, checkpoint) end
    local seq = redis.call('INCR', retry_seq)
    redis.call('ZADD', retry, now + tonumber(delay), string.format('%016x', seq) .. ':' .. item)
  end
  return 1
end

"""#
}

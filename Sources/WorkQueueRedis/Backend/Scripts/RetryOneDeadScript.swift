extension RedisScript {
    /// Moves one dead letter back to pending with its attempts and error cleared, unless the
    /// queue was drained (its workers have exited), in one step: the dashboard's "retry".
    ///
    /// KEYS: 1 dead, 2 pending, 3 attempts, 4 errors, 5 retried, 6 drained, 7 dead previews (the
    /// letter's record goes with it: ``deadLetterFunction``).
    /// ARGV: 1 the item (raw bytes), 2 its SHA-224 hex, 3 how far into the dead list to look
    ///       for it (its index when the caller read it, plus a margin: bounds the scan),
    ///       4 "1" to reopen a drained queue (deletes `NAME:drained` first), else "0".
    /// Returns 1 when moved, 0 when the item is not among the first ARGV[3] dead letters
    /// (another retry or a purge came first), -1 when refused (the queue was drained).
    static let retryOneDead = RedisScript(name: "retry-one-dead", source: #"""
redis.call('LLEN', KEYS[2])
local at = redis.call('LPOS', KEYS[1], ARGV[1], 'MAXLEN', tonumber(ARGV[3]))
if not at then return 0 end
if redis.call('EXISTS', KEYS[6]) == 1 then
  if ARGV[4] ~= '1' then return -1 end
  redis.call('DEL', KEYS[6])
end
local record = at - (redis.call('LLEN', KEYS[1]) - redis.call('LLEN', KEYS[7]))
redis.call('LREM', KEYS[1], 1, ARGV[1])
if record >= 0 then
  redis.call('LSET', KEYS[7], record, 'x')
  redis.call('LREM', KEYS[7], 1, 'x')
end
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[5], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[2])
redis.call('HDEL', KEYS[4], ARGV[2])
return 1
"""#, bound: .itemsItIsGiven)
}

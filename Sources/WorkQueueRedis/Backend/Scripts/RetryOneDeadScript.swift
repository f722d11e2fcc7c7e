extension RedisScript {
    /// Moves one dead letter back to pending with its attempts and error cleared, unless the
    /// queue was drained (its workers have exited), in one step: the dashboard's "retry".
    ///
    /// Keys (by name, see `keys:`): dead, pending, attempts, errors, retried, drained, dead previews (the
    /// letter's record goes with it: ``deadLetterFunction``).
    /// ARGV: 1 the item (raw bytes), 2 its SHA-224 hex, 3 how far into the dead list to look
    ///       for it (its index when the caller read it, plus a margin: bounds the scan),
    ///       4 "1" to reopen a drained queue (deletes `NAME:drained` first), else "0".
    /// Returns 1 when moved, 0 when the item is not among the first ARGV[3] dead letters
    /// (another retry or a purge came first), -1 when refused (the queue was drained).
    static let retryOneDead = RedisScript(name: "retry-one-dead",
        keys: [.dead, .pending, .attempts, .errors, .retried, .drained, .deadPreviews], checks: [.pending],
        source: #"""
local at = redis.call('LPOS', dead, ARGV[1], 'MAXLEN', tonumber(ARGV[3]))
if not at then return 0 end
if redis.call('EXISTS', drained) == 1 then
  if ARGV[4] ~= '1' then return -1 end
  redis.call('DEL', drained)
end
local record = at - (redis.call('LLEN', dead) - redis.call('LLEN', dead_previews))
redis.call('LREM', dead, 1, ARGV[1])
if record >= 0 then
  redis.call('LSET', dead_previews, record, 'x')
  redis.call('LREM', dead_previews, 1, 'x')
end
redis.call('RPUSH', pending, ARGV[1])
redis.call('HDEL', retried, ARGV[1])
redis.call('HDEL', attempts, ARGV[2])
redis.call('HDEL', errors, ARGV[2])
return 1
"""#, bound: .itemsItIsGiven)
}

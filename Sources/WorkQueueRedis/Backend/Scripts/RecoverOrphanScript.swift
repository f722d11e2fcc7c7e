extension RedisScript {
    /// Recovers one copy of an item that sits in processing with no live `rediswq.py` lease
    /// key (a tutorial worker died holding it), once it has been seen so for the grace period
    /// (a tutorial worker writes its lease a moment after its take). Our own leases have no
    /// entry in processing: every entry there is a tutorial worker's.
    ///
    /// Keys (by name, see `keys:`): processing, attempts, errors,
    /// the item's `rediswq.py` lease key (given by the caller, last), pending, dead, orphans (hash SHA-224 -> ms first seen leaseless),
    /// retried (item -> attempts), dead previews (a record per dead letter: ``deadLetterFunction``).
    /// ARGV: 1 item, 2 its SHA-224 hex, 3 max attempts, 4 error text (`%d` = attempts),
    /// 5 grace ms.
    /// Returns 0 nothing done, 1 requeued, 2 dead-lettered.
    /// It moves one copy of the item it is given (`LPOS` finds whether one is still there).
    static let recoverOrphan = RedisScript(name: "recover-orphan",
        keys: [.processing, .attempts, .errors, .pending, .dead, .orphans, .retried, .deadPreviews], given: ["tutorial_lease"], functions: [RedisScript.deadLetterFunction],
        source: #"""
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('EXISTS', tutorial_lease) == 1 then
  redis.call('HDEL', orphans, ARGV[2])
  return 0
end
if not redis.call('LPOS', processing, ARGV[1]) then
  redis.call('HDEL', orphans, ARGV[2])
  return 0
end
local first = redis.call('HGET', orphans, ARGV[2])
if not first then
  redis.call('HSET', orphans, ARGV[2], now)
  first = now
end
if now - tonumber(first) < tonumber(ARGV[5]) then return 0 end
redis.call('HDEL', orphans, ARGV[2])
redis.call('LREM', processing, 1, ARGV[1])
local n = redis.call('HINCRBY', attempts, ARGV[2], 1)
if n >= tonumber(ARGV[3]) then
  dead_letter(dead, dead_previews, ARGV[1], ARGV[2])
  redis.call('HSET', errors, ARGV[2], string.format(ARGV[4], n))
  redis.call('HDEL', retried, ARGV[1])
  return 2
end
redis.call('RPUSH', pending, ARGV[1])
redis.call('HSET', retried, ARGV[1], n)
return 1
"""#, bound: .itemsItIsGiven)
}

extension RedisScript {
    /// Recovers one copy of an item that sits in processing with no lease of ours and no live
    /// `rediswq.py` lease key (a tutorial worker died holding it), once it has been seen so
    /// for the grace period (a tutorial worker writes its lease a moment after its take).
    ///
    /// KEYS: 1 processing, 2 the item's `rediswq.py` lease key, 3 lease items, 4 attempts,
    /// 5 errors, 6 pending, 7 dead, 8 orphans (hash SHA-224 -> ms first seen leaseless),
    /// 9 retried (item -> attempts), 10 dead previews (a record per dead letter: ``deadLetterFunction``).
    /// ARGV: 1 item, 2 its SHA-224 hex, 3 max attempts, 4 error text (`%d` = attempts),
    /// 5 grace ms.
    /// Returns 0 nothing done, 1 requeued, 2 dead-lettered.
    /// Rare (only tutorial workers leave such items), so counting our holders of the item by
    /// going through every lease is acceptable here; only leases of the item's length are read,
    /// one at a time, so big items are never all held in the script at once. It moves one copy
    /// of the item it is given; the holder count is not byte-bounded (a lease of the same
    /// length is read whole to compare it).
    static let recoverOrphan = RedisScript(name: "recover-orphan", source: RedisScript.deadLetterFunction + #"""
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('HDEL', KEYS[8], ARGV[2])
  return 0
end
local copies = #redis.call('LPOS', KEYS[1], ARGV[1], 'COUNT', 0)
local held = 0
local size = #ARGV[1]
for _, token in ipairs(redis.call('HKEYS', KEYS[3])) do
  if redis.call('HSTRLEN', KEYS[3], token) == size and redis.call('HGET', KEYS[3], token) == ARGV[1] then held = held + 1 end
end
if copies <= held then
  redis.call('HDEL', KEYS[8], ARGV[2])
  return 0
end
local first = redis.call('HGET', KEYS[8], ARGV[2])
if not first then
  redis.call('HSET', KEYS[8], ARGV[2], now)
  first = now
end
if now - tonumber(first) < tonumber(ARGV[5]) then return 0 end
redis.call('HDEL', KEYS[8], ARGV[2])
redis.call('LREM', KEYS[1], 1, ARGV[1])
local n = redis.call('HINCRBY', KEYS[4], ARGV[2], 1)
if n >= tonumber(ARGV[3]) then
  dead_letter(KEYS[7], KEYS[10], ARGV[1], ARGV[2])
  redis.call('HSET', KEYS[5], ARGV[2], string.format(ARGV[4], n))
  redis.call('HDEL', KEYS[9], ARGV[1])
  return 2
end
redis.call('RPUSH', KEYS[6], ARGV[1])
redis.call('HSET', KEYS[9], ARGV[1], n)
return 1
"""#, bound: .itemsItIsGiven)
}

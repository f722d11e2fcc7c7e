extension RedisScript {
    /// Recovers one copy of an item that sits in processing with no lease of ours and no live
    /// `rediswq.py` lease key (a tutorial worker died holding it), once it has been seen so
    /// for the grace period (a tutorial worker writes its lease a moment after its take).
    ///
    /// Keys (by name, see `keys:`): processing, lease items, attempts, errors,
    /// the item's `rediswq.py` lease key (given by the caller, last), pending, dead, orphans (hash SHA-224 -> ms first seen leaseless),
    /// retried (item -> attempts), dead previews (a record per dead letter: ``deadLetterFunction``).
    /// ARGV: 1 item, 2 its SHA-224 hex, 3 max attempts, 4 error text (`%d` = attempts),
    /// 5 grace ms.
    /// Returns 0 nothing done, 1 requeued, 2 dead-lettered.
    /// Rare (only tutorial workers leave such items), so counting our holders of the item by
    /// going through every lease is acceptable here; only leases of the item's length are read,
    /// one at a time, so big items are never all held in the script at once. It moves one copy
    /// of the item it is given; the holder count is not byte-bounded (a lease of the same
    /// length is read whole to compare it).
    static let recoverOrphan = RedisScript(name: "recover-orphan",
        keys: [.processing, .leaseItems, .attempts, .errors, .pending, .dead, .orphans, .retried, .deadPreviews], given: ["tutorial_lease"], functions: [RedisScript.deadLetterFunction],
        source: #"""
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('EXISTS', tutorial_lease) == 1 then
  redis.call('HDEL', orphans, ARGV[2])
  return 0
end
local copies = #redis.call('LPOS', processing, ARGV[1], 'COUNT', 0)
local held = 0
local size = #ARGV[1]
for _, token in ipairs(redis.call('HKEYS', lease_items)) do
  if redis.call('HSTRLEN', lease_items, token) == size and redis.call('HGET', lease_items, token) == ARGV[1] then held = held + 1 end
end
if copies <= held then
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

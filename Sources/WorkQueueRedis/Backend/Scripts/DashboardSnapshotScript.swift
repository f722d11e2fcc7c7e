extension RedisScript {
    /// Everything the web dashboard shows of one queue (or shard), read in one step and
    /// changing nothing: run with `EVALSHA_RO`, once per refresh interval per queue whatever the
    /// number of viewers (the dashboard caches it). Every part is bounded by ARGV, so a call
    /// holds Redis briefly whatever the queue holds.
    ///
    /// KEYS: 1 pending, 2 processing, 3 retry, 4 dead, 5 completed, 6 leases, 7 lease items,
    ///       8 workers, 9 worker info, 10 holds, 11 open, 12 drained, 13 errors, 14 attempts,
    ///       15 control (`NAME:control`), 16 cancelled (`NAME:cancelled`), 17 results (the
    ///       completion records' stream), 18 results dropped (its bound's counter), 19 dead
    ///       previews (the dead letters' records: ``deadLetterFunction``). (Progress
    ///       needs no key: it rides in the worker records, KEYS[9].)
    /// ARGV: 1 most workers, 2 most leases (soonest deadline first), 3 preview bytes per item,
    ///       4 lease items read for previews: the byte budget (a longer item shows its size only),
    ///       5 the dead list's length when the caller last read its first page (-1: read it now),
    ///       6 dead letters per page (at most 100), 7 the old-letter budget of
    ///       ``deadPreviewsFunction`` (the dead page is read from the records, never from the
    ///       letters: a dead letter of 256 MiB costs what its 240-byte preview costs),
    ///       8... SHA-224s of dead letters whose attempts and last errors to read.
    /// Returns a flat list of named parts, `name, value, name, value, ...` (a reader skips names
    /// it does not know, so a part can be added without breaking one):
    /// `now` ms of the Redis clock; `counts` { pending, processing, scheduled, dead, completed,
    /// live leases, lease records, live workers }; `marks` { live holds, legacy open mark (0/1),
    /// drained marker (0/1) }; `control` { paused (0/1), cancelled (ms of the cancel, 0: not
    /// cancelled), items moved aside (LLEN of `NAME:cancelled`) }; `results` { records kept (-1:
    /// `NAME:results` is not a stream: an older version's hash), records the bound dropped };
    /// `workers` { session, expiry ms, record or false, ... };
    /// `leases` { token, ms left, item size, preview or false, ... }; `dead` the first page as
    /// ``deadPreviews`` returns it, absent when the dead list's length is what the caller saw
    /// (the page is not read again);
    /// `errors` and `attempts`: HMGET of the SHA-224s given, in their order.
    static let dashboardSnapshot = RedisScript(name: "dashboard-snapshot", source: RedisScript.deadPreviewsFunction + #"""
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
local function put(name, value) out[#out + 1] = name; out[#out + 1] = value end
put('now', now)
local dead = redis.call('LLEN', KEYS[4])
put('counts', { redis.call('LLEN', KEYS[1]), redis.call('LLEN', KEYS[2]), redis.call('ZCARD', KEYS[3]), dead,
                tonumber(redis.call('GET', KEYS[5]) or '0') or 0,
                redis.call('ZCOUNT', KEYS[6], '(' .. now, '+inf'), redis.call('HLEN', KEYS[7]),
                redis.call('ZCOUNT', KEYS[8], '(' .. now, '+inf') })
put('marks', { redis.call('ZCOUNT', KEYS[10], '(' .. now, '+inf'), redis.call('EXISTS', KEYS[11]),
               redis.call('EXISTS', KEYS[12]) })
local control = redis.call('HMGET', KEYS[15], 'paused', 'cancelled')
put('control', { control[1] and 1 or 0, control[2] and (tonumber(control[2]) or 1) or 0, redis.call('LLEN', KEYS[16]) })
local kept = -1
local kind = redis.call('TYPE', KEYS[17])['ok']
if kind == 'stream' then kept = redis.call('XLEN', KEYS[17]) elseif kind == 'none' then kept = 0 end
put('results', { kept, tonumber(redis.call('GET', KEYS[18]) or '0') or 0 })
local preview = tonumber(ARGV[3])
local workers = {}
local live = redis.call('ZRANGEBYSCORE', KEYS[8], '(' .. now, '+inf', 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[1]))
if #live > 0 then
  local sessions = {}
  for i = 1, #live, 2 do sessions[#sessions + 1] = live[i] end
  local records = redis.call('HMGET', KEYS[9], unpack(sessions))
  for i, session in ipairs(sessions) do
    workers[#workers + 1] = session
    workers[#workers + 1] = tonumber(live[2 * i])
    workers[#workers + 1] = records[i]
  end
end
put('workers', workers)
local leases = {}
local budget = tonumber(ARGV[4])
local held = redis.call('ZRANGEBYSCORE', KEYS[6], '(' .. now, '+inf', 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[2]))
for i = 1, #held, 2 do
  local size = redis.call('HSTRLEN', KEYS[7], held[i])
  local shown = false
  if size <= budget then
    local item = redis.call('HGET', KEYS[7], held[i])
    if item then
      budget = budget - #item
      shown = string.sub(item, 1, preview)
    end
  end
  leases[#leases + 1] = held[i]
  leases[#leases + 1] = tonumber(held[i + 1]) - now
  leases[#leases + 1] = size
  leases[#leases + 1] = shown
end
put('leases', leases)
if tonumber(ARGV[5]) ~= dead then
  put('dead', dead_previews(KEYS[4], KEYS[19], KEYS[13], KEYS[14], 0, tonumber(ARGV[6]), tonumber(ARGV[7])))
end
if #ARGV >= 8 then
  put('errors', redis.call('HMGET', KEYS[13], unpack(ARGV, 8, #ARGV)))
  put('attempts', redis.call('HMGET', KEYS[14], unpack(ARGV, 8, #ARGV)))
end
return out
"""#)
}

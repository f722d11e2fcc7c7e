extension RedisScript {
    /// Everything the web dashboard shows of one queue (or shard), read in one step and
    /// changing nothing: run with `EVALSHA_RO`, once per refresh interval per queue whatever the
    /// number of viewers (the dashboard caches it). Every part is bounded by ARGV, so a call
    /// holds Redis briefly whatever the queue holds.
    ///
    /// Keys (by name, see `keys:`): pending, processing, retry, dead, completed, leases, lease items,
    ///       workers, worker info, holds, open, drained, errors, attempts,
    ///       control (`NAME:control`), cancelled (`NAME:cancelled`), results (the
    ///       completion records' stream), results dropped (its bound's counter), dead
    ///       previews (the dead letters' records: ``deadLetterFunction``). (Progress
    ///       needs no key: it rides in the worker records, worker info.)
    /// ARGV: 1 most workers, 2 most leases (soonest deadline first), 3 preview bytes per item,
    ///       4 lease items read for previews: the byte budget (a longer item shows its size only),
    ///       5 the dead list's length when the caller last read its first page (-1: read it now),
    ///       6 dead letters per page (at most 100), 7 the old-letter budget of
    ///       ``deadPreviewsFunction`` (the dead page is read from the records, never from the
    ///       letters: a dead letter of 256 MiB costs what its 240-byte preview costs),
    ///       8... SHA-224s of dead letters whose attempts and last errors to read.
    /// Returns a flat list of named parts, `name, value, name, value, ...` (a reader skips names
    /// it does not know, so a part can be added without breaking one):
    /// `now` ms of the Redis clock; `counts` { pending, in flight (entries of processing plus our
    /// leases), scheduled, dead, completed,
    /// live leases, lease records, live workers }; `marks` { live holds, legacy open mark (0/1),
    /// drained marker (0/1) }; `control` { paused (0/1), cancelled (ms of the cancel, 0: not
    /// cancelled), items moved aside (LLEN of `NAME:cancelled`) }; `results` { records kept (-1:
    /// `NAME:results` is not a stream: an older version's hash), records the bound dropped };
    /// `workers` { session, expiry ms, record or false, ... };
    /// `leases` { token, ms left, item size, preview or false, ... }; `dead` the first page as
    /// ``deadPreviews`` returns it, absent when the dead list's length is what the caller saw
    /// (the page is not read again);
    /// `errors` and `attempts`: HMGET of the SHA-224s given, in their order.
    static let dashboardSnapshot = RedisScript(name: "dashboard-snapshot",
        keys: [.pending, .processing, .retry, .dead, .completed, .leases, .leaseItems, .workers, .workerInfo, .holds, .open, .drained, .errors, .attempts, .control, .cancelled, .results, .resultsDropped, .deadPreviews], functions: [RedisScript.deadPreviewsFunction],
        source: #"""
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
local function put(name, value) out[#out + 1] = name; out[#out + 1] = value end
put('now', now)
local dead_count = redis.call('LLEN', dead)
-- In flight: the tutorial workers' entries of processing plus our leases (which have none).
local ours = redis.call('HLEN', lease_items)
put('counts', { redis.call('LLEN', pending), redis.call('LLEN', processing) + ours, redis.call('ZCARD', retry), dead_count,
                tonumber(redis.call('GET', completed) or '0') or 0,
                redis.call('ZCOUNT', leases, '(' .. now, '+inf'), ours,
                redis.call('ZCOUNT', workers, '(' .. now, '+inf') })
put('marks', { redis.call('ZCOUNT', holds, '(' .. now, '+inf'), redis.call('EXISTS', open),
               redis.call('EXISTS', drained) })
local marks = redis.call('HMGET', control, 'paused', 'cancelled')
put('control', { marks[1] and 1 or 0, marks[2] and (tonumber(marks[2]) or 1) or 0, redis.call('LLEN', cancelled) })
local kept = -1
local kind = redis.call('TYPE', results)['ok']
if kind == 'stream' then kept = redis.call('XLEN', results) elseif kind == 'none' then kept = 0 end
put('results', { kept, tonumber(redis.call('GET', results_dropped) or '0') or 0 })
local preview = tonumber(ARGV[3])
local live_workers = {}
local live = redis.call('ZRANGEBYSCORE', workers, '(' .. now, '+inf', 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[1]))
if #live > 0 then
  local sessions = {}
  for i = 1, #live, 2 do sessions[#sessions + 1] = live[i] end
  local records = redis.call('HMGET', worker_info, unpack(sessions))
  for i, session in ipairs(sessions) do
    live_workers[#live_workers + 1] = session
    live_workers[#live_workers + 1] = tonumber(live[2 * i])
    live_workers[#live_workers + 1] = records[i]
  end
end
put('workers', live_workers)
local live_leases = {}
local budget = tonumber(ARGV[4])
local held = redis.call('ZRANGEBYSCORE', leases, '(' .. now, '+inf', 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[2]))
for i = 1, #held, 2 do
  local size = redis.call('HSTRLEN', lease_items, held[i])
  local shown = false
  if size <= budget then
    local item = redis.call('HGET', lease_items, held[i])
    if item then
      budget = budget - #item
      shown = string.sub(item, 1, preview)
    end
  end
  live_leases[#live_leases + 1] = held[i]
  live_leases[#live_leases + 1] = tonumber(held[i + 1]) - now
  live_leases[#live_leases + 1] = size
  live_leases[#live_leases + 1] = shown
end
put('leases', live_leases)
if tonumber(ARGV[5]) ~= dead_count then
  put('dead', dead_page(dead, dead_previews, errors, attempts, 0, tonumber(ARGV[6]), tonumber(ARGV[7])))
end
if #ARGV >= 8 then
  put('errors', redis.call('HMGET', errors, unpack(ARGV, 8, #ARGV)))
  put('attempts', redis.call('HMGET', attempts, unpack(ARGV, 8, #ARGV)))
end
return out
"""#, bound: .pagedElsewhere("reads previews only; see DashboardSnapshotTests"))
}

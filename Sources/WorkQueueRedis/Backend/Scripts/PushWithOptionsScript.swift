extension RedisScript {
    /// A producer's push with options (`push --delay`/`--not-before`, `--unique`), unless the
    /// queue was drained, in one step: items equal to one pushed with a uniqueness window that
    /// has not ended are skipped; the others are appended to pending, or with a delay added to
    /// the scheduled items (`NAME:retry`, promoted when due as retries are).
    ///
    /// Keys (by name, see `keys:`): pending, drained, retry, retry seq, unique.
    /// ARGV: 1 the number F of option pairs that follow; 2 .. 1+2F the options as name, value
    /// pairs: `delay` (ms of the Redis clock after this call; 0: pending now), `unique` (the
    /// window in ms; 0: push every item); an unknown name fails the call before anything is
    /// written (a new option is a new name: an older script refuses it instead of ignoring
    /// it). Then the items: with `unique`, pairs of the item's 28-byte SHA-224 and the item;
    /// without, the items alone (the caller sends at most 1000 items a call).
    /// Returns { pending count afterwards, items pushed, items skipped }, or { -1, 0, 0 } when
    /// refused (nothing was written).
    ///
    /// Every command takes up to 1000 items or digests (500 score-member pairs): with `unique`
    /// a `ZMSCORE` and a `ZADD` on unique per 1000 items, with a delay a `ZADD` on retry per
    /// 500, else an `RPUSH` per 1000. Per call: `TIME`, and with `unique` one `ZRANGEBYSCORE` +
    /// `ZREM` pruning at most 1000 ended windows and a `PTTL` (and a `PEXPIRE`).
    static let pushWithOptions = RedisScript(name: "push-with-options",
        keys: [.pending, .drained, .retry, .retrySeq, .unique], checks: [.pending, .retry, .retrySeq, .unique], source: #"""
if redis.call('EXISTS', drained) == 1 then return { -1, 0, 0 } end
local fields = tonumber(ARGV[1]) or 0
local delay, window = 0, 0
for i = 2, 1 + 2 * fields, 2 do
  local option, value = ARGV[i], tonumber(ARGV[i + 1]) or 0
  if option == 'delay' then delay = value
  elseif option == 'unique' then window = value
  else return redis.error_reply('ERR push-with-options: unknown option ' .. tostring(option)) end
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local first = 2 + 2 * fields
local keep, skipped = {}, 0
if window > 0 then
  local ended = redis.call('ZRANGEBYSCORE', unique, '-inf', now, 'LIMIT', 0, 1000)
  if #ended > 0 then redis.call('ZREM', unique, unpack(ended)) end
  local digests, ends = {}, {}
  for i = first, #ARGV - 1, 2 do digests[#digests + 1] = ARGV[i] end
  for j = 1, #digests, 1000 do
    local part = redis.call('ZMSCORE', unique, unpack(digests, j, math.min(j + 999, #digests)))
    for k = 1, #part do ends[j + k - 1] = part[k] end
  end
  local seen, adds = {}, {}
  for j = 1, #digests do
    local digest, ends_at = digests[j], ends[j]
    if seen[digest] or (ends_at and tonumber(ends_at) > now) then
      skipped = skipped + 1
    else
      seen[digest] = true
      adds[#adds + 1] = now + window
      adds[#adds + 1] = digest
      keep[#keep + 1] = ARGV[first + 2 * j - 1]
    end
  end
  for j = 1, #adds, 1000 do redis.call('ZADD', unique, unpack(adds, j, math.min(j + 999, #adds))) end
  if redis.call('PTTL', unique) < window then redis.call('PEXPIRE', unique, window) end
else
  for i = first, #ARGV do keep[#keep + 1] = ARGV[i] end
end
if #keep > 0 and delay > 0 then
  local seq = redis.call('INCRBY', retry_seq, #keep) - #keep
  local adds = {}
  for j = 1, #keep do
    adds[#adds + 1] = now + delay
    adds[#adds + 1] = string.format('%016x', seq + j) .. ':' .. keep[j]
  end
  for j = 1, #adds, 1000 do redis.call('ZADD', retry, unpack(adds, j, math.min(j + 999, #adds))) end
elseif #keep > 0 then
  for j = 1, #keep, 1000 do redis.call('RPUSH', pending, unpack(keep, j, math.min(j + 999, #keep))) end
end
return { redis.call('LLEN', pending), #keep, skipped }
"""#, bound: .itemsItIsGiven)
}

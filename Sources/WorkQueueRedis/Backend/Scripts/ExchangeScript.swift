extension RedisScript {
    /// The hot path: takes a batch of items and settles a batch of leases, in one atomic call.
    ///
    /// KEYS: 1 pending, 2 processing, 3 leases (zset token -> deadline ms), 4 lease items
    /// (hash token -> item), 5 attempts, 6 errors, 7 results, 8 completed, 9 retry,
    /// 10 retry seq, 11 dead, 12 retried (hash item -> attempts, for items that failed or were
    /// recovered and are not dead: read per taken item only while it is not empty).
    /// ARGV: 1 lease ms, 2 most items to take, 3 token prefix (`<session>:`), 4 first token
    /// number, 5 item size limit in bytes, 6 number of settlements S, then five per settlement:
    /// kind (`c` complete, `f` fail, `r` release), token, item SHA-224 hex (or empty), text
    /// (the result, or the error), extra (complete: `r` stores the result, `a` clears attempts
    /// and errors; fail: `dead`, or the retry delay in ms).
    /// Returns { outcomes (1 settled / 0 lease not held, per settlement), taken (token, item,
    /// attempts so far, ...), sizes of items dead-lettered for their size,
    /// { pending, processing, scheduled } }.
    ///
    /// Nothing here reads an item's bytes: items are moved, stored and compared by Redis
    /// itself; hashes come from the caller. A call whose first token already exists was a
    /// retry of a take that happened: it returns that take again instead of taking more.
    static let exchange = RedisScript(name: "exchange", source: #"""
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
-- Reads first: a key of the wrong type fails the call before anything is written.
local pendingLen = redis.call('LLEN', KEYS[1])
redis.call('LLEN', KEYS[2])
redis.call('ZCARD', KEYS[3])
redis.call('HLEN', KEYS[4])
redis.call('HLEN', KEYS[5])
local retried = redis.call('HLEN', KEYS[12]) > 0
local scheduled = redis.call('ZCARD', KEYS[9])
redis.call('LLEN', KEYS[11])

-- Take first, then settle: the lease structures stay large between calls instead of
-- emptying and being rebuilt (and re-encoded) on every call.
local taken, oversize = {}, {}
local max = tonumber(ARGV[2])
if max > 0 then
  local prefix, first = ARGV[3], tonumber(ARGV[4])
  if redis.call('HEXISTS', KEYS[4], prefix .. first) == 1 then
    local tokens = {}
    for i = 0, max - 1 do tokens[i + 1] = prefix .. (first + i) end
    local items = redis.call('HMGET', KEYS[4], unpack(tokens))
    for i = 1, max do
      if items[i] then
        taken[#taken + 1] = tokens[i]
        taken[#taken + 1] = items[i]
        taken[#taken + 1] = retried and tonumber(redis.call('HGET', KEYS[12], items[i]) or '0') or 0
      end
    end
  else
    if redis.call('LLEN', KEYS[1]) == 0 and scheduled > 0 then
      local due = redis.call('ZRANGEBYSCORE', KEYS[9], '-inf', now, 'LIMIT', 0, 1000)
      for _, m in ipairs(due) do redis.call('RPUSH', KEYS[1], string.sub(m, 18)) end
      if #due > 0 then
        redis.call('ZREM', KEYS[9], unpack(due))
        retried = true
      end
    end
    local deadline = now + tonumber(ARGV[1])
    local limit = tonumber(ARGV[5])
    local scores, records = {}, {}
    local k = 0
    for _ = 1, max do
      local item = redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT')
      if not item then break end
      if #item > limit then
        redis.call('RPOP', KEYS[2])
        redis.call('RPUSH', KEYS[11], item)
        oversize[#oversize + 1] = #item
      else
        local token = prefix .. (first + k)
        k = k + 1
        scores[#scores + 1] = deadline
        scores[#scores + 1] = token
        records[#records + 1] = token
        records[#records + 1] = item
        taken[#taken + 1] = token
        taken[#taken + 1] = item
        taken[#taken + 1] = retried and tonumber(redis.call('HGET', KEYS[12], item) or '0') or 0
      end
    end
    if k > 0 then
      redis.call('ZADD', KEYS[3], unpack(scores))
      redis.call('HSET', KEYS[4], unpack(records))
    end
  end
end
local outcomes = {}
local n = tonumber(ARGV[6])
local completes, positions = {}, {}
for i = 0, n - 1 do
  local a = 7 + i * 5
  if ARGV[a] == 'c' then
    completes[#completes + 1] = ARGV[a + 1]
    positions[#positions + 1] = i
  end
end
if #completes > 0 then
  local items = redis.call('HMGET', KEYS[4], unpack(completes))
  local results, done = {}, 0
  for j = 1, #completes do
    local i = positions[j]
    local a = 7 + i * 5
    local item = items[j]
    if item then
      redis.call('LREM', KEYS[2], 1, item)
      done = done + 1
      outcomes[i + 1] = 1
      local extra = ARGV[a + 4]
      if string.find(extra, 'r', 1, true) then
        results[#results + 1] = ARGV[a + 2]
        results[#results + 1] = ARGV[a + 3]
      end
      if string.find(extra, 'a', 1, true) then
        redis.call('HDEL', KEYS[5], ARGV[a + 2])
        redis.call('HDEL', KEYS[6], ARGV[a + 2])
        redis.call('HDEL', KEYS[12], item)
      end
    else
      outcomes[i + 1] = 0
    end
  end
  redis.call('HDEL', KEYS[4], unpack(completes))
  redis.call('ZREM', KEYS[3], unpack(completes))
  if #results > 0 then redis.call('HSET', KEYS[7], unpack(results)) end
  if done > 0 then redis.call('INCRBY', KEYS[8], done) end
end
for i = 0, n - 1 do
  local a = 7 + i * 5
  local kind = ARGV[a]
  if kind ~= 'c' then
    local token = ARGV[a + 1]
    local item = redis.call('HGET', KEYS[4], token)
    if item then
      redis.call('HDEL', KEYS[4], token)
      redis.call('ZREM', KEYS[3], token)
      redis.call('LREM', KEYS[2], 1, item)
      if kind == 'r' then
        redis.call('LPUSH', KEYS[1], item)
      else
        local attempts = redis.call('HINCRBY', KEYS[5], ARGV[a + 2], 1)
        redis.call('HSET', KEYS[6], ARGV[a + 2], ARGV[a + 3])
        if ARGV[a + 4] == 'dead' then
          redis.call('RPUSH', KEYS[11], item)
          redis.call('HDEL', KEYS[12], item)
        else
          redis.call('HSET', KEYS[12], item, attempts)
          local seq = redis.call('INCR', KEYS[10])
          redis.call('ZADD', KEYS[9], now + tonumber(ARGV[a + 4]), string.format('%016x', seq) .. ':' .. item)
          scheduled = scheduled + 1
        end
      end
      outcomes[i + 1] = 1
    else
      outcomes[i + 1] = 0
    end
  end
end

return { outcomes, taken, oversize,
         { redis.call('LLEN', KEYS[1]), redis.call('LLEN', KEYS[2]), redis.call('ZCARD', KEYS[9]) } }
"""#)
}

extension RedisScript {
    /// The hot path: takes a batch of items and settles a batch of leases, in one atomic call.
    ///
    /// KEYS: 1 pending, 2 processing, 3 leases (zset token -> deadline ms), 4 lease items
    /// (hash token -> item), 5 attempts, 6 errors, 7 results (stream of completion records),
    /// 8 completed, 9 retry,
    /// 10 retry seq, 11 dead, 12 retried (hash item -> attempts, for items that failed or were
    /// recovered and are not dead: read per taken item only while it is not empty),
    /// 13 exchanges (hash `<session>:` -> `<call id>|<outcomes so far>`, the settlements of the
    /// session's last call, so that a call retried after its reply was lost answers them again),
    /// 14 control (hash: `paused`, `cancelled`; either set: the take hands out nothing), 15 rate
    /// (string: the rate limit's theoretical arrival time, µs of the Redis clock), 16 checkpoints
    /// (hash item -> the checkpoint of a copy released, failed or recovered with one: read per
    /// taken item only while it is not empty; a take that finds one hands it to its lease and
    /// removes it, so it goes to one redelivery), 17 results dropped (the records the results
    /// bound trimmed, a counter), 18 lease checkpoints (hash token -> the copy's latest
    /// checkpoint; deleted with the lease, moved to 16 by a release or a retried failure), 19 dead
    /// previews (a record per dead letter: ``deadLetterFunction``).
    /// ARGV: 1 lease ms, 2 most items to take, 3 token prefix (`<session>:`), 4 first token
    /// number, 5 item size limit in bytes, 6 take byte budget (the take stops once the items
    /// it took reach it, after at least one), 7 call id (names the caller's logical call; the
    /// same on a retry), 8 offset of these settlements within that call, 9 the largest item
    /// returned inline (a larger one is returned as its size: the caller reads it with a plain
    /// `HMGET` of the lease items, outside the script), 10 number of settlements S, then six
    /// per settlement: kind (`c` complete, `f` fail, `r` release),
    /// token, item SHA-224 hex (or empty), text (the result, or the error), extra (complete:
    /// `r` records the result, `a` clears attempts and errors, and with `r` then
    /// `:<attempt>:<bound>`, the bound being empty for none; fail: `dead`, or the retry delay
    /// in ms), checkpoint (release and fail: `=` and the copy's latest checkpoint, or empty
    /// for the one stored under its token, if any); after the settlements (at `11 + 6 * S`): the rate limit's interval between items
    /// in µs (0: no limit), and its burst (items at once at most). Each recorded result is one
    /// entry of the results stream (fields item, result, attempt, worker = the session), which
    /// is then trimmed exactly to the bound; what the trim dropped is added to the dropped
    /// counter.
    /// Returns { outcomes (1 settled / 0 lease not held, per settlement), taken (token, item or
    /// its size, attempts so far or { attempts so far, the item's checkpoint } when it has one,
    /// ...), sizes of items dead-lettered for their size, { pending, processing, scheduled },
    /// { paused 0/1, cancelled 0/1, ms to wait before taking again when the rate limit cut the
    /// take short (else 0) } }.
    ///
    /// Nothing here reads an item's bytes: items are moved, stored and compared by Redis
    /// itself; hashes come from the caller. A call whose first token already exists was a
    /// retry of a take that happened: it returns that take again (its leases extended) instead
    /// of taking more; settlements whose call id and offset the session's record already
    /// covers were applied by a call whose reply was lost: their recorded outcomes are returned
    /// and nothing is applied twice. No Lua `unpack` gets more than 1000 values (its limit is
    /// about 8000), whatever the caller sends. Releases remove their copy scanning
    /// `NAME:processing` from the tail (the newest items: a released item was taken last),
    /// completions and failures from the head (the oldest: the item of a long run).
    static let exchange = RedisScript(name: "exchange", source: RedisScript.deadLetterFunction + #"""
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
-- Calls a command on `key` with the values of `list`, at most 1000 per call.
local function each(command, key, list)
  for i = 1, #list, 1000 do redis.call(command, key, unpack(list, i, math.min(i + 999, #list))) end
end
-- Reads first: a key of the wrong type fails the call before anything is written.
redis.call('LLEN', KEYS[1])
redis.call('LLEN', KEYS[2])
redis.call('ZCARD', KEYS[3])
redis.call('HLEN', KEYS[4])
redis.call('HLEN', KEYS[5])
redis.call('HLEN', KEYS[18])
local retried = redis.call('HLEN', KEYS[12]) > 0
local scheduled = redis.call('ZCARD', KEYS[9])
redis.call('LLEN', KEYS[11])
local checkpointed = redis.call('HLEN', KEYS[16]) > 0
local n = tonumber(ARGV[10])
if n > 0 then redis.call('XLEN', KEYS[7]) end
local inline = tonumber(ARGV[9])
local callId, offset = ARGV[7], tonumber(ARGV[8])
local replay, before = nil, ''
if n > 0 then
  local stored = redis.call('HGET', KEYS[13], ARGV[3])
  if stored then
    local bar = string.find(stored, '|', 1, true)
    if bar and string.sub(stored, 1, bar - 1) == callId then
      local done = string.sub(stored, bar + 1)
      if #done >= offset + n then
        replay = string.sub(done, offset + 1, offset + n)
      elseif #done == offset then
        before = done
      end
    end
  end
  if not replay and #before ~= offset then before = string.rep('0', offset) end
end

-- Take first, then settle: the lease structures stay large between calls instead of
-- emptying and being rebuilt (and re-encoded) on every call.
local taken, oversize = {}, {}
local max = tonumber(ARGV[2])
-- The operator's marks and the rate limit: one HMGET, and the limit's state only when set.
local control = redis.call('HMGET', KEYS[14], 'paused', 'cancelled')
local paused, cancelled = control[1] and 1 or 0, control[2] and 1 or 0
local rate = 11 + n * 6
local interval, burst = tonumber(ARGV[rate]) or 0, tonumber(ARGV[rate + 1]) or 1
local wait = 0
if max > 0 then
  local prefix, first = ARGV[3], tonumber(ARGV[4])
  local deadline = now + tonumber(ARGV[1])
  if redis.call('HEXISTS', KEYS[4], prefix .. first) == 1 then
    for i = 0, max - 1 do
      local token = prefix .. (first + i)
      local item = redis.call('HGET', KEYS[4], token)
      if item then
        -- Handed out again: it gets the full lease a first take would have given.
        redis.call('ZADD', KEYS[3], 'XX', deadline, token)
        taken[#taken + 1] = token
        taken[#taken + 1] = #item > inline and #item or item
        local attempts = retried and tonumber(redis.call('HGET', KEYS[12], item) or '0') or 0
        local checkpoint = redis.call('HGET', KEYS[18], token)
        taken[#taken + 1] = checkpoint and { attempts, checkpoint } or attempts
      end
    end
  elseif paused == 0 and cancelled == 0 then
    -- GCRA: at most `burst` items at once, then one per `interval` µs, fleet-wide.
    local tat, tolerance, nowus = nil, 0, 0
    if interval > 0 then
      nowus = tonumber(t[1]) * 1000000 + tonumber(t[2])
      tat = math.max(tonumber(redis.call('GET', KEYS[15]) or '0') or 0, nowus)
      tolerance = interval * (math.max(1, burst) - 1)
      local ahead = tat - nowus
      local slots = 0
      if ahead <= tolerance then slots = math.floor((tolerance - ahead) / interval) + 1 end
      if slots < max then
        max = slots
        wait = 1
      end
    end
    local limit = tonumber(ARGV[5])
    if max > 0 and redis.call('LLEN', KEYS[1]) == 0 and scheduled > 0 then
      -- Due retries, within the take's own count and byte budget.
      if promote(budget(max, tonumber(ARGV[6])), KEYS[9], KEYS[1], now) > 0 then retried = true end
    end
    local scores, records = {}, {}
    local k = 0
    local take = budget(math.min(max, redis.call('LLEN', KEYS[1])), tonumber(ARGV[6]))
    -- No LMOVE on an empty list: a take with nothing pending writes nothing (and so works
    -- while Redis refuses writes, e.g. OOM). An item over the size limit spends the budget
    -- too, and takes the fewest passes through Lua there are: its one read (LMOVE), its one
    -- write (RPUSH to the dead letters), and LTRIM, which returns nothing, drops its copy.
    while room(take) do
      local item = redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT')
      if not item then break end
      spend(take, #item)
      if #item > limit then
        redis.call('LTRIM', KEYS[2], 0, -2)
        dead_letter(KEYS[11], KEYS[19], item, nil)
        oversize[#oversize + 1] = #item
      else
        local token = prefix .. (first + k)
        k = k + 1
        scores[#scores + 1] = deadline
        scores[#scores + 1] = token
        records[#records + 1] = token
        records[#records + 1] = item
        taken[#taken + 1] = token
        taken[#taken + 1] = #item > inline and #item or item
        local attempts = retried and tonumber(redis.call('HGET', KEYS[12], item) or '0') or 0
        -- A redelivered copy's checkpoint goes to this lease alone.
        local checkpoint = checkpointed and redis.call('HGET', KEYS[16], item)
        if checkpoint then
          redis.call('HDEL', KEYS[16], item)
          redis.call('HSET', KEYS[18], token, checkpoint)
          checkpointed = redis.call('HLEN', KEYS[16]) > 0
        end
        taken[#taken + 1] = checkpoint and { attempts, checkpoint } or attempts
      end
    end
    if k > 0 then
      each('ZADD', KEYS[3], scores)
      each('HSET', KEYS[4], records)
    end
    if tat then
      if k > 0 then
        tat = tat + k * interval
        redis.call('SET', KEYS[15], string.format('%.0f', tat), 'PX', math.floor((tat - nowus) / 1000) + 1000)
      end
      -- Cut short by the limit with items still pending: how long until the next one may start.
      if wait > 0 and k == max and redis.call('LLEN', KEYS[1]) > 0 then
        wait = math.max(1, math.ceil((tat - tolerance - nowus) / 1000))
      else
        wait = 0
      end
    end
  end
end

local outcomes = {}
if replay then
  for i = 1, n do outcomes[i] = tonumber(string.sub(replay, i, i)) end
else
  -- Completions first, batched (the hot path), then failures and releases one by one.
  local results, completes, positions, done = {}, {}, {}, 0
  for i = 0, n - 1 do
    if ARGV[11 + i * 6] == 'c' then
      completes[#completes + 1] = ARGV[12 + i * 6]
      positions[#positions + 1] = i
    end
  end
  for c = 1, #completes, 1000 do
    local last = math.min(c + 999, #completes)
    local items = redis.call('HMGET', KEYS[4], unpack(completes, c, last))
    for j = c, last do
      local i = positions[j]
      local a = 11 + i * 6
      local item = items[j - c + 1]
      if item then
        redis.call('LREM', KEYS[2], 1, item)
        done = done + 1
        outcomes[i + 1] = 1
        local extra = ARGV[a + 4]
        if string.find(extra, 'r', 1, true) then
          local attempt, bound = string.match(extra, ':(%d+):(%d*)$')
          results[#results + 1] = { item, ARGV[a + 3], attempt or '1' }
          results.bound = results.bound or tonumber(bound)
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
  end
  if #completes > 0 then
    each('HDEL', KEYS[4], completes)
    each('ZREM', KEYS[3], completes)
    if redis.call('HLEN', KEYS[18]) > 0 then each('HDEL', KEYS[18], completes) end
  end
  for i = 0, n - 1 do
    local a = 11 + i * 6
    local kind = ARGV[a]
    if kind ~= 'c' then
      local token = ARGV[a + 1]
      local item = redis.call('HGET', KEYS[4], token)
      if item then
        redis.call('HDEL', KEYS[4], token)
        redis.call('ZREM', KEYS[3], token)
        outcomes[i + 1] = 1
        -- The copy's latest checkpoint: the one it carries, else the one stored with its lease.
        local checkpoint = ARGV[a + 5]
        if checkpoint ~= '' then
          checkpoint = string.sub(checkpoint, 2)
          redis.call('HDEL', KEYS[18], token)
        else
          checkpoint = redis.call('HGET', KEYS[18], token)
          if checkpoint then redis.call('HDEL', KEYS[18], token) end
        end
        if kind == 'r' then
          redis.call('LREM', KEYS[2], -1, item)
          redis.call('LPUSH', KEYS[1], item)
          if checkpoint then redis.call('HSET', KEYS[16], item, checkpoint) end
        else
          redis.call('LREM', KEYS[2], 1, item)
          local attempts = redis.call('HINCRBY', KEYS[5], ARGV[a + 2], 1)
          redis.call('HSET', KEYS[6], ARGV[a + 2], ARGV[a + 3])
          if ARGV[a + 4] == 'dead' then
            dead_letter(KEYS[11], KEYS[19], item, ARGV[a + 2])
            redis.call('HDEL', KEYS[12], item)
          else
            redis.call('HSET', KEYS[12], item, attempts)
            if checkpoint then redis.call('HSET', KEYS[16], item, checkpoint) end
            local seq = redis.call('INCR', KEYS[10])
            redis.call('ZADD', KEYS[9], now + tonumber(ARGV[a + 4]), string.format('%016x', seq) .. ':' .. item)
            scheduled = scheduled + 1
          end
        end
      else
        outcomes[i + 1] = 0
      end
    end
  end
  if #results > 0 then
    local worker = string.sub(ARGV[3], 1, -2)
    for _, r in ipairs(results) do
      redis.call('XADD', KEYS[7], '*', 'item', r[1], 'result', r[2], 'attempt', r[3], 'worker', worker)
    end
    if results.bound then
      local dropped = redis.call('XTRIM', KEYS[7], 'MAXLEN', '=', results.bound)
      if dropped > 0 then redis.call('INCRBY', KEYS[17], dropped) end
    end
  end
  if done > 0 then redis.call('INCRBY', KEYS[8], done) end
  if n > 0 then
    redis.call('HSET', KEYS[13], ARGV[3], callId .. '|' .. before .. table.concat(outcomes))
  end
end

return { outcomes, taken, oversize,
         { redis.call('LLEN', KEYS[1]), redis.call('LLEN', KEYS[2]), redis.call('ZCARD', KEYS[9]) },
         { paused, cancelled, wait } }
"""#, bound: .budgeted(
        "take and its promotion of due retries: each at most ARGV[2] items and ARGV[6] bytes after one; "
            + "settlements: paged by the caller (settlementsPerCall, replyByteBudget)"))
}

extension RedisScript {
    /// The hot path: takes a batch of items and settles a batch of leases, in one atomic call;
    /// its Swift counterpart is `RedisQueue.exchangeCall`.
    ///
    /// Keys: see `keys:` (``QueueKey`` says what each holds).
    /// ARGV, the call's values once: 1 lease ms, 2 most items to take, 3 token prefix
    /// (`<session>:`), 4 first token number, 5 item size limit in bytes, 6 take byte budget (the
    /// take stops once the items it took reach it, after at least one), 7 the largest item
    /// returned inline (a larger one is returned as its size: the caller reads it with a plain
    /// `HMGET` of the lease items, outside the script), 8 the rate limit's interval between
    /// items in µs (0: no limit), 9 its burst (items at once at most), 10 call id (names the
    /// caller's logical call; the same on a retry), 11 offset of these settlements within that
    /// call, 12 the results bound (records kept; empty: none), 13 number of settlements S; then
    /// each settlement, each value a field of its own, led by its kind. `p` (a plain completion:
    /// nothing to record, no attempts to clear) is followed by its token alone
    /// (``plainCompletionFields`` in all); `c` (a completion that records a result or clears
    /// attempts), `f` (fail) and `r` (release) by ``exchangeFields`` in all: kind, token, the
    /// item's SHA-224 hex (a completion sends it only when it clears the item's attempts and
    /// error), text (the result, or the error), attempt (a completion with a result to record:
    /// the lease's attempt; empty: records nothing), delay (a failure: the retry delay in ms;
    /// empty: dead-letter it), has checkpoint (`1` or empty), checkpoint (release and fail: the
    /// copy's latest checkpoint; without one, the one stored under its token, if any, is used). Each recorded result is one entry of the results stream
    /// (fields item, result, attempt, worker = the session), which is then trimmed exactly to
    /// the bound; what the trim dropped is added to the dropped counter.
    /// Returns { outcomes (a string, one byte per settlement: `1` settled, `0` lease not held),
    /// items (each taken item, or its size when it is larger than ARGV[7], in token order),
    /// token numbers (empty when the items' tokens are ARGV[3] followed by ARGV[4], ARGV[4] + 1, ...
    /// in order, as a take's are; a retried take that finds some leases gone lists each
    /// item's number), extras (position in items (1-based), attempts so far, checkpoint or nil,
    /// for each item that has attempts or a checkpoint; none for the others), sizes of items
    /// dead-lettered for their size, { pending, in flight (the entries of `NAME:processing`,
    /// which only `rediswq.py` workers put there, plus our leases), scheduled }, { paused 0/1,
    /// cancelled 0/1, ms to wait before taking again when the rate limit cut the take short
    /// (else 0) } }. No tokens and no per-item attempts: a reply element costs Lua, Redis's
    /// encoding and the client's parsing for each item.
    ///
    /// Nothing here reads an item's bytes: items are moved, stored and compared by Redis
    /// itself; hashes come from the caller. A call whose first token already exists was a
    /// retry of a take that happened: it returns that take again (its leases extended) instead
    /// of taking more; settlements whose call id and offset the session's record already
    /// covers were applied by a call whose reply was lost: their recorded outcomes are returned
    /// and nothing is applied twice. No Lua `unpack` gets more than 1000 values (its limit is
    /// about 8000), whatever the caller sends. The take pops each item off `NAME` (`LPOP`, one
    /// at a time: the byte budget is checked after each) into `NAME:lease-items` alone: our
    /// leases leave no entry in `NAME:processing`, so that a settlement finds its item by its
    /// token in constant time, whatever other workers hold (docs/redis.md, "Our leases and
    /// NAME:processing"). Failures and releases are settled one by one by ``settleFunction``, the results of
    /// completions recorded by ``resultsFunction``. Plain completions read nothing: one `ZREM`
    /// of their deadlines counts the leases held (every script writes and removes a lease's
    /// deadline and its record together), and only a short count reads the records (`HMGET`,
    /// before their `HDEL`) for each one's outcome. A take that leaves more than 64 leases
    /// in `NAME:lease-items` first sets, for the length of the call, a placeholder field
    /// `<session>:` with a 1 KiB value there: that turns a hash Redis keeps as a listpack
    /// (searched from its start by every field's `HSET`, `HMGET`, `HDEL`) into a hash table.
    static let exchange = RedisScript(
        name: "exchange",
        keys: [.pending, .processing, .leases, .leaseItems, .attempts, .errors, .results, .completed, .retry, .retrySeq, .dead,
               .retried, .exchanges, .control, .rate, .checkpoints, .resultsDropped, .leaseCheckpoints, .deadPreviews],
        checks: [.pending, .processing, .leases, .leaseItems, .attempts, .leaseCheckpoints, .dead],
        functions: [RedisScript.deadLetterFunction, RedisScript.rateLimitFunction, RedisScript.replayFunction,
                    RedisScript.settleFunction, RedisScript.resultsFunction], source: #"""
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease_ms, most, prefix, first = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local size_limit, take_bytes, inline = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local interval, burst = tonumber(ARGV[8]), tonumber(ARGV[9])
local call_id, offset, results_max, n = ARGV[10], tonumber(ARGV[11]), tonumber(ARGV[12]), tonumber(ARGV[13])
-- One pass over the settlements. Where settlement i (1-based) starts: ARGV[at[i] + TOKEN] is
-- its token. A plain completion (`p`) is its kind and token; any other settlement has all
-- eight fields. `plain`: the tokens of plain completions; `full`: the positions of the other
-- completions (`c`) and `full_tokens` their tokens; `all`: the tokens of every completion.
local KIND, TOKEN, SHA, TEXT, ATTEMPT, DELAY, HAS_CHECKPOINT, CHECKPOINT = 0, 1, 2, 3, 4, 5, 6, 7
local at, next_at, records, others = {}, 14, false, false
local plain, full, full_tokens, all, np, na = {}, {}, {}, {}, 0, 0
for i = 1, n do
  local kind = ARGV[next_at]
  at[i] = next_at
  if kind == 'p' then
    local token = ARGV[next_at + TOKEN]
    np, na = np + 1, na + 1
    plain[np], all[na] = token, token
    next_at = next_at + 2
  else
    if kind == 'c' then
      if ARGV[next_at + ATTEMPT] ~= '' then records = true end
      local token = ARGV[next_at + TOKEN]
      full[#full + 1], full_tokens[#full_tokens + 1] = i, token
      na = na + 1
      all[na] = token
    else
      others = true
    end
    next_at = next_at + 8
  end
end
-- Calls a command on `key` with the values of `list`, at most 1000 per call; returns the sum
-- of the replies.
local function each(command, key, list)
  local sum = 0
  for i = 1, #list, 1000 do sum = sum + redis.call(command, key, unpack(list, i, math.min(i + 999, #list))) end
  return sum
end
-- Redis 7 says which commands the user may run: a user without one the hot path writes with
-- gets the refusal before anything is written, never half way (a completion that ended the
-- lease's record but not its deadline would lose the item).
-- (Each check a plain call, no tables: the list is built only to name a refused command.)
if redis.acl_check_cmd then
  local check = redis.acl_check_cmd
  if not (check('LPOP', pending) and check('ZADD', leases, '0', 'x') and check('HSET', lease_items, 'x', 'x')
          and check('HMGET', lease_items, 'x') and check('ZREM', leases, 'x') and check('HDEL', lease_items, 'x')
          and check('INCRBY', completed, '1') and check('HSET', exchanges, 'x', 'x')) then
    local needs = { { 'LPOP', pending }, { 'ZADD', leases, '0', 'x' }, { 'HSET', lease_items, 'x', 'x' },
                    { 'HMGET', lease_items, 'x' }, { 'ZREM', leases, 'x' }, { 'HDEL', lease_items, 'x' },
                    { 'INCRBY', completed, '1' }, { 'HSET', exchanges, 'x', 'x' } }
    for _, c in ipairs(needs) do
      if not check(unpack(c)) then
        return redis.error_reply('NOPERM this user has no permissions to run the \'' .. string.lower(c[1])
          .. '\' command (script exchange checks before it writes)')
      end
    end
  end
end
-- Reads before any write (with the prelude's): a wrong type fails the call unchanged.
local any_retried = redis.call('HLEN', retried) > 0
local scheduled = redis.call('ZCARD', retry)
local any_checkpoint = redis.call('HLEN', checkpoints) > 0
-- The results stream is read (its type checked) only by a call that records a result.
if records then redis.call('XLEN', results) end
-- The settlements a lost reply already applied: `replay` holds their outcomes.
local replay, before = replayed(exchanges, prefix, call_id, offset, n)
-- Take first, then settle: the lease structures stay large between calls instead of
-- emptying and being rebuilt (and re-encoded) on every call.
-- The reply's items (or their sizes), in token order: a take's tokens are `prefix`..first,
-- first + 1, ... (an item dead-lettered for its size uses none), so the reply carries no
-- tokens but where a retried take skips some (`numbers`: then each item's token number);
-- `extras`: position, attempts so far, checkpoint (or false) of each item that has either.
local items, numbers, extras, oversize = {}, {}, {}, {}
local function note(position, attempts, checkpoint)
  extras[#extras + 1] = position
  extras[#extras + 1] = attempts
  extras[#extras + 1] = checkpoint or false
end
local marks = redis.call('HMGET', control, 'paused', 'cancelled')
local paused, cancelled = marks[1] and 1 or 0, marks[2] and 1 or 0
local wait, deadline = 0, now + lease_ms
if most > 0 and redis.call('HEXISTS', lease_items, prefix .. first) == 1 then
  -- A retried take: hand the same leases out again, each with a full lease.
  for i = 0, most - 1 do
    local token = prefix .. (first + i)
    local item = redis.call('HGET', lease_items, token)
    if item then
      redis.call('ZADD', leases, 'XX', deadline, token)
      local k = #items + 1
      items[k], numbers[k] = #item > inline and #item or item, first + i
      local attempts = any_retried and tonumber(redis.call('HGET', retried, item) or '0') or 0
      local checkpoint = redis.call('HGET', lease_checkpoints, token)
      if attempts > 0 or checkpoint then note(k, attempts, checkpoint) end
    end
  end
elseif most > 0 and paused == 0 and cancelled == 0 then
  local limit = rate_limit(rate, t, interval, burst, most)
  most = limit.most
  local waiting = most > 0 and redis.call('LLEN', pending) or 0
  if waiting == 0 and most > 0 and scheduled > 0 then
    -- Due retries, within the take's own count and byte budget.
    local promoted = promote(budget(most, take_bytes), retry, pending, now)
    if promoted > 0 then any_retried, waiting = true, promoted end
  end
  -- Numbers go to Redis as strings made once (a Lua number becomes a string through the
  -- float formatting of printf, per value): the deadline once per call, each token with `%d`.
  local scores, records, k, score = {}, {}, 0, string.format('%d', deadline)
  -- The shared budget's rule (budgetPrelude's `room`: at most `take_most` items, and none once
  -- their bytes reach `take_bytes`, after the first) in two locals: the hot path's loop
  -- calls no function per item (room and spend cost about 0.2 µs an item here).
  local take_most, used = math.min(most, waiting), 0
  -- No LPOP on an empty list: a take with nothing pending writes nothing (and so works
  -- while Redis refuses writes, e.g. OOM). An item over the size limit spends the budget
  -- too: its one read (LPOP) and its one write (the dead letter).
  for _ = 1, take_most do
    if used >= take_bytes then break end
    local item = redis.call('LPOP', pending)
    if not item then break end
    used = used + #item
    if #item > size_limit then
      dead_letter(dead, dead_previews, item, nil)
      oversize[#oversize + 1] = #item
    else
      local token = string.format('%s%d', prefix, first + k)
      k = k + 1
      scores[2 * k - 1], scores[2 * k] = score, token
      records[2 * k - 1], records[2 * k] = token, item
      items[k] = #item > inline and #item or item
      -- A redelivered copy's checkpoint goes to this lease alone.
      local checkpoint = any_checkpoint and redis.call('HGET', checkpoints, item)
      if checkpoint then
        redis.call('HDEL', checkpoints, item)
        redis.call('HSET', lease_checkpoints, token, checkpoint)
        any_checkpoint = redis.call('HLEN', checkpoints) > 0
      end
      local attempts = any_retried and tonumber(redis.call('HGET', retried, item) or '0') or 0
      if attempts > 0 or checkpoint then note(k, attempts, checkpoint) end
    end
  end
  if k > 0 then
    each('ZADD', leases, scores)
    -- A hash of up to hash-max-listpack-entries fields (512 by default) is kept as one
    -- listpack, which every HSET, HMGET and HDEL searches from its start: one worker's few
    -- hundred leases would cost each call a scan per field. A value above
    -- hash-max-listpack-value (64 bytes by default) turns it into a real hash table (it stays
    -- one until the hash is emptied): a placeholder field `<session>:` (no token: a token ends
    -- in its number) carries such a value for the length of this call, never seen outside it.
    local big = k + redis.call('HLEN', lease_items) > 64
    if big then redis.call('HSET', lease_items, prefix, string.rep('----------------', 64)) end
    each('HSET', lease_items, records)
    if big then redis.call('HDEL', lease_items, prefix) end
  end
  rate_spend(rate, limit, k, pending)
  wait = limit.wait
end

local outcomes = replay
if not replay then
  -- Completions first, batched (the hot path), then failures and releases one by one.
  -- `result[i]`: the outcome of settlement i, '1' settled or '0' lease not held (a plain
  -- completion's only when some plain completion's lease was not held).
  local result, recorded, done = {}, {}, 0
  -- A completion that records a result or clears attempts needs its item.
  for c = 1, #full, 1000 do
    local last = math.min(c + 999, #full)
    local got = redis.call('HMGET', lease_items, unpack(full_tokens, c, last))
    for j = c, last do
      local i, item = full[j], got[j - c + 1]
      local a = at[i]
      result[i] = item and '1' or '0'
      if item then
        done = done + 1
        if ARGV[a + ATTEMPT] ~= '' then recorded[#recorded + 1] = { item, ARGV[a + TEXT], ARGV[a + ATTEMPT] } end
        local sha = ARGV[a + SHA]
        if sha ~= '' then
          redis.call('HDEL', attempts, sha)
          redis.call('HDEL', errors, sha)
          redis.call('HDEL', retried, item)
        end
      end
    end
  end
  -- A plain completion needs no item: a lease's deadline (NAME:leases) and its record
  -- (NAME:lease-items) are written and removed together, by every script, so ZREM's count
  -- of deadlines removed says whether every lease was held. Only when it falls short are the
  -- records read (before they are deleted) for each one's outcome.
  local held = each('ZREM', leases, plain)
  if held < #plain then
    held = 0
    local i = 0
    for c = 1, #plain, 1000 do
      local got = redis.call('HMGET', lease_items, unpack(plain, c, math.min(c + 999, #plain)))
      for g = 1, #got do
        repeat i = i + 1 until ARGV[at[i] + KIND] == 'p'
        result[i] = got[g] and '1' or '0'
        if got[g] then held = held + 1 end
      end
    end
  end
  done = done + held
  if #full_tokens > 0 then each('ZREM', leases, full_tokens) end
  if #all > 0 then
    -- The deadline first, the record last: a call refused in between leaves the item's record.
    each('HDEL', lease_items, all)
    if redis.call('HLEN', lease_checkpoints) > 0 then each('HDEL', lease_checkpoints, all) end
  end
  if others then
    for i = 1, n do
      local a = at[i]
      local kind = ARGV[a + KIND]
      if kind ~= 'p' and kind ~= 'c' then
        local carried = ARGV[a + HAS_CHECKPOINT] == '1' and ARGV[a + CHECKPOINT] or nil
        result[i] = settle(kind, ARGV[a + TOKEN], ARGV[a + SHA], ARGV[a + TEXT], ARGV[a + DELAY], carried, now) == 1
          and '1' or '0'
      end
    end
  end
  if #full == 0 and not others and held == #plain then
    outcomes = string.rep('1', n)
  else
    for i = 1, n do result[i] = result[i] or '1' end
    outcomes = table.concat(result)
  end
  record_results(results, results_dropped, recorded, string.sub(prefix, 1, -2), results_max)
  if done > 0 then redis.call('INCRBY', completed, done) end
  if n > 0 then redis.call('HSET', exchanges, prefix, call_id .. '|' .. before .. outcomes) end
end

return { outcomes, items, numbers, extras, oversize,
         { redis.call('LLEN', pending), redis.call('LLEN', processing) + redis.call('HLEN', lease_items),
           redis.call('ZCARD', retry) },
         { paused, cancelled, wait } }
"""#, bound: .budgeted(
        "take and its promotion of due retries: each at most ARGV[2] items and ARGV[6] bytes after one; "
            + "settlements: paged by the caller (settlementsPerCall, replyByteBudget)"))

    /// The ARGV fields of one settlement of ``exchange`` (but a plain completion's).
    static let exchangeFields = 8

    /// The ARGV fields of one plain completion of ``exchange`` (kind `p` and the token).
    static let plainCompletionFields = 2
}

/// The Lua scripts of ``RedisQueue``. Each one checks the type of every key it writes before
/// writing anything, and fails with `WQTYPE\t<key>\t<actual>\t<expected>` otherwise.
enum RedisScripts {
    /// The type check every writing script starts with.
    static let typeCheck = #"""
local function wq_check(pairs_)
  for i = 1, #pairs_, 2 do
    local t = redis.call('TYPE', pairs_[i]).ok
    if t ~= 'none' and t ~= pairs_[i + 1] then
      return 'WQTYPE\t' .. pairs_[i] .. '\t' .. t .. '\t' .. pairs_[i + 1]
    end
  end
  return nil
end
"""#

    /// SHA-224 in Redis Lua's `bit` library, for the scripts that must derive a lease key from
    /// an item they pop (the client cannot know the item in advance). Building its tables costs
    /// every call, so only ``lease`` and ``sha`` carry it.
    static let sha224 = #"""
local wq_k = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2 }
local function wq_sha224(msg)
  local band, bor, bxor, bnot, rshift, lshift, ror, tobit = bit.band, bit.bor, bit.bxor, bit.bnot, bit.rshift, bit.lshift, bit.ror, bit.tobit
  local h = { tobit(0xc1059ed8), tobit(0x367cd507), tobit(0x3070dd17), tobit(0xf70e5939),
              tobit(0xffc00b31), tobit(0x68581511), tobit(0x64f98fa7), tobit(0xbefa4fa4) }
  local ml = #msg
  local bits = ml * 8
  local hi = math.floor(bits / 4294967296)
  local lo = bits % 4294967296
  msg = msg .. '\128' .. string.rep('\0', (55 - ml) % 64)
    .. string.char(band(rshift(hi, 24), 255), band(rshift(hi, 16), 255), band(rshift(hi, 8), 255), band(hi, 255))
    .. string.char(math.floor(lo / 16777216) % 256, math.floor(lo / 65536) % 256, math.floor(lo / 256) % 256, lo % 256)
  local w = {}
  for chunk = 1, #msg, 64 do
    for i = 0, 15 do
      local b1, b2, b3, b4 = string.byte(msg, chunk + i * 4, chunk + i * 4 + 3)
      w[i] = bor(lshift(b1, 24), lshift(b2, 16), lshift(b3, 8), b4)
    end
    for i = 16, 63 do
      local x, y = w[i - 15], w[i - 2]
      local s0 = bxor(ror(x, 7), ror(x, 18), rshift(x, 3))
      local s1 = bxor(ror(y, 17), ror(y, 19), rshift(y, 10))
      w[i] = tobit(w[i - 16] + s0 + w[i - 7] + s1)
    end
    local a, b, c, d, e, f, g, hh = h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8]
    for i = 0, 63 do
      local S1 = bxor(ror(e, 6), ror(e, 11), ror(e, 25))
      local ch = bxor(band(e, f), band(bnot(e), g))
      local t1 = tobit(hh + S1 + ch + tobit(wq_k[i + 1]) + w[i])
      local S0 = bxor(ror(a, 2), ror(a, 13), ror(a, 22))
      local maj = bxor(band(a, b), band(a, c), band(b, c))
      local t2 = tobit(S0 + maj)
      hh = g; g = f; f = e; e = tobit(d + t1); d = c; c = b; b = a; a = tobit(t1 + t2)
    end
    h[1] = tobit(h[1] + a); h[2] = tobit(h[2] + b); h[3] = tobit(h[3] + c); h[4] = tobit(h[4] + d)
    h[5] = tobit(h[5] + e); h[6] = tobit(h[6] + f); h[7] = tobit(h[7] + g); h[8] = tobit(h[8] + hh)
  end
  local out = {}
  for i = 1, 7 do out[i] = bit.tohex(h[i], 8) end
  return table.concat(out)
end

"""#

    /// SHA-224 of ARGV[1] (for tests).
    /// Both helpers.
    static let prelude = typeCheck + "\n" + sha224

    static let sha = prelude + "\n" + "return wq_sha224(ARGV[1])"

    /// KEYS: pending, processing, attempts. ARGV: max, session, lease ms, lease key prefix.
    /// Returns a flat array: item, attempts recorded so far, ...
    static let lease = prelude + "\n" + #"""
local e = wq_check({KEYS[1], 'list', KEYS[2], 'list', KEYS[3], 'hash'})
if e then return redis.error_reply(e) end
local out = {}
for i = 1, tonumber(ARGV[1]) do
  local item = redis.call('LPOP', KEYS[1])
  if not item then break end
  local hash = wq_sha224(item)
  redis.call('RPUSH', KEYS[2], item)
  redis.call('SET', ARGV[4] .. hash, ARGV[2], 'PX', ARGV[3])
  local n = redis.call('HGET', KEYS[3], hash)
  out[#out + 1] = item
  out[#out + 1] = tonumber(n or '0') or 0
end
return out
"""#

    /// KEYS: lease keys. ARGV: session, ms. Returns 1/0 per key.
    static let renew = #"""
local out = {}
for i = 1, #KEYS do
  local t = redis.call('TYPE', KEYS[i]).ok
  if t == 'string' and redis.call('GET', KEYS[i]) == ARGV[1] then
    redis.call('PEXPIRE', KEYS[i], ARGV[2])
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
"""#

    /// Ownership rule shared by complete/fail/release. KEYS[1] processing, KEYS[2] lease key.
    /// ARGV[1] item, ARGV[2] session. Leaves `owned`/`lost` set.
    static let ownership = #"""
local lt = redis.call('TYPE', KEYS[2]).ok
local owner = false
if lt == 'string' then owner = redis.call('GET', KEYS[2]) end
if owner and owner ~= ARGV[2] then return 0 end
"""#

    /// KEYS: processing, lease, attempts, errors, results, completed. ARGV: item, session,
    /// hash, hasResult ("1"/"0"), result. Returns 1 settled, 0 lease lost.
    static let complete = typeCheck + "\n" + #"""
local e = wq_check({KEYS[1], 'list', KEYS[3], 'hash', KEYS[4], 'hash', KEYS[5], 'hash', KEYS[6], 'string'})
if e then return redis.error_reply(e) end
"""# + "\n" + ownership + "\n" + #"""
local removed = redis.call('LREM', KEYS[1], 1, ARGV[1])
if removed == 0 and not owner then return 0 end
if owner then redis.call('DEL', KEYS[2]) end
redis.call('HDEL', KEYS[3], ARGV[3])
redis.call('HDEL', KEYS[4], ARGV[3])
if ARGV[4] == '1' then redis.call('HSET', KEYS[5], ARGV[3], ARGV[5]) end
redis.call('INCR', KEYS[6])
return 1
"""#

    /// KEYS: processing, lease, attempts, errors, retry, dead, retry seq. ARGV: item, session,
    /// hash, error, mode ("retry"/"dead"), delay ms.
    static let fail = typeCheck + "\n" + #"""
local e = wq_check({KEYS[1], 'list', KEYS[3], 'hash', KEYS[4], 'hash', KEYS[5], 'zset', KEYS[6], 'list', KEYS[7], 'string'})
if e then return redis.error_reply(e) end
"""# + "\n" + ownership + "\n" + #"""
local removed = redis.call('LREM', KEYS[1], 1, ARGV[1])
if removed == 0 and not owner then return 0 end
if owner then redis.call('DEL', KEYS[2]) end
redis.call('HINCRBY', KEYS[3], ARGV[3], 1)
redis.call('HSET', KEYS[4], ARGV[3], ARGV[4])
if ARGV[5] == 'retry' then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local seq = redis.call('INCR', KEYS[7])
  redis.call('ZADD', KEYS[5], now + tonumber(ARGV[6]), string.format('%016x', seq) .. ':' .. ARGV[1])
else
  redis.call('RPUSH', KEYS[6], ARGV[1])
end
return 1
"""#

    /// KEYS: processing, lease, pending. ARGV: item, session.
    static let release = #"""
for _, p in ipairs({{KEYS[1], 'list'}, {KEYS[3], 'list'}}) do
  local t = redis.call('TYPE', p[1]).ok
  if t ~= 'none' and t ~= p[2] then return redis.error_reply('WQTYPE\t' .. p[1] .. '\t' .. t .. '\t' .. p[2]) end
end
"""# + "\n" + ownership + "\n" + #"""
local removed = redis.call('LREM', KEYS[1], 1, ARGV[1])
if removed == 0 and not owner then return 0 end
if owner then redis.call('DEL', KEYS[2]) end
redis.call('LPUSH', KEYS[3], ARGV[1])
return 1
"""#

    /// KEYS: pending, processing, retry, dead, completed. Returns the five counts.
    static let counts = typeCheck + "\n" + #"""
local e = wq_check({KEYS[1], 'list', KEYS[2], 'list', KEYS[3], 'zset', KEYS[4], 'list', KEYS[5], 'string'})
if e then return redis.error_reply(e) end
return { redis.call('LLEN', KEYS[1]), redis.call('LLEN', KEYS[2]), redis.call('ZCARD', KEYS[3]),
         redis.call('LLEN', KEYS[4]), tonumber(redis.call('GET', KEYS[5]) or '0') or 0 }
"""#

    /// KEYS: processing, lease, attempts, errors, pending, dead. ARGV: item, hash, maxAttempts,
    /// message. Returns 0 skipped, 1 requeued, 2 dead-lettered.
    static let recover = typeCheck + "\n" + #"""
local e = wq_check({KEYS[1], 'list', KEYS[3], 'hash', KEYS[4], 'hash', KEYS[5], 'list', KEYS[6], 'list'})
if e then return redis.error_reply(e) end
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
local n = redis.call('HINCRBY', KEYS[3], ARGV[2], 1)
if n >= tonumber(ARGV[3]) then
  redis.call('RPUSH', KEYS[6], ARGV[1])
  redis.call('HSET', KEYS[4], ARGV[2], string.format(ARGV[4], n))
  return 2
end
redis.call('RPUSH', KEYS[5], ARGV[1])
return 1
"""#

    /// KEYS: retry, pending. Moves due members to pending. Returns how many.
    static let promote = typeCheck + "\n" + #"""
local e = wq_check({KEYS[1], 'zset', KEYS[2], 'list'})
if e then return redis.error_reply(e) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 1000)
for _, m in ipairs(due) do
  redis.call('RPUSH', KEYS[2], string.sub(m, 18))
  redis.call('ZREM', KEYS[1], m)
end
return #due
"""#

    /// KEYS: dead, pending, attempts, errors. Moves every dead letter to pending.
    static let retryDead = prelude + "\n" + #"""
local e = wq_check({KEYS[1], 'list', KEYS[2], 'list', KEYS[3], 'hash', KEYS[4], 'hash'})
if e then return redis.error_reply(e) end
local items = redis.call('LRANGE', KEYS[1], 0, -1)
for _, item in ipairs(items) do
  local hash = wq_sha224(item)
  redis.call('HDEL', KEYS[3], hash)
  redis.call('HDEL', KEYS[4], hash)
  redis.call('RPUSH', KEYS[2], item)
end
redis.call('DEL', KEYS[1])
return #items
"""#

    /// KEYS: dead. Deletes it; returns how many it held.
    static let purgeDead = typeCheck + "\n" + #"""
local e = wq_check({KEYS[1], 'list'})
if e then return redis.error_reply(e) end
local n = redis.call('LLEN', KEYS[1])
redis.call('DEL', KEYS[1])
return n
"""#
}

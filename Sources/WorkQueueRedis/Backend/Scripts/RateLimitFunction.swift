extension RedisScript {
    /// Not a script: the fleet-wide rate limit (GCRA) of the take, put before the body of
    /// ``exchange``: at most `burst` items at once, then one per `interval` µs.
    ///
    /// `rate_limit(rate, time, interval, burst, most)`: `rate` the key of the limit's state (the
    /// theoretical arrival time, µs of the Redis clock), `time` the reply of `TIME`; returns the
    /// limit's state, with `most` cut to what the limit allows now (`interval` 0: no limit, `most`
    /// as given). `rate_spend(rate, limit, taken, pending)`: after a take of `taken` items,
    /// moves the arrival time on (the key expires 1 s after it has passed) and sets
    /// `limit.wait` to the ms until the next item may start when the limit cut the take short
    /// with items still pending in the list `pending` (else 0).
    static let rateLimitFunction = #"""
local function rate_limit(rate, time, interval, burst, most)
  local limit = { most = most, wait = 0, cut = false }
  if interval <= 0 then return limit end
  limit.interval, limit.now = interval, tonumber(time[1]) * 1000000 + tonumber(time[2])
  limit.tat = math.max(tonumber(redis.call('GET', rate) or '0') or 0, limit.now)
  limit.tolerance = interval * (math.max(1, burst) - 1)
  local ahead, slots = limit.tat - limit.now, 0
  if ahead <= limit.tolerance then slots = math.floor((limit.tolerance - ahead) / interval) + 1 end
  if slots < most then limit.most, limit.cut = slots, true end
  return limit
end
local function rate_spend(rate, limit, taken, pending)
  if not limit.tat then return end
  if taken > 0 then
    limit.tat = limit.tat + taken * limit.interval
    redis.call('SET', rate, string.format('%.0f', limit.tat), 'PX', math.floor((limit.tat - limit.now) / 1000) + 1000)
  end
  if limit.cut and taken == limit.most and redis.call('LLEN', pending) > 0 then
    limit.wait = math.max(1, math.ceil((limit.tat - limit.tolerance - limit.now) / 1000))
  end
end

"""#
}

extension RedisScript {
    /// Records, refreshes or removes one worker's heartbeat record, and drops records whose time
    /// ran out (at most 100 per call), in one step. Called by each worker at start, every
    /// heartbeat interval (5 s) and on a clean exit: its cost does not depend on the queue.
    ///
    /// Keys (by name, see `keys:`): workers (zset: session -> the record's expiry, ms of the Redis clock),
    ///       worker info (hash: session -> the record, a JSON object),
    ///       exchanges (hash: `<session>:` -> the session's last exchange record; dropped with
    ///       the session's heartbeat record).
    /// ARGV: 1 the session, 2 the record's TTL in ms (0: remove the session's record),
    ///       3 the record (ignored when removing).
    /// Returns how many expired records it dropped.
    static let heartbeat = RedisScript(name: "heartbeat", keys: [.workers, .workerInfo, .exchanges], checks: [.workerInfo], source: #"""
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expired = redis.call('ZRANGEBYSCORE', workers, '-inf', now, 'LIMIT', 0, 100)
if #expired > 0 then
  redis.call('HDEL', worker_info, unpack(expired))
  redis.call('ZREM', workers, unpack(expired))
  for _, session in ipairs(expired) do redis.call('HDEL', exchanges, session .. ':') end
end
local ttl = tonumber(ARGV[2])
if ttl > 0 then
  redis.call('ZADD', workers, now + ttl, ARGV[1])
  redis.call('HSET', worker_info, ARGV[1], ARGV[3])
else
  redis.call('ZREM', workers, ARGV[1])
  redis.call('HDEL', worker_info, ARGV[1])
  redis.call('HDEL', exchanges, ARGV[1] .. ':')
end
return #expired
"""#, bound: .noItems)
}

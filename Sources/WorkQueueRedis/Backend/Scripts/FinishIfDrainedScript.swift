extension RedisScript {
    /// The exit-0 decision of a worker, in one step: the queue is drained when pending,
    /// processing and scheduled retries are all empty and no producer holds it open; then
    /// `NAME:drained` is set (the first worker's session stays), so that later pushes are refused.
    ///
    /// KEYS: 1 pending, 2 processing, 3 retry, 4 open, 5 drained.
    /// ARGV: 1 the worker's session.
    /// Returns 1 when drained (the marker is set), 0 when not (nothing is changed).
    static let finishIfDrained = RedisScript(name: "finish-if-drained", source: #"""
if redis.call('LLEN', KEYS[1]) > 0 or redis.call('LLEN', KEYS[2]) > 0 or redis.call('ZCARD', KEYS[3]) > 0
   or redis.call('EXISTS', KEYS[4]) == 1 then
  return 0
end
redis.call('SET', KEYS[5], ARGV[1], 'NX')
return 1
"""#)
}

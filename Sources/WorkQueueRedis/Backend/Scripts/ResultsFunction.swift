extension RedisScript {
    /// Not a script: how ``exchange`` records the results of its completions in the results
    /// stream, put before its body.
    ///
    /// `record_results(results, results_dropped, recorded, worker, results_max)`: adds one
    /// entry to the stream `results` per element `{ item, result, attempt }` of `recorded`
    /// (fields item, result, attempt, worker), in order; then, when it added any and
    /// `results_max` is not nil, trims the stream exactly (`XTRIM MAXLEN =`) to `results_max`
    /// entries and adds what the trim dropped to the counter `results_dropped`. Both keys
    /// among the caller's KEYS.
    static let resultsFunction = #"""
local function record_results(results, results_dropped, recorded, worker, results_max)
  for _, r in ipairs(recorded) do
    redis.call('XADD', results, '*', 'item', r[1], 'result', r[2], 'attempt', r[3], 'worker', worker)
  end
  if #recorded > 0 and results_max then
    local dropped = redis.call('XTRIM', results, 'MAXLEN', '=', results_max)
    if dropped > 0 then redis.call('INCRBY', results_dropped, dropped) end
  end
end

"""#
}

extension RedisScript {
    /// Marks the queue open (being filled) for a while, or refreshes the mark: workers wait
    /// instead of exiting while it lives. Refused when the queue was drained (its workers have
    /// exited) unless the caller reopens it, which deletes `NAME:drained` first.
    ///
    /// KEYS: 1 open, 2 drained.
    /// ARGV: 1 the producer id, 2 the mark's TTL in ms, 3 "1" to reopen a drained queue, else "0".
    /// Returns 1 when the mark is set, -1 when refused (the queue was drained; nothing changed).
    static let open = RedisScript(name: "open", source: #"""
if redis.call('EXISTS', KEYS[2]) == 1 then
  if ARGV[3] ~= '1' then return -1 end
  redis.call('DEL', KEYS[2])
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', tonumber(ARGV[2]))
return 1
"""#)
}

extension RedisScript {
    /// Not a script: how ``exchange`` answers a call retried after its reply was lost.
    ///
    /// `replayed(exchanges, session, call_id, offset, n)`: `exchanges` the hash of each session's
    /// last call (`<session>:` -> `<call id>|<outcomes so far>`). Returns the outcomes (a string
    /// of `1` settled / `0` lease not held) of the `n` settlements at `offset` of call `call_id`
    /// when that call already applied them (else nil), and the outcomes before `offset` to
    /// keep in the record (zeros when the record is of another call).
    static let replayFunction = #"""
local function replayed(exchanges, session, call_id, offset, n)
  if n == 0 then return nil, '' end
  local stored = redis.call('HGET', exchanges, session)
  local bar = stored and string.find(stored, '|', 1, true)
  local before = ''
  if bar and string.sub(stored, 1, bar - 1) == call_id then
    local done = string.sub(stored, bar + 1)
    if #done >= offset + n then return string.sub(done, offset + 1, offset + n), '' end
    if #done == offset then before = done end
  end
  if #before ~= offset then before = string.rep('0', offset) end
  return nil, before
end

"""#
}

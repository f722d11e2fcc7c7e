extension RedisScript {
    /// A page of dead letters as the dashboard shows them (size, SHA-224, first bytes,
    /// attempts, last error), read from their preview records (``deadLetterFunction``) and
    /// never from the letters themselves, so that a call costs what the previews cost whatever
    /// the letters' sizes; changes nothing (`EVALSHA_RO`).
    ///
    /// Keys (by name, see `keys:`): dead, dead previews, errors, attempts.
    /// ARGV: 1 first index, 2 most letters (at most 100), 3 old-letter budget in bytes.
    /// Letters without a record (dead-lettered by an older version: the head of the list
    /// before the records' tail-aligned span) are read whole only when the whole dead list
    /// takes at most ARGV[3] bytes (`MEMORY USAGE`, one pass over the list's nodes, not its
    /// bytes), so that each of them is small; otherwise they are listed with size -1 and no
    /// bytes.
    /// Returns { total (LLEN dead), the index after the page or -1 at the end, then per letter:
    /// size (-1: unknown), SHA-224 hex (empty: unknown), bytes (the record's first bytes, or
    /// an old letter's whole bytes, or false), attempts or false, last error (its first 2000
    /// bytes) or false }.
    static let deadPreviews = RedisScript(name: "dead-previews",
        keys: [.dead, .deadPreviews, .errors, .attempts], functions: [RedisScript.deadPreviewsFunction],
        source: #"""
return dead_page(dead, dead_previews, errors, attempts, tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]))
"""#, bound: .pagedElsewhere("reads at most 100 preview records, and letters of an older version whole only while the whole dead list is at most ARGV[3] bytes; see DeadPreviewTests"))

    /// Not a script: the Lua function both ``deadPreviews`` and ``dashboardSnapshot`` read a
    /// page of dead letters with, `dead_page(dead, previews, errors, attempts, start, most,
    /// old-letter budget)`, returning the reply ``deadPreviews`` describes.
    static let deadPreviewsFunction = #"""
local function dead_page(dead, previews, errors, attempts_key, start, most, budget)
  local total = redis.call('LLEN', dead)
  local recorded = redis.call('LLEN', previews)
  most = math.min(100, most)
  local last = math.min(total, start + most) - 1
  local out = { total, (last + 1 < total) and (last + 1) or -1 }
  if start > last then return out end
  -- Record j (0-based) describes letter j + offset; with more records than letters (records
  -- written by hand, or letters removed by another tool) the oldest records are skipped.
  local offset = total - recorded
  local first = math.max(start, offset)
  local records = {}
  if first <= last then records = redis.call('LRANGE', previews, first - offset, last - offset) end
  local cheap = nil
  for i = start, last do
    local size, sha, bytes = -1, '', false
    if i >= offset then
      local record = records[i - first + 1]
      if record then
        local a = string.find(record, ':', 1, true)
        local b = a and string.find(record, ':', a + 1, true)
        if b then
          size = tonumber(string.sub(record, 1, a - 1)) or -1
          sha = string.sub(record, a + 1, b - 1)
          bytes = string.sub(record, b + 1)
        end
      end
    else
      if cheap == nil then cheap = (redis.call('MEMORY', 'USAGE', dead, 'SAMPLES', 0) or 0) <= budget end
      if cheap then
        local item = redis.call('LINDEX', dead, i)
        if item then size, bytes = #item, item end
      end
    end
    local attempts, err = false, false
    if sha ~= '' then
      attempts = redis.call('HGET', attempts_key, sha)
      err = redis.call('HGET', errors, sha)
      if err then err = string.sub(err, 1, 2000) end
    end
    out[#out + 1] = size
    out[#out + 1] = sha
    out[#out + 1] = bytes
    out[#out + 1] = attempts
    out[#out + 1] = err
  end
  return out
end

"""#
}

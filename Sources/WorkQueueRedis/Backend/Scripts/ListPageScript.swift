extension RedisScript {
    /// A page of a list, bounded by bytes as well as by count, for reading lists whose items
    /// may be large (`NAME:processing` in the orphan scan, `NAME:dead`): a plain `LRANGE` of a
    /// thousand 4 MiB items would be a 4 GB reply.
    ///
    /// Keys (by name, see `keys:`): the list.
    /// ARGV: 1 first index, 2 most items, 3 byte budget: the page stops once its items reach it
    /// (after at least one).
    /// Returns { the index after the page, or -1 when the list ends there, item, item, ... }.
    /// Reads the list in steps sized by the items seen so far (one item first), so that what
    /// the script holds at once stays near the budget too.
    static let listPage = RedisScript(name: "list-page", keys: [], given: ["list"], source: #"""
local index, max, budget = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local out = { -1 }
local bytes, largest, step = 0, 1, 1
while #out - 1 < max and bytes < budget do
  local chunk = redis.call('LRANGE', list, index, index + step - 1)
  if #chunk == 0 then return out end
  for _, item in ipairs(chunk) do
    if #out - 1 >= max or bytes >= budget then break end
    out[#out + 1] = item
    bytes = bytes + #item
    if #item > largest then largest = #item end
    index = index + 1
  end
  step = math.max(1, math.min(128, max - (#out - 1), math.floor((budget - bytes) / largest)))
end
if redis.call('LLEN', list) > index then out[1] = index end
return out
"""#, bound: .pagedElsewhere("reads a page of at most ARGV[2] items and about ARGV[3] bytes; see BoundsTests, DashboardTests"))
}

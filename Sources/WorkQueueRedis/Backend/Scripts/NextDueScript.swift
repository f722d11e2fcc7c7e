extension RedisScript {
    /// How long until the soonest scheduled item (a retry, or an item pushed with a delay) is
    /// due, for `status`: the member itself stays in Redis, only its score is read.
    ///
    /// Keys (by name, see `keys:`): retry.
    /// ARGV: none.
    /// Returns the ms until it is due on the Redis clock (0 or less: due now), or nil when
    /// nothing is scheduled.
    static let nextDue = RedisScript(name: "next-due", keys: [.retry], source: #"""
local first = redis.call('ZRANGEBYSCORE', retry, '-inf', '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
if #first < 2 then return nil end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return tonumber(first[2]) - now
"""#, bound: .pagedElsewhere("one member, the soonest scheduled item, of which only its score leaves the script"))
}

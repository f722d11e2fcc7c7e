extension RedisScript {
    /// Not a script: a Lua function put at the top of every script that dead-letters an item
    /// (`exchange`, `requeue-expired`, `recover-orphan`), so that each dead letter gets its
    /// bounded preview record in `NAME:dead-previews` in the same step (see
    /// ``RedisKeys/deadPreviews``). The record is `<size>:<SHA-224 hex or empty>:<first
    /// ``deadPreviewBytes`` bytes>`: what the dashboard shows, read without the item's bytes
    /// (a list element cannot be read in part, and a 256 MiB one costs seconds in Lua).
    ///
    /// `dead_letter(dead, previews, item, sha)`: RPUSH `item` to the list `dead` and its record
    /// to the list `previews` (both keys among the caller's KEYS); `sha` may be nil or empty
    /// when the caller does not have it (an item dead-lettered for its size). The item is a
    /// Lua string the caller already holds; the function reads only its length and first bytes.
    static let deadLetterFunction = #"""
local function dead_letter(dead, previews, item, sha)
  redis.call('RPUSH', dead, item)
  redis.call('RPUSH', previews, #item .. ':' .. (sha or '') .. ':' .. string.sub(item, 1, 240))
end

"""#

    /// The bytes of a dead letter its preview record keeps.
    static let deadPreviewBytes = 240
}

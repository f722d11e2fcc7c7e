/// The Redis Cluster slot of a key: CRC16 of the key's hash tag (the bytes between the first
/// `{` and the next `}`, when that is not empty) or of the whole key, modulo 16384. Keys that
/// share a hash tag share a slot, so one script may touch them all.
package enum HashSlot {
    /// How many slots a cluster has.
    package static let count = 16384

    /// The slot of `key`.
    package static func of(_ key: some Collection<UInt8>) -> Int {
        Int(CRC16.xmodem(hashed(key)) & 0x3FFF)
    }

    /// The slot of a string key (its UTF-8).
    package static func of(_ key: String) -> Int {
        of(key.utf8)
    }

    /// The part of `key` that is hashed: its hash tag when it has a non-empty one, else all of it.
    package static func hashed<C: Collection<UInt8>>(_ key: C) -> C.SubSequence {
        if let open = key.firstIndex(of: UInt8(ascii: "{")) {
            let afterOpen = key.index(after: open)
            if let close = key[afterOpen...].firstIndex(of: UInt8(ascii: "}")), close != afterOpen {
                return key[afterOpen..<close]
            }
        }
        return key[...]
    }

    /// The hash tag of `key` (without braces), or nil when the whole key is hashed.
    package static func hashTag(_ key: String) -> String? {
        let hashed = hashed(Array(key.utf8))
        return hashed.count == key.utf8.count ? nil : String(decoding: hashed, as: UTF8.self)
    }
}

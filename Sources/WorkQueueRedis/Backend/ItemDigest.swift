/// A short stand-in for an item's bytes, for counting copies of items without keeping them:
/// the length and a 128-bit hash of this process's seeded hasher (two hashers, distinct seeds).
/// Equal items have equal digests; unequal ones collide with negligible probability.
struct ItemDigest: Hashable, Sendable {
    let count: Int
    let first: Int
    let second: Int

    init(_ bytes: [UInt8]) {
        count = bytes.count
        var a = Hasher()
        var b = Hasher()
        b.combine(0x5A17)
        bytes.withUnsafeBytes { raw in
            a.combine(bytes: raw)
            b.combine(bytes: raw)
        }
        first = a.finalize()
        second = b.finalize()
    }
}

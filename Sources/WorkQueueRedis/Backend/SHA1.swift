import CSHA2

/// SHA-1 (FIPS 180-4), to name the Lua scripts the way Redis does (`EVALSHA`) and to let the
/// `purge-dead` script check (with `redis.sha1hex`) that the letters it deletes are the ones
/// read. In C (`csha2_sha1`): dead letters may be megabytes, and debug builds hash them too.
enum SHA1 {
    static func hex(_ bytes: [UInt8]) -> String {
        var digest = [UInt8](repeating: 0, count: 20)
        bytes.withUnsafeBufferPointer { input in
            digest.withUnsafeMutableBufferPointer { output in
                // A non-empty array always has a base address; an empty one is hashed as such.
                let empty: UInt8 = 0
                withUnsafePointer(to: empty) { fallback in
                    csha2_sha1(input.baseAddress ?? fallback, input.count, output.baseAddress)
                }
            }
        }
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(40)
        for byte in digest {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

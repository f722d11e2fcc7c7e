import CSHA2

/// SHA-224 (FIPS 180-4), used to name an item's lease key exactly as `rediswq.py` does.
public enum SHA224 {
    /// The 28-byte digest of `bytes`.
    public static func digest(_ bytes: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 28)
        bytes.withUnsafeBufferPointer { input in
            out.withUnsafeMutableBufferPointer { output in
                // A non-empty array always has a base address; an empty one is hashed as such.
                let empty: UInt8 = 0
                withUnsafePointer(to: empty) { fallback in
                    csha2_sha224(input.baseAddress ?? fallback, input.count, output.baseAddress)
                }
            }
        }
        return out
    }

    /// The digest as 56 lowercase hex digits.
    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef")
        var out = ""
        for byte in digest(bytes) {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0xF)])
        }
        return out
    }

    /// `bytes` padded as SHA-1 and SHA-2 require: 0x80, zeros, then the bit length as 64-bit
    /// big-endian, to a multiple of 64 bytes.
    static func paddedMessage(_ bytes: [UInt8]) -> [UInt8] {
        var message = bytes
        let bitLength = UInt64(bytes.count) &* 8
        message.reserveCapacity(bytes.count + 72)
        message.append(0x80)
        while message.count % 64 != 56 { message.append(0) }
        for shift in stride(from: 56, through: 0, by: -8) { message.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift))) }
        return message
    }
}

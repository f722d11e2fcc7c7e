/// CRC-16/XMODEM (polynomial 0x1021, initial value 0, no reflection, no final XOR): the
/// checksum Redis Cluster hashes keys with (its spec's `crc16`). `"123456789"` gives 0x31C3.
package enum CRC16 {
    /// One entry per byte value: the CRC of that byte shifted through the polynomial.
    private static let table: [UInt16] = (0..<256).map { byte in
        var crc = UInt16(byte) << 8
        for _ in 0..<8 {
            crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1
        }
        return crc
    }

    /// The CRC of `bytes`.
    package static func xmodem(_ bytes: some Sequence<UInt8>) -> UInt16 {
        var crc: UInt16 = 0
        table.withUnsafeBufferPointer { table in
            for byte in bytes {
                crc = (crc << 8) ^ table[Int(UInt8(truncatingIfNeeded: crc >> 8) ^ byte)]
            }
        }
        return crc
    }
}

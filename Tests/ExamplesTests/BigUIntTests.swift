import FactorHandler
import Testing
import TestSupport

/// `BigUInt`, the factorizer's own big integer: checked against `UInt128` where values fit,
/// and by identities (`q·d + r == n`, `r^k <= n < (r+1)^k`, decimal round trips) beyond.
@Suite struct BigUIntTests {
    /// A limb biased towards the edge cases of carries and of Knuth's quotient estimate.
    static func limb(_ random: inout SeededGenerator) -> UInt64 {
        switch random.next() % 8 {
        case 0: 0
        case 1: .max
        case 2: .max - 1
        case 3: 1 << 63
        case 4: 1
        default: random.next()
        }
    }

    /// A value of 0 to 128 bits, of a random length (so small and large values both occur).
    static func uint128(_ random: inout SeededGenerator) -> UInt128 {
        let value = UInt128(limb(&random)) << 64 | UInt128(limb(&random))
        return value >> (random.next() % 129)
    }

    /// A value of `1...maxLimbs` limbs, the top one non-zero.
    static func big(_ random: inout SeededGenerator, maxLimbs: Int) -> BigUInt {
        let count = Int(random.next() % UInt64(maxLimbs)) + 1
        var limbs = (0..<count).map { _ in limb(&random) }
        if limbs[count - 1] == 0 { limbs[count - 1] = random.next() | 1 }
        return BigUInt(limbs: limbs)
    }

    static func reference(_ a: UInt128, times b: UInt128) -> BigUInt {
        let (high, low) = a.multipliedFullWidth(by: b)
        return BigUInt(limbs: [UInt64(truncatingIfNeeded: low), UInt64(truncatingIfNeeded: low >> 64),
                               UInt64(truncatingIfNeeded: high), UInt64(truncatingIfNeeded: high >> 64)])
    }

    @Test func arithmeticMatchesUInt128() {
        var random = SeededGenerator(state: 1)
        for _ in 0..<20_000 {
            let a = Self.uint128(&random), b = Self.uint128(&random)
            let x = BigUInt(a), y = BigUInt(b)
            #expect(x.uint128 == a && x.description == String(a), "a = \(a)")
            #expect(x.bitLength == 128 - a.leadingZeroBitCount)
            #expect((x < y) == (a < b) && (x == y) == (a == b))
            let (sum, overflow) = a.addingReportingOverflow(b)
            #expect(x + y == (overflow ? BigUInt(limbs: [UInt64(truncatingIfNeeded: sum), UInt64(truncatingIfNeeded: sum >> 64), 1])
                                       : BigUInt(sum)), "\(a) + \(b)")
            #expect(BigUInt.distance(x, y) == BigUInt(a > b ? a - b : b - a), "|\(a) - \(b)|")
            #expect(x * y == Self.reference(a, times: b), "\(a) * \(b)")
            if b != 0 {
                let (q, r) = x.quotientAndRemainder(dividingBy: y)
                #expect(q == BigUInt(a / b) && r == BigUInt(a % b), "\(a) / \(b)")
            }
            let shift = Int(random.next() % 128)
            #expect(x >> shift == BigUInt(a >> shift), "\(a) >> \(shift)")
            #expect(x << shift == Self.reference(a, times: 1 << shift), "\(a) << \(shift)")
        }
    }

    @Test func singleLimbDivisionMatchesUInt128() {
        var random = SeededGenerator(state: 2)
        for _ in 0..<20_000 {
            let a = Self.uint128(&random)
            let d = Self.limb(&random) >> (random.next() % 64) | 1
            var x = BigUInt(a)
            #expect(x.remainder(dividingBy: d) == UInt64(a % UInt128(d)))
            let r = x.divide(by: d)
            #expect(x == BigUInt(a / UInt128(d)) && r == UInt64(a % UInt128(d)), "\(a) / \(d)")
        }
    }

    @Test func gcdAndModularPowersMatchUInt128() {
        var random = SeededGenerator(state: 3)
        func gcd(_ a: UInt128, _ b: UInt128) -> UInt128 { b == 0 ? a : gcd(b, a % b) }
        for _ in 0..<5_000 {
            let a = Self.uint128(&random), b = Self.uint128(&random)
            #expect(BigUInt(a).greatestCommonDivisor(with: BigUInt(b)) == BigUInt(gcd(a, b)), "gcd(\(a), \(b))")
            // Moduli below 2^64, so the reference's products fit in 128 bits.
            let modulus = UInt128(random.next() >> (random.next() % 64)) | 1
            let exponent = Self.uint128(&random)
            var expected: UInt128 = modulus == 1 ? 0 : 1
            var square = a % modulus
            var e = exponent
            while e > 0 {
                if e & 1 == 1 { expected = expected * square % modulus }
                square = square * square % modulus
                e >>= 1
            }
            #expect(BigUInt(a).power(BigUInt(exponent), modulus: BigUInt(modulus)) == BigUInt(expected),
                    "\(a)^\(exponent) mod \(modulus)")
        }
    }

    @Test func divisionIdentitiesHoldForMultiLimbValues() {
        var random = SeededGenerator(state: 4)
        for _ in 0..<20_000 {
            let n = Self.big(&random, maxLimbs: 16)
            let d = Self.big(&random, maxLimbs: 10)
            let (q, r) = n.quotientAndRemainder(dividingBy: d)
            #expect(q * d + r == n && r < d, "n = \(n.limbs), d = \(d.limbs)")
        }
        // Knuth D's rare add-back step (qHat one too large after the two-limb test).
        let n = BigUInt(limbs: [0, 0, 0x8000_0000_0000_0000, 0x7FFF_FFFF_FFFF_FFFF])
        let d = BigUInt(limbs: [1, 0, 0x8000_0000_0000_0000])
        let (q, r) = n.quotientAndRemainder(dividingBy: d)
        #expect(q * d + r == n && r < d)
    }

    @Test func ringIdentitiesHoldForMultiLimbValues() {
        var random = SeededGenerator(state: 5)
        for _ in 0..<5_000 {
            let a = Self.big(&random, maxLimbs: 12), b = Self.big(&random, maxLimbs: 12), c = Self.big(&random, maxLimbs: 12)
            #expect(a * (b + c) == a * b + a * c)
            #expect((a + b) - b == a && a * b == b * a)
            #expect((a * b) / b == a && (a * b) % b == 0)
            let shift = Int(random.next() % 200)
            #expect(a << shift == a * BigUInt(2).power(shift) && (a << shift) >> shift == a)
            #expect(a >> shift == a / BigUInt(2).power(shift))
            let g = a.greatestCommonDivisor(with: b)
            #expect(a % g == 0 && b % g == 0 && (a / g).greatestCommonDivisor(with: b / g) == 1)
        }
    }

    @Test func decimalRoundTrips() throws {
        var random = SeededGenerator(state: 6)
        for _ in 0..<2_000 {
            let n = Self.big(&random, maxLimbs: 60)
            #expect(BigUInt(n.description) == n)
            let length = Int(random.next() % 1_000) + 1
            let digits = String((0..<length).map { i in
                Character(String(i == 0 ? random.next() % 9 + 1 : random.next() % 10))
            })
            #expect(try #require(BigUInt(digits)).description == digits)
        }
        #expect(BigUInt("0") == 0 && BigUInt("000") == 0 && BigUInt(limbs: []).description == "0")
        #expect(BigUInt("00012") == 12)
        #expect(BigUInt("10000000000000000000")?.limbs == [10_000_000_000_000_000_000])
        #expect(BigUInt("18446744073709551616")?.limbs == [0, 1])
        #expect(BigUInt(String(repeating: "9", count: 40))?.description == String(repeating: "9", count: 40))
        for bad in ["", "+1", "-1", " 1", "1 ", "1_000", "1.0", "0x10", "١٢", "1e3"] {
            #expect(BigUInt(bad) == nil, "\(bad)")
        }
    }

    @Test func integerRootsBracketTheNumber() throws {
        var random = SeededGenerator(state: 7)
        for _ in 0..<1_000 {
            let n = Self.big(&random, maxLimbs: 12)
            let k = random.next() % 4 == 0 ? Int(random.next() % 200) + 2 : Int(random.next() % 9) + 2
            let r = n.integerRoot(k)
            #expect(r.power(k) <= n && n < (r + 1).power(k), "n = \(n), k = \(k)")
        }
        for _ in 0..<300 {
            let r = Self.big(&random, maxLimbs: 3) + 1
            let k = Int(random.next() % 7) + 2
            #expect(r.power(k).integerRoot(k) == r && (r.power(k) - 1).integerRoot(k) == r - 1, "r = \(r), k = \(k)")
        }
        #expect(BigUInt(0).integerRoot(3) == 0 && BigUInt(1).integerRoot(5) == 1 && BigUInt(7).integerRoot(1) == 7)
        #expect(try #require(BigUInt("1000000000000000001170000000000000000456300000000000000059319")).integerRoot(3)
            == BigUInt("100000000000000000039"))
    }

    @Test func uint128ConversionStopsAt2To128() throws {
        #expect(BigUInt(UInt128.max).uint128 == .max)
        #expect((BigUInt(UInt128.max) + 1).uint128 == nil)
        #expect((BigUInt(UInt128.max) + 1).bitLength == 129)
        #expect(BigUInt(UInt64.max).uint64 == .max && (BigUInt(UInt64.max) + 1).uint64 == nil)
        #expect(BigUInt(0).uint128 == 0 && BigUInt(0).bitLength == 0 && BigUInt(0).limbs.isEmpty)
    }
}

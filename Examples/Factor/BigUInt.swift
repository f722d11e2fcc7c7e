/// An unsigned integer of any size: just what ``PrimeFactorization`` needs, with no Foundation
/// (decimal parsing and printing, comparison, `+ - * / %`, shifts, powers, modular powers, gcd,
/// integer k-th roots, conversion to and from `UInt128`).
///
/// Stored as little-endian 64-bit limbs with no high zero limbs (zero has none), so two equal
/// values have equal limbs. Schoolbook multiplication and Knuth's algorithm D for division:
/// quadratic, which is plenty for the thousand digits ``Factor`` accepts.
public struct BigUInt: Sendable, Hashable, Comparable, ExpressibleByIntegerLiteral, CustomStringConvertible {
    /// Little-endian 64-bit limbs, the most significant one non-zero.
    public private(set) var limbs: [UInt64]

    // MARK: - Creating

    /// Zero.
    public init() { limbs = [] }

    public init(_ value: UInt64) { limbs = value == 0 ? [] : [value] }

    public init(_ value: UInt128) {
        let low = UInt64(truncatingIfNeeded: value), high = UInt64(truncatingIfNeeded: value >> 64)
        limbs = high != 0 ? [low, high] : low != 0 ? [low] : []
    }

    /// `value`, which must not be negative (a programming error, like `UInt(-1)`).
    public init(_ value: Int) {
        precondition(value >= 0, "BigUInt of a negative Int")
        self.init(UInt64(value))
    }

    public init(integerLiteral value: UInt64) { self.init(value) }

    /// The limbs, least significant first; high zero limbs are dropped.
    public init(limbs: [UInt64]) {
        self.limbs = limbs
        normalize()
    }

    /// The decimal number `text`: one or more ASCII digits `0`–`9` and nothing else (no sign,
    /// no whitespace, no underscores), else nil.
    public init?(_ text: some StringProtocol) { self.init(decimalDigits: text.utf8) }

    /// The decimal number in `digits` (ASCII bytes): one or more `0`–`9` and nothing else, else nil.
    public init?(decimalDigits digits: some Collection<UInt8>) {
        guard !digits.isEmpty else { return nil }
        var result = BigUInt()
        var chunk: UInt64 = 0
        var chunkLength = 0
        for byte in digits {
            guard byte >= 0x30, byte <= 0x39 else { return nil }
            chunk = chunk * 10 + UInt64(byte - 0x30)
            chunkLength += 1
            if chunkLength == Self.chunkDigits {
                result.multiplyAndAdd(Self.powersOfTen[chunkLength], chunk)
                chunk = 0
                chunkLength = 0
            }
        }
        if chunkLength > 0 { result.multiplyAndAdd(Self.powersOfTen[chunkLength], chunk) }
        self = result
    }

    /// Decimal digits per limb-sized chunk: 10^19 < 2^64.
    private static let chunkDigits = 19

    /// 10^0 ... 10^19.
    private static let powersOfTen: [UInt64] = (0...chunkDigits).map { k in
        (0..<k).reduce(1) { power, _ in power * 10 }
    }

    // MARK: - Properties

    /// In decimal, without leading zeros.
    public var description: String {
        var rest = self
        var chunks: [UInt64] = []  // least significant first
        while !rest.isZero { chunks.append(rest.divide(by: Self.powersOfTen[Self.chunkDigits])) }
        guard let top = chunks.popLast() else { return "0" }
        var text = String(top)
        for chunk in chunks.reversed() {
            let digits = String(chunk)
            text += String(repeating: "0", count: Self.chunkDigits - digits.count) + digits
        }
        return text
    }

    public var isZero: Bool { limbs.isEmpty }

    /// The number of bits needed to write the value: 0 for zero, 1 for one, 8 for 255.
    public var bitLength: Int {
        guard let top = limbs.last else { return 0 }
        return limbs.count * 64 - top.leadingZeroBitCount
    }

    /// The number of trailing zero bits (0 for zero).
    public var trailingZeroBitCount: Int {
        guard let index = limbs.firstIndex(where: { $0 != 0 }) else { return 0 }
        return index * 64 + limbs[index].trailingZeroBitCount
    }

    /// The value as a `UInt128`, or nil when it is 2^128 or more.
    public var uint128: UInt128? {
        switch limbs.count {
        case 0: 0
        case 1: UInt128(limbs[0])
        case 2: UInt128(limbs[1]) << 64 | UInt128(limbs[0])
        default: nil
        }
    }

    /// The value as a `UInt64`, or nil when it is 2^64 or more.
    public var uint64: UInt64? {
        switch limbs.count {
        case 0: 0
        case 1: limbs[0]
        default: nil
        }
    }

    private mutating func normalize() {
        while limbs.last == 0 { limbs.removeLast() }
    }

    // MARK: - Comparing

    public static func < (a: BigUInt, b: BigUInt) -> Bool {
        if a.limbs.count != b.limbs.count { return a.limbs.count < b.limbs.count }
        var i = a.limbs.count - 1
        while i >= 0 {
            if a.limbs[i] != b.limbs[i] { return a.limbs[i] < b.limbs[i] }
            i -= 1
        }
        return false
    }

    // MARK: - Adding and subtracting

    public static func + (a: BigUInt, b: BigUInt) -> BigUInt {
        var sum = a
        sum += b
        return sum
    }

    public static func += (a: inout BigUInt, b: BigUInt) {
        if a.limbs.count < b.limbs.count {
            a.limbs.append(contentsOf: repeatElement(0, count: b.limbs.count - a.limbs.count))
        }
        var carry: UInt64 = 0
        for i in 0..<b.limbs.count {
            let (s1, o1) = a.limbs[i].addingReportingOverflow(b.limbs[i])
            let (s2, o2) = s1.addingReportingOverflow(carry)
            a.limbs[i] = s2
            carry = (o1 ? 1 : 0) + (o2 ? 1 : 0)
        }
        var i = b.limbs.count
        while carry != 0 {
            if i == a.limbs.count {
                a.limbs.append(carry)
                break
            }
            let (s, o) = a.limbs[i].addingReportingOverflow(carry)
            a.limbs[i] = s
            carry = o ? 1 : 0
            i += 1
        }
    }

    /// `a - b`; `b` must not exceed `a` (a programming error otherwise).
    public static func - (a: BigUInt, b: BigUInt) -> BigUInt {
        var difference = a
        difference -= b
        return difference
    }

    /// `a -= b`; `b` must not exceed `a` (a programming error otherwise).
    public static func -= (a: inout BigUInt, b: BigUInt) {
        precondition(b.limbs.count <= a.limbs.count, "BigUInt subtraction underflow")
        let borrow = Self.subtract(b.limbs[...], from: &a.limbs, at: 0)
        precondition(!borrow, "BigUInt subtraction underflow")
        a.normalize()
    }

    /// `target[offset...] -= value`; true when it borrowed out of the top.
    private static func subtract(_ value: ArraySlice<UInt64>, from target: inout [UInt64], at offset: Int) -> Bool {
        var borrow: UInt64 = 0
        var i = 0
        for limb in value {
            let (d1, o1) = target[offset + i].subtractingReportingOverflow(limb)
            let (d2, o2) = d1.subtractingReportingOverflow(borrow)
            target[offset + i] = d2
            borrow = (o1 ? 1 : 0) + (o2 ? 1 : 0)
            i += 1
        }
        var j = offset + i
        while borrow != 0, j < target.count {
            let (d, o) = target[j].subtractingReportingOverflow(borrow)
            target[j] = d
            borrow = o ? 1 : 0
            j += 1
        }
        return borrow != 0
    }

    /// `|a - b|`.
    public static func distance(_ a: BigUInt, _ b: BigUInt) -> BigUInt { a >= b ? a - b : b - a }

    // MARK: - Multiplying

    public static func * (a: BigUInt, b: BigUInt) -> BigUInt {
        if a.isZero || b.isZero { return BigUInt() }
        if b.limbs.count == 1 {
            var product = a
            product.multiplyAndAdd(b.limbs[0], 0)
            return product
        }
        if a.limbs.count == 1 {
            var product = b
            product.multiplyAndAdd(a.limbs[0], 0)
            return product
        }
        var product = [UInt64](repeating: 0, count: a.limbs.count + b.limbs.count)
        for i in 0..<a.limbs.count {
            let ai = a.limbs[i]
            if ai == 0 { continue }
            var carry: UInt64 = 0
            for j in 0..<b.limbs.count {
                // ai·bj + product + carry < 2^128: (2^64-1)^2 + 2(2^64-1) = 2^128 - 1.
                let (high, low) = ai.multipliedFullWidth(by: b.limbs[j])
                let (l1, o1) = low.addingReportingOverflow(product[i + j])
                let (l2, o2) = l1.addingReportingOverflow(carry)
                product[i + j] = l2
                carry = high &+ (o1 ? 1 : 0) &+ (o2 ? 1 : 0)
            }
            product[i + b.limbs.count] = carry
        }
        return BigUInt(limbs: product)
    }

    public static func *= (a: inout BigUInt, b: BigUInt) { a = a * b }

    /// `self = self · factor + addend`.
    private mutating func multiplyAndAdd(_ factor: UInt64, _ addend: UInt64) {
        var carry = addend
        for i in limbs.indices {
            let (high, low) = limbs[i].multipliedFullWidth(by: factor)
            let (sum, overflow) = low.addingReportingOverflow(carry)
            limbs[i] = sum
            carry = high &+ (overflow ? 1 : 0)
        }
        if carry != 0 { limbs.append(carry) }
        normalize()
    }

    /// `self^exponent`.
    public func power(_ exponent: Int) -> BigUInt {
        var result: BigUInt = 1
        var square = self
        var e = exponent
        while e > 0 {
            if e & 1 == 1 { result *= square }
            e >>= 1
            if e > 0 { square *= square }
        }
        return result
    }

    /// `self^exponent mod modulus`; `modulus` must not be zero.
    public func power(_ exponent: BigUInt, modulus: BigUInt) -> BigUInt {
        if modulus == 1 { return 0 }
        var result: BigUInt = 1
        let base = self % modulus
        // Left to right: square, then multiply by the base for each set bit.
        var bit = exponent.bitLength - 1
        while bit >= 0 {
            result = result * result % modulus
            if exponent.limbs[bit / 64] >> UInt64(bit % 64) & 1 == 1 { result = result * base % modulus }
            bit -= 1
        }
        return result
    }

    // MARK: - Shifting

    public static func << (a: BigUInt, shift: Int) -> BigUInt {
        precondition(shift >= 0, "negative BigUInt shift")
        if a.isZero { return a }
        let limbShift = shift / 64, bitShift = shift % 64
        var result = [UInt64](repeating: 0, count: a.limbs.count + limbShift + 1)
        for (i, limb) in a.limbs.enumerated() {
            result[i + limbShift] |= limb << UInt64(bitShift)
            if bitShift != 0 { result[i + limbShift + 1] = limb >> UInt64(64 - bitShift) }
        }
        return BigUInt(limbs: result)
    }

    public static func >> (a: BigUInt, shift: Int) -> BigUInt {
        precondition(shift >= 0, "negative BigUInt shift")
        let limbShift = shift / 64, bitShift = shift % 64
        guard limbShift < a.limbs.count else { return BigUInt() }
        var result = [UInt64](repeating: 0, count: a.limbs.count - limbShift)
        for i in result.indices {
            result[i] = a.limbs[i + limbShift] >> UInt64(bitShift)
            if bitShift != 0, i + limbShift + 1 < a.limbs.count {
                result[i] |= a.limbs[i + limbShift + 1] << UInt64(64 - bitShift)
            }
        }
        return BigUInt(limbs: result)
    }

    // MARK: - Dividing

    /// Divides in place by a single limb and returns the remainder; `divisor` must not be zero.
    @discardableResult
    public mutating func divide(by divisor: UInt64) -> UInt64 {
        precondition(divisor != 0, "BigUInt division by zero")
        var remainder: UInt64 = 0
        var i = limbs.count - 1
        while i >= 0 {
            (limbs[i], remainder) = divisor.dividingFullWidth((remainder, limbs[i]))
            i -= 1
        }
        normalize()
        return remainder
    }

    /// `self mod divisor` for a single limb, without allocating; `divisor` must not be zero.
    public func remainder(dividingBy divisor: UInt64) -> UInt64 {
        precondition(divisor != 0, "BigUInt division by zero")
        var remainder: UInt64 = 0
        var i = limbs.count - 1
        while i >= 0 {
            remainder = divisor.dividingFullWidth((remainder, limbs[i])).remainder
            i -= 1
        }
        return remainder
    }

    /// `(self / divisor, self % divisor)`; `divisor` must not be zero (a programming error).
    public func quotientAndRemainder(dividingBy divisor: BigUInt) -> (quotient: BigUInt, remainder: BigUInt) {
        precondition(!divisor.isZero, "BigUInt division by zero")
        if self < divisor { return (BigUInt(), self) }
        if divisor.limbs.count == 1 {
            var quotient = self
            let remainder = quotient.divide(by: divisor.limbs[0])
            return (quotient, BigUInt(remainder))
        }
        return Self.knuthDivide(limbs, divisor.limbs)
    }

    /// Knuth's algorithm D (TAOCP 4.3.1) with 64-bit digits: `u / v` for `v` of two or more
    /// limbs and `u >= v`.
    private static func knuthDivide(_ u: [UInt64], _ v: [UInt64]) -> (quotient: BigUInt, remainder: BigUInt) {
        let n = v.count, m = u.count - v.count
        // D1: normalize so the divisor's top bit is set; the dividend gains a limb.
        let shift = UInt64(v[n - 1].leadingZeroBitCount)
        var vn = v, un = u + [0]
        if shift != 0 {
            for i in stride(from: n - 1, to: 0, by: -1) { vn[i] = v[i] << shift | v[i - 1] >> (64 - shift) }
            vn[0] = v[0] << shift
            un[m + n] = u[m + n - 1] >> (64 - shift)
            for i in stride(from: m + n - 1, to: 0, by: -1) { un[i] = u[i] << shift | u[i - 1] >> (64 - shift) }
            un[0] = u[0] << shift
        }
        let vTop = vn[n - 1], vNext = vn[n - 2]
        var quotient = [UInt64](repeating: 0, count: m + 1)
        var j = m
        while j >= 0 {
            // D3: estimate the quotient digit from the top two limbs (un[j+n] <= vTop holds).
            var qHat: UInt64, rHat: UInt128
            if un[j + n] < vTop {
                let (q, r) = vTop.dividingFullWidth((un[j + n], un[j + n - 1]))
                qHat = q
                rHat = UInt128(r)
            } else {
                qHat = .max
                rHat = UInt128(un[j + n - 1]) + UInt128(vTop)  // the remainder for qHat = B - 1
            }
            // At most two corrections make qHat exact or one too large.
            while rHat >> 64 == 0,
                  UInt128(qHat) * UInt128(vNext) > (rHat << 64 | UInt128(un[j + n - 2])) {
                qHat -= 1
                rHat += UInt128(vTop)
            }
            // D4: un[j...j+n] -= qHat · vn.
            var carry: UInt64 = 0, borrow: UInt64 = 0
            for i in 0..<n {
                let (high, low) = qHat.multipliedFullWidth(by: vn[i])
                let (p, o) = low.addingReportingOverflow(carry)
                carry = high &+ (o ? 1 : 0)
                let (d1, o1) = un[i + j].subtractingReportingOverflow(p)
                let (d2, o2) = d1.subtractingReportingOverflow(borrow)
                un[i + j] = d2
                borrow = (o1 ? 1 : 0) + (o2 ? 1 : 0)
            }
            let (t1, o1) = un[j + n].subtractingReportingOverflow(carry)
            let (t2, o2) = t1.subtractingReportingOverflow(borrow)
            un[j + n] = t2
            if o1 || o2 {
                // D6: qHat was one too large; add the divisor back (the carry out cancels the borrow).
                qHat -= 1
                var addCarry: UInt64 = 0
                for i in 0..<n {
                    let (s1, c1) = un[i + j].addingReportingOverflow(vn[i])
                    let (s2, c2) = s1.addingReportingOverflow(addCarry)
                    un[i + j] = s2
                    addCarry = (c1 ? 1 : 0) + (c2 ? 1 : 0)
                }
                un[j + n] &+= addCarry
            }
            quotient[j] = qHat
            j -= 1
        }
        // D8: the remainder is un[0..<n] shifted back.
        var remainder = [UInt64](un[0..<n])
        if shift != 0 {
            for i in 0..<(n - 1) { remainder[i] = un[i] >> shift | un[i + 1] << (64 - shift) }
            remainder[n - 1] = un[n - 1] >> shift
        }
        return (BigUInt(limbs: quotient), BigUInt(limbs: remainder))
    }

    public static func / (a: BigUInt, b: BigUInt) -> BigUInt { a.quotientAndRemainder(dividingBy: b).quotient }

    public static func % (a: BigUInt, b: BigUInt) -> BigUInt { a.quotientAndRemainder(dividingBy: b).remainder }

    // MARK: - Number theory

    /// The greatest common divisor (`gcd(0, 0) == 0`): Euclid's algorithm until both fit in
    /// 128 bits, then binary gcd on `UInt128` (`Montgomery128.gcd(_:_:)`).
    public func greatestCommonDivisor(with other: BigUInt) -> BigUInt {
        var (a, b) = (self, other)
        while true {
            if let small = a.uint128, let smallB = b.uint128 { return BigUInt(Montgomery128.gcd(small, smallB)) }
            if b.isZero { return a }
            (a, b) = (b, a % b)
        }
    }

    /// `⌊self^(1/k)⌋` for `k >= 1`, by Newton's method from an overestimate.
    public func integerRoot(_ k: Int) -> BigUInt {
        precondition(k >= 1, "BigUInt root of order below 1")
        if self < 2 || k == 1 { return self }
        var x = BigUInt(1) << ((bitLength + k - 1) / k)  // ≥ the root
        let order = BigUInt(k), orderMinusOne = BigUInt(k - 1)
        while true {
            let next = (orderMinusOne * x + self / x.power(k - 1)) / order
            if next >= x { return x }
            x = next
        }
    }
}

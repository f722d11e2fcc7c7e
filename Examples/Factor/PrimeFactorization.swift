/// Prime factorization of integers of any size: trial division by small primes, then
/// Miller–Rabin and Pollard's rho with Brent's cycle detection. Numbers below 2^127 (38 digits)
/// run on allocation-free 128-bit Montgomery arithmetic; larger ones on `BigUInt`.
public enum PrimeFactorization {
    /// Thrown when `isCancelled` returned true.
    public struct Cancelled: Error {}

    /// The prime factors of `n` in ascending order, with multiplicity (none for 0 and 1).
    /// `isCancelled` is polled every few hundred steps; when it returns true the work stops
    /// and ``Cancelled`` is thrown.
    public static func factor(_ n: BigUInt, isCancelled: () -> Bool = { false }) throws -> [BigUInt] {
        guard n >= 2 else { return [] }
        var factors: [BigUInt] = []
        var rest = n
        for p in smallPrimes {
            let prime = UInt64(p)
            if BigUInt(prime * prime) > rest { break }
            while rest.remainder(dividingBy: prime) == 0 {
                factors.append(BigUInt(prime))
                rest.divide(by: prime)
            }
        }
        var pending: [BigUInt] = rest > 1 ? [rest] : []
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        while let m = pending.popLast() {
            if isCancelled() { throw Cancelled() }
            if m < BigUInt(trialLimit * trialLimit) || isProbablePrime(m) {
                // Below the square of the trial-division bound, what is left is prime.
                factors.append(m)
                continue
            }
            if let (root, exponent) = perfectPower(m) {
                // Rho is hopeless on p^k with a large p: split it by the root instead.
                pending += Array(repeating: root, count: exponent)
                continue
            }
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            guard let d = try split(m, seed: seed, isCancelled: isCancelled) else { throw Cancelled() }
            pending += [d, m / d]
        }
        return factors.sorted()
    }

    /// `n = p1 * p2 * ...`, e.g. `12 = 2 * 2 * 3` and `97 = 97`.
    public static func formatted(_ n: BigUInt, factors: [BigUInt]) -> String {
        "\(n) = " + factors.map(\.description).joined(separator: " * ")
    }

    /// True when `n` is prime (proven below 3.3·10^24, Miller–Rabin with 24 bases above it:
    /// a composite passes with probability below 4^-24).
    public static func isProbablePrime(_ n: BigUInt) -> Bool {
        if n < 2 { return false }
        for p in smallPrimes.prefix(24) {
            if n == BigUInt(p) { return true }
            if n.remainder(dividingBy: UInt64(p)) == 0 { return false }
        }
        let bases = smallPrimes.prefix(24).map { UInt128($0) }
        if let small = n.uint128, let field = Montgomery128(modulus: small) {
            return field.isProbablePrime(bases: bases)
        }
        return bases.allSatisfy { isStrongProbablePrime(n, base: BigUInt($0)) }
    }

    /// Miller–Rabin to one base for an odd `n > base`: false means composite for sure.
    private static func isStrongProbablePrime(_ n: BigUInt, base: BigUInt) -> Bool {
        let minusOne = n - 1
        let s = minusOne.trailingZeroBitCount
        let d = minusOne >> s
        var x = base.power(d, modulus: n)
        if x == 1 || x == minusOne { return true }
        for _ in 1..<max(s, 1) {
            x = x * x % n
            if x == minusOne { return true }
        }
        return false
    }

    // MARK: - Splitting

    /// A non-trivial factor of the odd composite `m`, or nil when cancelled.
    private static func split(_ m: BigUInt, seed: UInt64, isCancelled: () -> Bool) throws -> BigUInt? {
        if let small = m.uint128, let field = Montgomery128(modulus: small) {
            return field.rhoFactor(seed: UInt128(seed), isCancelled: isCancelled).map { BigUInt($0) }
        }
        return bigRho(m, seed: seed, isCancelled: isCancelled)
    }

    /// Brent's rho on `BigUInt`, for numbers of 2^127 and above.
    private static func bigRho(_ n: BigUInt, seed: UInt64, isCancelled: () -> Bool) -> BigUInt? {
        var c = BigUInt(seed) % (n - 1) + 1
        var start = BigUInt(2)
        while true {
            var y = start, x = y, ys = y
            var q = BigUInt(1)
            var g = BigUInt(1)
            var r = 1
            let batch = 64
            func f(_ v: BigUInt) -> BigUInt { (v * v + c) % n }
            repeat {
                x = y
                for step in 0..<r {
                    y = f(y)
                    if step % 64 == 63, isCancelled() { return nil }
                }
                var k = 0
                repeat {
                    if isCancelled() { return nil }
                    ys = y
                    for _ in 0..<min(batch, r - k) {
                        y = f(y)
                        q = q * BigUInt.distance(x, y) % n
                    }
                    g = q.greatestCommonDivisor(with: n)
                    k += batch
                } while k < r && g == 1
                r *= 2
            } while g == 1
            if g == n {
                repeat {
                    ys = f(ys)
                    g = BigUInt.distance(x, ys).greatestCommonDivisor(with: n)
                } while g == 1
            }
            if g != n { return g }
            c += 1
            start += 1
        }
    }

    /// `(root, k)` with `root^k == n` for the smallest prime `k` that works, or nil. Only
    /// exponents up to `bits / 12` matter: every prime below 2^12 was divided out already.
    static func perfectPower(_ n: BigUInt) -> (BigUInt, Int)? {
        let maxExponent = max(2, n.bitLength / 12)
        for k in smallPrimes where k <= maxExponent {
            let root = n.integerRoot(k)
            if root.power(k) == n { return (root, k) }
        }
        return nil
    }

    // MARK: - Small primes

    /// Trial division covers every prime below this.
    static let trialLimit = 1 << 12

    /// The primes below ``trialLimit`` (sieve of Eratosthenes).
    static let smallPrimes: [Int] = {
        var composite = [Bool](repeating: false, count: trialLimit)
        var primes: [Int] = []
        for i in 2..<trialLimit where !composite[i] {
            primes.append(i)
            for j in stride(from: i * i, to: trialLimit, by: i) { composite[j] = true }
        }
        return primes
    }()
}

/// Arithmetic modulo an odd `n < 2^127` in Montgomery form, on `UInt128` (no allocation):
/// the fast path of ``PrimeFactorization`` for numbers of up to 38 digits.
struct Montgomery128 {
    let n: UInt128
    /// `-n⁻¹ mod 2^128`.
    private let nPrime: UInt128
    /// `2^128 mod n`: 1 in Montgomery form.
    let one: UInt128
    /// `2^256 mod n`, to convert into Montgomery form.
    private let rSquared: UInt128

    /// `n` must be odd, greater than 1 and below 2^127.
    init?(modulus n: UInt128) {
        guard n > 1, n & 1 == 1, n >> 127 == 0 else { return nil }
        self.n = n
        // Newton's iteration: each step doubles the correct low bits (n·n ≡ 1 mod 8 to start).
        var inverse = n
        for _ in 0..<6 { inverse = inverse &* (2 &- n &* inverse) }
        nPrime = 0 &- inverse
        one = (0 &- n) % n
        var r2 = one
        for _ in 0..<128 { r2 = Self.addModulo(r2, r2, n) }
        rSquared = r2
    }

    private static func addModulo(_ a: UInt128, _ b: UInt128, _ n: UInt128) -> UInt128 {
        let sum = a &+ b // no overflow: a, b < n < 2^127
        return sum >= n ? sum &- n : sum
    }

    /// `a + b` for values in Montgomery form.
    func add(_ a: UInt128, _ b: UInt128) -> UInt128 { Self.addModulo(a, b, n) }

    /// `a - b` for values in Montgomery form.
    func subtract(_ a: UInt128, _ b: UInt128) -> UInt128 { a >= b ? a &- b : a &+ (n &- b) }

    /// Montgomery reduction of the 256-bit `high:low`, which must be below `n · 2^128`.
    private func reduce(high: UInt128, low: UInt128) -> UInt128 {
        let m = low &* nPrime
        let product = m.multipliedFullWidth(by: n)
        let (_, carry) = low.addingReportingOverflow(product.low)
        let t = high &+ product.high &+ (carry ? 1 : 0) // < 2n < 2^128
        return t >= n ? t &- n : t
    }

    /// `a · b` for values in Montgomery form.
    func multiply(_ a: UInt128, _ b: UInt128) -> UInt128 {
        let product = a.multipliedFullWidth(by: b)
        return reduce(high: product.high, low: product.low)
    }

    /// Into Montgomery form.
    func enter(_ a: UInt128) -> UInt128 { multiply(a % n, rSquared) }

    /// Out of Montgomery form.
    func leave(_ a: UInt128) -> UInt128 { reduce(high: 0, low: a) }

    /// `base^exponent`, `base` in Montgomery form.
    func power(_ base: UInt128, _ exponent: UInt128) -> UInt128 {
        var result = one
        var square = base
        var e = exponent
        while e > 0 {
            if e & 1 == 1 { result = multiply(result, square) }
            square = multiply(square, square)
            e >>= 1
        }
        return result
    }

    /// Miller–Rabin with the given bases: false means composite for sure.
    func isProbablePrime(bases: [UInt128]) -> Bool {
        let minusOne = n &- one
        var d = n &- 1
        var s = 0
        while d & 1 == 0 { d >>= 1; s += 1 }
        for base in bases {
            let a = base % n
            if a == 0 { continue }
            var x = power(enter(a), d)
            if x == one || x == minusOne { continue }
            var witness = true
            for _ in 1..<max(s, 1) {
                x = multiply(x, x)
                if x == minusOne { witness = false; break }
            }
            if witness { return false }
        }
        return true
    }

    /// A non-trivial factor of `n` (composite, odd) by Pollard's rho with Brent's cycle
    /// detection and gcds batched over 128 steps, or nil when cancelled.
    func rhoFactor(seed: UInt128, isCancelled: () -> Bool) -> UInt128? {
        var c = enter(seed % (n - 1) + 1)
        var attempt: UInt128 = 0
        var steps = 0
        while true {
            var y = enter(2 &+ attempt), x = y, ys = y
            var q = one
            var g: UInt128 = 1
            var r = 1
            let batch = 128
            repeat {
                x = y
                // r doubles every round: advance in chunks so cancellation is seen within
                // milliseconds, not after a stretch as long as everything before it.
                var advanced = 0
                while advanced < r {
                    let chunk = min(512, r - advanced)
                    for _ in 0..<chunk { y = add(multiply(y, y), c) }
                    advanced += chunk
                    if isCancelled() { return nil }
                }
                var k = 0
                repeat {
                    ys = y
                    for _ in 0..<min(batch, r - k) {
                        y = add(multiply(y, y), c)
                        q = multiply(q, subtract(x, y))
                    }
                    g = Self.gcd(leave(q), n)
                    k += batch
                    steps += batch
                    if steps >= 4096 {
                        if isCancelled() { return nil }
                        steps = 0
                    }
                } while k < r && g == 1
                r *= 2
            } while g == 1
            if g == n {
                // The batch overshot: step one at a time from the saved point.
                repeat {
                    ys = add(multiply(ys, ys), c)
                    g = Self.gcd(leave(subtract(x, ys)), n)
                } while g == 1
            }
            if g != n { return g }
            // A bad polynomial: try another constant.
            attempt &+= 1
            c = add(c, one)
            if isCancelled() { return nil }
        }
    }

    /// Binary gcd.
    static func gcd(_ a: UInt128, _ b: UInt128) -> UInt128 {
        var (a, b) = (a, b)
        if a == 0 { return b }
        if b == 0 { return a }
        let shift = (a | b).trailingZeroBitCount
        a >>= a.trailingZeroBitCount
        repeat {
            b >>= b.trailingZeroBitCount
            if a > b { swap(&a, &b) }
            b -= a
        } while b != 0
        return a << shift
    }
}

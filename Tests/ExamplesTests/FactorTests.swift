import FactorHandler
#if canImport(Glibc)
import Glibc
#endif
import Testing
import WorkQueue
import WorkQueueTesting

/// The `factor` handler and its arithmetic.
@Suite struct FactorTests {
    /// Factors by trial division: the slow, obviously right reference.
    static func trialDivision(_ n: Int) -> [Int] {
        var factors: [Int] = []
        var rest = n
        var d = 2
        while d * d <= rest {
            while rest % d == 0 { factors.append(d); rest /= d }
            d += 1
        }
        if rest > 1 { factors.append(rest) }
        return factors
    }

    static func factor(_ text: String) throws -> String {
        let n = try #require(BigUInt(text))
        return PrimeFactorization.formatted(n, factors: try PrimeFactorization.factor(n))
    }

    @Test func everyNumberUpTo5000MatchesTrialDivision() throws {
        for n in 2...5000 {
            let factors = try PrimeFactorization.factor(BigUInt(n)).map(\.description)
            #expect(factors == Self.trialDivision(n).map(String.init), "n = \(n)")
        }
    }

    @Test func theContractLines() throws {
        #expect(try Self.factor("12") == "12 = 2 * 2 * 3")
        #expect(try Self.factor("97") == "97 = 97")
        #expect(try Self.factor("600851475143") == "600851475143 = 71 * 839 * 1471 * 6857")
    }

    @Test(arguments: ["561 = 3 * 11 * 17", "41041 = 7 * 11 * 13 * 41", "825265 = 5 * 7 * 17 * 19 * 73",
                      "3825123056546413051 = 149491 * 747451 * 34233211"])
    func carmichaelAndStrongPseudoprimesAreSplit(_ line: String) throws {
        let n = String(line.prefix { $0 != " " })
        #expect(try Self.factor(n) == line)
    }

    @Test func largePrimesStayWhole() throws {
        for prime in ["1000000007", "18446744073709551557", "170141183460469231731687303715884105727",
                      "2305843009213693951", "618970019642690137449562111"] {
            #expect(try Self.factor(prime) == "\(prime) = \(prime)")
            #expect(PrimeFactorization.isProbablePrime(try #require(BigUInt(prime))))
        }
    }

    @Test func semiprimesAndPowersOfPrimes() throws {
        // Two 15-digit primes (30 digits), two 10-digit primes, a prime power, and a number
        // above 2^127 (the BigUInt path) with small and medium factors.
        #expect(try Self.factor("240000000029158600000672311701") == "240000000029158600000672311701 = 400000000012373 * 600000000054337")
        #expect(try Self.factor("10000000089000000133") == "10000000089000000133 = 1000000007 * 10000000019")
        #expect(try Self.factor("1305751357") == "1305751357 = 1093 * 1093 * 1093")
        let big = BigUInt(2).power(130) * BigUInt(1_000_000_007)
        let factors = try PrimeFactorization.factor(big)
        #expect(factors == Array(repeating: BigUInt(2), count: 130) + [BigUInt(1_000_000_007)])
        let mixed = try #require(BigUInt("340282366920938463463374607431768211507")) * BigUInt(1_000_003)
        #expect(try PrimeFactorization.factor(mixed).map(\.description)
                == ["1000003", "340282366920938463463374607431768211507"])
    }

    @Test func cancellationStopsALongFactorization() throws {
        // Two 20-digit primes: far beyond what rho finishes before the first poll.
        let n = try #require(BigUInt("100000000000000000039")) * (try #require(BigUInt("100000000000000000129")))
        var polls = 0
        #expect(throws: PrimeFactorization.Cancelled.self) {
            _ = try PrimeFactorization.factor(n) {
                polls += 1
                return polls > 3
            }
        }
        #expect(polls == 4)
    }

    @Test(arguments: ["abc", "", "1", "0", "-5", "+7", "1.5", "12abc", "٣"])
    func itemsThatAreNotIntegersAtLeastTwoAreErrorsQuotingThem(_ text: String) {
        #expect(throws: FactorError.notAnInteger(WorkItem(text))) { try Factor.parse(WorkItem(text)) }
        #expect(FactorError.notAnInteger(WorkItem(text)).description.hasPrefix("\"\(text)\" is not an integer >= 2"))
    }

    @Test func whitespaceAndLeadingZerosAreAccepted() throws {
        #expect(try Factor.parse(" 0012\r\n") == 12)
        #expect(FactorError.notAnInteger(WorkItem([0xFF])).description.hasPrefix("\"\\xff\""))
    }

    @Test func badItemsAreRetriedThenDeadLetteredThroughTheRunner() async throws {
        var harness = HandlerHarness(try Factor(options: [:]))
        harness.options.maxAttempts = 2
        let report = try await harness.run(["12", "abc"])
        #expect(report.results == ["12": "12 = 2 * 2 * 3"])
        #expect(report.deadLettered == ["abc"])
        #expect(report.deadLetters.first?.attempts == 2)
        #expect(report.deadLetters.first?.lastError?.hasPrefix("\"abc\" is not an integer >= 2") == true)
    }

    @Test func optionsAreRejected() {
        #expect(throws: WorkQueueError.self) { try Factor(options: ["digits": "3"]) }
    }

    @Test func strongPseudoprimesToManyBasesAreSplit() throws {
        // The second fools Miller–Rabin for every prime base up to 37; base 41 catches it.
        #expect(try Self.factor("3317044064679887385961981") == "3317044064679887385961981 = 1287836182261 * 2575672364521")
        #expect(try Self.factor("318665857834031151167461") == "318665857834031151167461 = 399165290221 * 798330580441")
        #expect(!PrimeFactorization.isProbablePrime(try #require(BigUInt("3317044064679887385961981"))))
    }

    @Test func primesBeyond128BitsStayWhole() throws {
        for prime in ["10000000000000000000000000000000000000121", "1000000000000000000000000000000000000000000000000000000000007"] {
            #expect(try Self.factor(prime) == "\(prime) = \(prime)")
        }
    }

    @Test func perfectPowersOfLargePrimesSplitAtOnce() throws {
        // Rho would need about 10^10 steps for the cube; the k-th root finds them at once.
        #expect(try Self.factor("1000000000000000001170000000000000000456300000000000000059319")
            == "1000000000000000001170000000000000000456300000000000000059319 = "
            + Array(repeating: "100000000000000000039", count: 3).joined(separator: " * "))
        #expect(try Self.factor("1000000000195000000015210000000593190000011567205000090224199")
            == "1000000000195000000015210000000593190000011567205000090224199 = "
            + Array(repeating: "1000000000039", count: 5).joined(separator: " * "))
    }

    @Test func cancellationIsPolledOftenThroughoutALongRun() throws {
        // Two 19- and 20-digit primes (the 128-bit path): rho runs far longer than this test.
        let n = try #require(BigUInt("10000000000000000081000000000000000153"))
        // Time on this thread's CPU clock: a loaded machine preempting the test must not count
        // as a gap between polls (wall time measured 157 ms once with four suites on two cores).
        let start = threadCPUTime()
        var last = start
        var longestGap = Duration.zero
        #expect(throws: PrimeFactorization.Cancelled.self) {
            _ = try PrimeFactorization.factor(n) {
                let now = threadCPUTime()
                longestGap = max(longestGap, now - last)
                last = now
                return now - start > .milliseconds(1500)
            }
        }
        // Rho's stretches double: without polling inside them the gap grows to a third of the run.
        #expect(longestGap < .milliseconds(150), "longest gap between polls: \(longestGap)")
    }

    @Test func zeroAndOneHaveNoFactorsAndOverlongItemsAreRefused() throws {
        #expect(try PrimeFactorization.factor(0).isEmpty && PrimeFactorization.factor(1).isEmpty)
        let long = WorkItem(String(repeating: "7", count: Factor.maxDigits + 1))
        #expect(throws: FactorError.tooLong(digits: Factor.maxDigits + 1)) { try Factor.parse(long) }
        #expect(try Factor.parse("\u{0B}\u{0C} 42 \t") == 42)
    }

    @Test func aNumberAbove2To127WithMediumFactorsIsSplitOnTheBigPath() throws {
        // A 20-digit number (two 10-digit primes) times a 25-digit prime: 44 digits, above
        // 2^127, so rho runs on BigUInt until the cofactor fits the 128-bit path. (A 20-digit
        // *prime* factor would take rho about 10^10 steps: hours, not a test.)
        #expect(try Self.factor("10000000089000000133000070000000623000000931")
            == "10000000089000000133000070000000623000000931 = 1000000007 * 10000000019 * 1000000000000000000000007")
    }

    @Test(arguments: [
        // 2^127 and its neighbours: the last number on the Montgomery path and the first above it.
        "170141183460469231731687303715884105727 = 170141183460469231731687303715884105727",
        "170141183460469231731687303715884105728 = " + Array(repeating: "2", count: 127).joined(separator: " * "),
        "170141183460469231731687303715884105729 = 3 * 56713727820156410577229101238628035243",
        "170141183460469231731687303715884105757 = 170141183460469231731687303715884105757",
        "170141183460469231731687303810244290251 = 1000000007 * 170141182269480955845320612893",
        // 2^128 and its neighbours: the largest UInt128 and the first numbers past it.
        "340282366920938463463374607431768211297 = 340282366920938463463374607431768211297",
        "340282366920938463463374607431768211455 = 3 * 5 * 17 * 257 * 641 * 65537 * 274177 * 6700417 * 67280421310721",
        "340282366920938463463374607431768211456 = " + Array(repeating: "2", count: 128).joined(separator: " * "),
        "340282366920938463463374607431768211507 = 340282366920938463463374607431768211507",
        "340282366920938463463374607581276301153 = 999999937 * 340282388358728930063297201569",
    ])
    func numbersAroundThe127And128BitBoundaries(_ line: String) throws {
        let n = String(line.prefix { $0 != " " })
        #expect(try Self.factor(n) == line)
    }
}

/// CPU time this thread has used.
private func threadCPUTime() -> Duration {
    var spec = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
    return .seconds(spec.tv_sec) + .nanoseconds(spec.tv_nsec)
}

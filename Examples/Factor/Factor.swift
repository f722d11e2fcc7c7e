import WorkQueueCore

/// The `factor` handler: each item is a decimal integer of any length; prints and returns its
/// prime factorization in ascending order, `12 = 2 * 2 * 3`, `97 = 97`.
///
/// The item is trimmed of ASCII whitespace (space, tab, LF, VT, FF, CR); what is left must be
/// ASCII digits only (leading zeros allowed, no sign), at least 2, and at most
/// ``maxDigits`` digits long. Anything else throws
/// ``FactorError/notAnInteger(_:)`` quoting the item: it is retried and dead-lettered like any
/// failure. CPU-bound, so it runs on the runner's dedicated threads; it polls cancellation
/// every few thousand steps, so a lost lease or SIGTERM stops it within milliseconds.
public struct Factor: NamedWorkHandler {
    public static let name = "factor"
    public static let summary = "prints the prime factorization of each item, a decimal integer of any length: `12 = 2 * 2 * 3`"

    /// Longest accepted item, in digits. Past about a thousand digits a single modular power
    /// takes long enough that cancellation (SIGTERM, a lost lease) would no longer be prompt.
    public static let maxDigits = 1_000

    public var execution: HandlerExecution { .dedicatedThread }

    /// Takes no options.
    public init(options: [String: String]) throws {
        if let key = options.keys.sorted().first {
            throw WorkQueueError.invalidOption(key: key, value: options[key] ?? "", expected: "no options: factor takes none")
        }
    }

    public func handle(_ item: WorkItem, context: WorkContext) async throws -> String? {
        let n = try Self.parse(item)
        let factors: [BigUInt]
        do {
            factors = try PrimeFactorization.factor(n, isCancelled: { context.isCancelled })
        } catch is PrimeFactorization.Cancelled {
            try context.checkCancellation()
            throw WorkCancelled(reason: .shutdown)
        }
        let line = PrimeFactorization.formatted(n, factors: factors)
        StandardOutput.line(line)
        return line
    }

    /// The integer an item holds, or ``FactorError/notAnInteger(_:)``.
    public static func parse(_ item: WorkItem) throws(FactorError) -> BigUInt {
        let whitespace: Set<UInt8> = [0x20, 0x09, 0x0A, 0x0B, 0x0C, 0x0D]
        var bytes = item.bytes[...]
        while let first = bytes.first, whitespace.contains(first) { bytes = bytes.dropFirst() }
        while let last = bytes.last, whitespace.contains(last) { bytes = bytes.dropLast() }
        guard !bytes.isEmpty, bytes.allSatisfy({ (0x30...0x39).contains($0) }) else { throw .notAnInteger(item) }
        guard bytes.count <= maxDigits else { throw .tooLong(digits: bytes.count) }
        guard let n = BigUInt(decimalDigits: bytes), n >= 2 else { throw .notAnInteger(item) }
        return n
    }
}

/// Why `factor` rejected an item.
public enum FactorError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The item is not a decimal integer ≥ 2.
    case notAnInteger(WorkItem)
    /// The integer has more than ``Factor/maxDigits`` digits.
    case tooLong(digits: Int)

    public var description: String {
        switch self {
        case let .notAnInteger(item):
            let shown = item.escaped.count > 80 ? item.escaped.prefix(80) + "..." : item.escaped
            return "\"\(shown)\" is not an integer >= 2 (factor takes decimal digits only, e.g. 600851475143)"
        case let .tooLong(digits):
            return "the integer has \(digits) digits; factor takes at most \(Factor.maxDigits) (beyond that it could not stop promptly on SIGTERM)"
        }
    }
}

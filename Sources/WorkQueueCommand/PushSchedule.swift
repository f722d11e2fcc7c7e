import ArgumentParser
import WorkQueue
import WorkQueueRedis

/// The values of `push --delay`, `--not-before`, `--unique-window`: read once, each bad value a
/// `ValidationError` (exit 64) naming its flag and what it should have been.
enum PushSchedule {
    /// The longest `--delay` (and the farthest `--not-before`): a year.
    static let longestDelay: Duration = .seconds(366 * 86_400)
    /// `--unique-window`'s range: a second to 30 days.
    static let uniqueWindowRange: ClosedRange<Duration> = .seconds(1) ... .seconds(30 * 86_400)

    /// A duration as `90`, `90s`, `1.5m`, `10m`, `2h`, `1h30m`, `1d` (a bare number is seconds;
    /// units s, m, h, d, each at most once, largest first); nil when it is not one.
    static func duration(_ text: String) -> Duration? {
        let units: [(Character, Double)] = [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)]
        var rest = Substring(text)
        guard !rest.isEmpty, rest.count <= 40 else { return nil }
        if let plain = Double(rest) {
            return plain.isFinite && plain >= 0 ? .milliseconds(Int64((plain * 1000).rounded(.up))) : nil
        }
        var seconds = 0.0
        var nextUnit = 0
        while !rest.isEmpty {
            let number = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            guard !number.isEmpty, let value = Double(number), let unitCharacter = rest.dropFirst(number.count).first,
                  let index = units.firstIndex(where: { $0.0 == unitCharacter }), index >= nextUnit else { return nil }
            seconds += value * units[index].1
            nextUnit = index + 1
            rest = rest.dropFirst(number.count + 1)
        }
        guard seconds.isFinite, seconds < 1e12 else { return nil }
        return .milliseconds(Int64((seconds * 1000).rounded(.up)))
    }

    /// A wall-clock time as ms since 1970-01-01 UTC: Unix seconds (`1796680800`, fractions
    /// allowed) or RFC 3339 (`2026-12-07T22:00:00Z`, `2026-12-07T23:00:00.5+01:00`; `t`, `z`
    /// and a space for the `T` accepted); nil when it is neither.
    static func unixMilliseconds(_ text: String) -> Int64? {
        if let seconds = Double(text), text.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }) {
            return seconds < 1e11 ? Int64((seconds * 1000).rounded(.up)) : nil
        }
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, bytes.count <= 40 else { return nil }
        func number(_ start: Int, _ count: Int) -> Int? {
            guard start + count <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[start..<start + count] {
                guard (48...57).contains(byte) else { return nil }
                value = value * 10 + Int(byte - 48)
            }
            return value
        }
        guard let year = number(0, 4), bytes[4] == UInt8(ascii: "-"), let month = number(5, 2), bytes[7] == UInt8(ascii: "-"),
              let day = number(8, 2), [UInt8(ascii: "T"), UInt8(ascii: "t"), UInt8(ascii: " ")].contains(bytes[10]),
              let hour = number(11, 2), bytes[13] == UInt8(ascii: ":"), let minute = number(14, 2),
              bytes[16] == UInt8(ascii: ":"), let second = number(17, 2),
              (1...12).contains(month), (1...daysIn(month, of: year)).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var index = 19
        var fraction = 0.0
        if bytes[index] == UInt8(ascii: ".") {
            var scale = 0.1
            index += 1
            let start = index
            while index < bytes.count, (48...57).contains(bytes[index]) {
                fraction += Double(bytes[index] - 48) * scale
                scale /= 10
                index += 1
            }
            guard index > start else { return nil }
        }
        guard index < bytes.count else { return nil }
        var offsetSeconds = 0
        switch bytes[index] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            guard index + 1 == bytes.count else { return nil }
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            guard index + 6 == bytes.count, let hours = number(index + 1, 2), bytes[index + 3] == UInt8(ascii: ":"),
                  let minutes = number(index + 4, 2), hours < 24, minutes < 60 else { return nil }
            offsetSeconds = (hours * 3600 + minutes * 60) * (bytes[index] == UInt8(ascii: "-") ? -1 : 1)
        default:
            return nil
        }
        let days = daysSinceEpoch(year: year, month: month, day: day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + min(second, 59) - offsetSeconds
        return Int64(seconds) * 1000 + Int64((fraction * 1000).rounded(.up))
    }

    /// Days from 1970-01-01 to the date (proleptic Gregorian calendar).
    static func daysSinceEpoch(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    private static func daysIn(_ month: Int, of year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// What `push --delay`, `--not-before`, `--unique` and `--unique-window` ask for, checked.
    struct Request: Sendable, Equatable {
        /// `--delay`.
        var delay: Duration?
        /// `--not-before`, ms since the epoch.
        var notBefore: Int64?
        /// `--unique-window` with `--unique` (its default without), nil without `--unique`.
        var uniqueWindow: Duration?

        /// Whether the push is a plain one.
        var isPlain: Bool { delay == nil && notBefore == nil && uniqueWindow == nil }

        /// When the items pushed now are due, ms since the epoch (this machine's clock), for
        /// the message; nil without a delay.
        var dueMilliseconds: Int64? {
            if let notBefore { return Swift.max(notBefore, EnqueueOptions.wallClockMilliseconds()) }
            guard let delay, delay > .zero else { return nil }
            let (seconds, attoseconds) = delay.components
            return EnqueueOptions.wallClockMilliseconds() + seconds * 1000 + attoseconds / 1_000_000_000_000_000
        }

        /// The options of one push call: a `--not-before` delay is measured from now, call by
        /// call (a producer that streams for minutes does not push later than asked).
        var options: EnqueueOptions {
            if let notBefore { return EnqueueOptions(notBefore: notBefore, uniqueWindow: uniqueWindow) }
            return EnqueueOptions(delay: delay ?? .zero, uniqueWindow: uniqueWindow)
        }
    }

    /// Checks the flags' values, naming the flag of a bad one.
    static func request(delay: String?, notBefore: String?, unique: Bool, uniqueWindow: String?,
                        now: Int64 = EnqueueOptions.wallClockMilliseconds()) throws -> Request {
        var request = Request()
        if delay != nil && notBefore != nil {
            throw ValidationError("--delay and --not-before both say when the items become pending; pass one of them")
        }
        if let delay {
            guard let value = duration(delay), value <= longestDelay else {
                throw ValidationError("--delay must be a duration from 0 to 366d, such as 90 (seconds), 90s, 10m, 1h30m or 2d, not '\(delay)'")
            }
            request.delay = value
        }
        if let notBefore {
            guard let value = unixMilliseconds(notBefore) else {
                throw ValidationError("--not-before must be a time as RFC 3339 (2026-12-07T22:00:00Z, or with an offset such as +01:00) "
                                      + "or Unix seconds (1796680800), not '\(notBefore)'")
            }
            guard value - now <= Int64(366 * 86_400_000) else {
                throw ValidationError("--not-before must be at most 366 days ahead, not '\(notBefore)'")
            }
            request.notBefore = value
        }
        if uniqueWindow != nil && !unique {
            throw ValidationError("--unique-window sets the window of --unique; pass --unique too")
        }
        if unique {
            let text = uniqueWindow ?? "1h"
            guard let window = duration(text), uniqueWindowRange.contains(window) else {
                throw ValidationError("--unique-window must be a duration from 1s to 30d, such as 90s, 10m, 1h or 2d, not '\(text)'")
            }
            request.uniqueWindow = window
        }
        return request
    }
}

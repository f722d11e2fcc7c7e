#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Reads a setting from its flag, else from its environment variable, and checks its form.
/// Errors name the flag or the variable that held the bad value.
struct Settings {
    var environment: [String: String]

    init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    /// The flag's value, else the variable's (an empty variable counts as unset).
    func string(_ flag: String?, _ variable: String) -> String? {
        if let flag { return flag }
        if let value = environment[variable], !value.isEmpty { return value }
        return nil
    }

    /// Like ``string(_:_:)``, but required.
    func required(_ flag: String?, _ variable: String, flagName: String, example: String) throws -> String {
        guard let value = string(flag, variable), !value.isEmpty else {
            throw CommandError.missing(flag: flagName, variable: variable, example: example)
        }
        return value
    }

    /// A whole number at least `minimum`.
    func integer(_ flag: Int?, _ variable: String, flagName: String, minimum: Int, maximum: Int = .max) throws -> Int? {
        let expected = maximum == .max ? "a whole number >= \(minimum)" : "a whole number from \(minimum) to \(maximum)"
        if let flag {
            guard flag >= minimum, flag <= maximum else { throw CommandError.invalid(source: flagName, value: "\(flag)", expected: expected) }
            return flag
        }
        guard let text = string(nil, variable) else { return nil }
        guard let value = Int(text.trimmedSpaces), value >= minimum, value <= maximum else {
            throw CommandError.invalid(source: "environment variable \(variable)", value: text, expected: expected)
        }
        return value
    }

    /// A positive number of seconds (fractions allowed).
    func seconds(_ flag: Double?, _ variable: String, flagName: String, allowZero: Bool = false) throws -> Duration? {
        let (value, source): (Double, String)
        if let flag {
            (value, source) = (flag, flagName)
        } else if let text = string(nil, variable) {
            guard let parsed = Double(text.trimmedSpaces) else {
                throw CommandError.invalid(source: "environment variable \(variable)", value: text, expected: "a number of seconds")
            }
            (value, source) = (parsed, "environment variable \(variable)")
        } else {
            return nil
        }
        guard value.isFinite, allowZero ? value >= 0 : value > 0, value < 1e9 else {
            throw CommandError.invalid(source: source, value: Self.format(value), expected: allowZero ? "seconds >= 0" : "seconds > 0")
        }
        return .nanoseconds(Int64((value * 1e9).rounded()))
    }

    /// A boolean variable: 1/true/yes/on or 0/false/no/off.
    func flag(_ flag: Bool, _ variable: String) throws -> Bool {
        if flag { return true }
        guard let text = string(nil, variable) else { return false }
        switch text.lowercased() {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: throw CommandError.invalid(source: "environment variable \(variable)", value: text, expected: "true or false")
        }
    }

    /// `KEY=VALUE` pairs: the variable's comma-separated list first, then the flags (which win).
    func keyValues(_ flags: [String], _ variable: String, flagName: String) throws -> [String: String] {
        var result: [String: String] = [:]
        func add(_ pair: Substring, source: String) throws {
            let trimmed = pair.trimmedSpaces
            guard !trimmed.isEmpty else { return }
            guard let equals = trimmed.firstIndex(of: "="), equals != trimmed.startIndex else {
                throw CommandError.invalid(source: source, value: trimmed, expected: "KEY=VALUE")
            }
            result[String(trimmed[..<equals])] = String(trimmed[trimmed.index(after: equals)...])
        }
        if let list = string(nil, variable) {
            for pair in list.split(separator: ",") { try add(pair, source: "environment variable \(variable)") }
        }
        for pair in flags { try add(Substring(pair), source: flagName) }
        return result
    }

    /// `1.5`, `30` (no trailing `.0`).
    static func format(_ seconds: Double) -> String {
        seconds == seconds.rounded() && abs(seconds) < 1e15 ? String(Int64(seconds)) : String(seconds)
    }
}

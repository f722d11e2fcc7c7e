#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Reads a ``Setting`` from its flag, else from its environment variable, else its default,
/// and checks its form (``SettingForm``). Errors name the flag or the variable that held the
/// bad value. A setting with a default (`Setting<Int>`) reads as a value, one without
/// (`Setting<Int?>`) as an optional.
struct Settings {
    var environment: [String: String]

    init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    /// The variable's value; an empty variable counts as unset.
    func variable(_ setting: some SettingDescription) -> String? {
        guard let name = setting.variable, let value = environment[name], !value.isEmpty else { return nil }
        return value
    }

    /// The flag's value, else the variable's.
    func string(_ flag: String?, _ setting: Setting<String?>) -> String? {
        flag ?? variable(setting) ?? setting.defaultValue
    }

    /// The flag's value, else the variable's, else the default.
    func string(_ flag: String?, _ setting: Setting<String>) -> String {
        flag ?? variable(setting) ?? setting.defaultValue
    }

    /// The flag's value, else the variable's; required: missing or empty, it names both.
    func required(_ flag: String?, _ setting: Setting<String?>, example: String) throws -> String {
        guard let value = string(flag, setting), !value.isEmpty else {
            throw CommandError.missing(flag: setting.flag, variable: setting.variable ?? "", example: example)
        }
        return value
    }

    func integer(_ flag: Int?, _ setting: Setting<Int?>) throws -> Int? {
        try given(flag, setting) ?? setting.defaultValue
    }

    func integer(_ flag: Int?, _ setting: Setting<Int>) throws -> Int {
        try given(flag, setting) ?? setting.defaultValue
    }

    func seconds(_ flag: Double?, _ setting: Setting<Duration?>) throws -> Duration? {
        try given(flag, setting) ?? setting.defaultValue
    }

    func seconds(_ flag: Double?, _ setting: Setting<Duration>) throws -> Duration {
        try given(flag, setting) ?? setting.defaultValue
    }

    /// A switch: on when the flag is given; else the variable's 1/true/yes/on or 0/false/no/off.
    func flag(_ flag: Bool, _ setting: Setting<Bool>) throws -> Bool {
        if flag { return true }
        guard let text = variable(setting) else { return setting.defaultValue }
        switch text.lowercased() {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: throw CommandError.invalid(source: setting.source(flagGiven: false), value: text, expected: setting.form.expected)
        }
    }

    /// `KEY=VALUE` pairs: the variable's comma-separated list first, then the flags (which win).
    func keyValues(_ flags: [String], _ setting: Setting<[String: String]>) throws -> [String: String] {
        var result = setting.defaultValue
        func add(_ pair: Substring, flagGiven: Bool) throws {
            let trimmed = pair.trimmedSpaces
            guard !trimmed.isEmpty else { return }
            guard let equals = trimmed.firstIndex(of: "="), equals != trimmed.startIndex else {
                throw CommandError.invalid(source: setting.source(flagGiven: flagGiven), value: trimmed, expected: setting.form.expected)
            }
            result[String(trimmed[..<equals])] = String(trimmed[trimmed.index(after: equals)...])
        }
        if let list = variable(setting) {
            for pair in list.split(separator: ",") { try add(pair, flagGiven: false) }
        }
        for pair in flags { try add(Substring(pair), flagGiven: true) }
        return result
    }

    /// The whole number from the flag or the variable, checked against the setting's range;
    /// nil when neither is given.
    private func given(_ flag: Int?, _ setting: some SettingDescription) throws -> Int? {
        // Every whole-number setting is declared `.whole` (CatalogTests checks it).
        let range = if case let .whole(range) = setting.form { range } else { Int.min...Int.max }
        if let flag {
            guard range.contains(flag) else {
                throw CommandError.invalid(source: setting.flag, value: "\(flag)", expected: setting.form.expected)
            }
            return flag
        }
        guard let text = variable(setting) else { return nil }
        guard let value = Int(text.trimmedSpaces), range.contains(value) else {
            throw CommandError.invalid(source: setting.source(flagGiven: false), value: text, expected: setting.form.expected)
        }
        return value
    }

    /// The number of seconds from the flag or the variable (fractions allowed), checked
    /// against the setting's form; nil when neither is given.
    private func given(_ flag: Double?, _ setting: some SettingDescription) throws -> Duration? {
        // Every setting in seconds is declared `.seconds` (CatalogTests checks it).
        let range: ClosedRange<Double>? = if case let .secondsBetween(range) = setting.form { range } else { nil }
        let allowZero = if case let .seconds(allowZero) = setting.form { allowZero } else { range.map { $0.lowerBound <= 0 } ?? false }
        let value: Double
        if let flag {
            value = flag
        } else if let text = variable(setting) {
            guard let parsed = Double(text.trimmedSpaces) else {
                throw CommandError.invalid(source: setting.source(flagGiven: false), value: text, expected: "a number of seconds")
            }
            value = parsed
        } else {
            return nil
        }
        guard value.isFinite, allowZero ? value >= 0 : value > 0, value < 1e9, range?.contains(value) ?? true else {
            throw CommandError.invalid(source: setting.source(flagGiven: flag != nil), value: Self.format(value),
                                       expected: setting.form.expected)
        }
        return .nanoseconds(Int64((value * 1e9).rounded()))
    }

    /// `1.5`, `30` (no trailing `.0`).
    static func format(_ seconds: Double) -> String {
        seconds == seconds.rounded() && abs(seconds) < 1e15 ? String(Int64(seconds)) : String(seconds)
    }
}

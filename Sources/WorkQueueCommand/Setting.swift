import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One setting of the command, declared once (in ``Catalog``): its flag, the environment
/// variable it also reads, its default, what values it takes and what it means. The flag's
/// name and `--help` text (``name``, ``help``), the fallback to the variable and to the default
/// (``Settings``), error messages (``source(flagGiven:)``) and the settings tables of docs/commands.md
/// (``Catalog/markdown``) all come from it.
///
/// `Value` is what reading it yields: a setting with a default yields `Int`, `Duration`, ...;
/// one without yields an optional (`Int?`), so the type says whether a default exists.
struct Setting<Value: SettingValue>: SettingDescription {
    /// The long flag without its dashes, e.g. `lease-seconds`.
    let long: String
    /// The value's placeholder in `--help` (`seconds`) and, upper-cased, in docs/commands.md; nil
    /// for a switch (a flag without a value).
    let valueName: String?
    /// The environment variable read when the flag is not given (empty counts as unset).
    let variable: String?
    /// A remark on the variable, e.g. `comma-separated; flags win`.
    let variableNote: String?
    /// What reading the setting yields when neither the flag nor the variable is given.
    let defaultValue: Value
    /// The default as shown in `--help` and docs/commands.md: ``defaultValue`` unless said otherwise
    /// (e.g. `adaptive`); nil shows none.
    let defaultText: String?
    /// The values it accepts (checked for the flag and the variable alike).
    let form: SettingForm
    /// The meaning, a clause without a final period, for `--help` and docs/commands.md alike.
    let summary: String
    /// More for docs/commands.md only (markdown: links, long explanations).
    let details: String?
    /// The one command that takes it, for docs/commands.md; nil for `work`'s and every command's.
    let command: String?

    init(_ long: String, valueName: String? = nil, variable: String? = nil, variableNote: String? = nil,
         default defaultValue: Value, shown: String? = nil, form: SettingForm = .text,
         _ summary: String, command: String? = nil, details: String? = nil) {
        self.long = long
        self.valueName = valueName
        self.variable = variable
        self.variableNote = variableNote
        self.defaultValue = defaultValue
        self.defaultText = shown ?? defaultValue.settingText
        self.form = form
        self.summary = summary
        self.details = details
        self.command = command
    }

    /// The flag's name for `@Option(name:)` and `@Flag(name:)`.
    var name: NameSpecification { .customLong(long) }

    var formFitsValue: Bool { Value.fits(form) }
}

/// What every ``Setting`` tells, whatever its value's type: enough for help and the tables.
protocol SettingDescription: Sendable {
    var long: String { get }
    var valueName: String? { get }
    var variable: String? { get }
    var variableNote: String? { get }
    var defaultText: String? { get }
    var form: SettingForm { get }
    var summary: String { get }
    var details: String? { get }
    var command: String? { get }
    /// Whether ``form`` is the one ``Settings`` reads the value's type with (a `Setting<Int>`
    /// is `.whole`, ...); a test checks every declaration.
    var formFitsValue: Bool { get }
}

extension SettingDescription {
    /// `--lease-seconds`.
    var flag: String { "--" + long }

    /// The `--help` text: the meaning, then where else it is read from and its default, e.g.
    /// `Lease length; ... (env WORKQUEUE_LEASE_SECONDS; default 30).`
    var help: ArgumentHelp { ArgumentHelp(helpText(), valueName: valueName) }

    /// ``help``'s text; `defaultText` overrides the declared default (nil: the declared one).
    func helpText(defaultText override: String? = nil) -> String {
        var notes: [String] = []
        if let variable { notes.append("env \(variable)" + (variableNote.map { ", \($0)" } ?? "")) }
        // A switch read from no variable is off unless given: saying so adds nothing.
        let plainSwitch = form == .toggle && variable == nil
        if let shown = override ?? defaultText, !plainSwitch { notes.append("default \(shown)") }
        if case .secondsBetween = form { notes.append(form.expected) }
        let text = summary.prefix(1).uppercased() + summary.dropFirst()
        return text + (notes.isEmpty ? "" : " (\(notes.joined(separator: "; ")))") + "."
    }

    /// `--lease-seconds SECONDS`: the flag with its value's placeholder.
    var usage: String { flag + (valueName.map { " " + $0.uppercased() } ?? "") }

    /// `--tls-key-file PATH (or WORKQUEUE_TLS_KEY_FILE)`, for messages that ask for the setting.
    var either: String { usage + (variable.map { " (or \($0))" } ?? "") }

    /// Where a value came from, for error messages: the flag, or the environment variable.
    func source(flagGiven: Bool) -> String {
        guard !flagGiven, let variable else { return flag }
        return "environment variable \(variable)"
    }

    /// The docs/commands.md row: flag, variable, default, meaning.
    var markdownRow: String {
        let flagCell = "`" + (command.map { $0 + " " } ?? "") + usage + "`" + (form == .pairs ? " (repeatable)" : "")
        let variableCell = variable.map { "`\($0)`" + (variableNote.map { " (\($0))" } ?? "") } ?? "—"
        let defaultCell = defaultText.map { $0.contains("://") ? "`\($0)`" : $0 } ?? "—"
        var meaning = summary + (details.map { "; \($0)" } ?? "")
        if case .secondsBetween = form { meaning += "; \(form.expected)" }
        return "| \(flagCell) | \(variableCell) | \(defaultCell) | \(meaning.replacing("|", with: "\\|")) |"
    }
}

/// The values a ``Setting`` accepts.
enum SettingForm: Sendable, Equatable {
    /// Any non-empty text (a name, a path, a URL).
    case text
    /// A whole number in the range.
    case whole(ClosedRange<Int>)
    /// A number of seconds, fractions allowed: above zero, or from zero on.
    case seconds(allowZero: Bool)
    /// A number of seconds in the range, fractions allowed.
    case secondsBetween(ClosedRange<Double>)
    /// A switch: off unless the flag is given or the variable is 1/true/yes/on.
    case toggle
    /// `KEY=VALUE`, a repeatable flag; the variable holds a comma-separated list.
    case pairs

    /// What a bad value should have been, for error messages.
    var expected: String {
        switch self {
        case .text: "a non-empty value"
        case let .whole(range) where range.upperBound == .max: "a whole number >= \(range.lowerBound)"
        case let .whole(range): "a whole number from \(range.lowerBound) to \(range.upperBound)"
        case let .seconds(allowZero): allowZero ? "seconds >= 0" : "seconds > 0"
        case let .secondsBetween(range):
            "seconds from \(Settings.format(range.lowerBound)) to \(Settings.format(range.upperBound))"
        case .toggle: "true or false"
        case .pairs: "KEY=VALUE"
        }
    }
}

/// A type a ``Setting`` can yield, with its default shown as text (nil: no default) and the
/// form it is read in.
protocol SettingValue: Sendable {
    var settingText: String? { get }
    static func fits(_ form: SettingForm) -> Bool
}

extension Int: SettingValue {
    var settingText: String? { String(self) }
    static func fits(_ form: SettingForm) -> Bool { if case .whole = form { true } else { false } }
}

extension String: SettingValue {
    var settingText: String? { self }
    static func fits(_ form: SettingForm) -> Bool { form == .text }
}

extension Bool: SettingValue {
    var settingText: String? { self ? "on" : "off" }
    static func fits(_ form: SettingForm) -> Bool { form == .toggle }
}

extension Duration: SettingValue {
    static func fits(_ form: SettingForm) -> Bool {
        switch form {
        case .seconds, .secondsBetween: true
        default: false
        }
    }
    var settingText: String? {
        let (seconds, attoseconds) = components
        return Settings.format(Double(seconds) + Double(attoseconds) / 1e18)
    }
}

extension Dictionary: SettingValue where Key == String, Value == String {
    var settingText: String? { isEmpty ? nil : map { "\($0)=\($1)" }.sorted().joined(separator: ",") }
    static func fits(_ form: SettingForm) -> Bool { form == .pairs }
}

extension Optional: SettingValue where Wrapped: SettingValue {
    var settingText: String? { self?.settingText }
    static func fits(_ form: SettingForm) -> Bool { Wrapped.fits(form) }
}

extension Setting where Value == Duration {
    /// The default in seconds, for a flag parsed as a `Double`.
    var defaultSeconds: Double {
        let (seconds, attoseconds) = defaultValue.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    /// Checks a flag that reads no variable against the form (a command's `validate()`); the
    /// error names the flag, the value and what it takes.
    func check(_ flag: Double?) throws {
        try Self.validating { _ = try Settings(environment: [:]).seconds(flag, self) }
    }
}

extension Setting where Value == Duration? {
    /// Checks a flag that reads no variable against the form (a command's `validate()`).
    func check(_ flag: Double?) throws {
        try Self.validating { _ = try Settings(environment: [:]).seconds(flag, self) }
    }
}

extension Setting where Value == Int {
    /// Checks a flag that reads no variable against the form (a command's `validate()`).
    func check(_ flag: Int?) throws {
        try Self.validating { _ = try Settings(environment: [:]).integer(flag, self) }
    }
}

extension Setting {
    /// Runs a check in `validate()`: its error becomes ArgumentParser's `ValidationError`, which
    /// exits 64 with the usage line, as every bad flag does (another error type thrown from
    /// `validate()` would exit 1).
    static func validating(_ check: () throws -> Void) throws {
        do { try check() } catch let error as CommandError { throw ValidationError(error.description) }
    }
}

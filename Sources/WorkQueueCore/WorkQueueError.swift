/// Errors of the framework itself. Each description says what to do.
public enum WorkQueueError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A handler option has a value of the wrong form.
    case invalidOption(key: String, value: String, expected: String)
    /// A worker setting is out of range.
    case invalidConfiguration(String)
    /// A queue key holds a value of the wrong type (e.g. `NAME` is a string, not a list).
    case wrongKeyType(key: String, actual: String, expected: String)
    /// The backend could not be reached.
    case backendUnavailable(String)
    /// The backend refused an operation in a way retrying cannot fix (a missing permission, a
    /// script error, an unknown command); the message says what to change.
    case backendRefused(String)

    /// True for errors that retrying cannot fix (bad settings, a key of the wrong type): the
    /// runner's and the command's rule for giving up.
    package var isPermanent: Bool {
        switch self {
        case .invalidOption, .invalidConfiguration, .wrongKeyType, .backendRefused: true
        case .backendUnavailable: false
        }
    }

    /// What went wrong and what to do about it, in one line.
    public var description: String {
        switch self {
        case let .invalidOption(key, value, expected):
            "option \(key)=\(value) is invalid: expected \(expected); fix the --option flag"
        case let .invalidConfiguration(message):
            "invalid configuration: \(message)"
        case let .wrongKeyType(key, actual, expected):
            "key '\(key)' holds a \(actual), but the queue needs a \(expected) there; nothing was modified. "
                + "Use another queue name, or delete the key if it is not in use"
        case let .backendUnavailable(message):
            "the queue backend is unavailable: \(message)"
        case let .backendRefused(message):
            "the queue backend refused the operation: \(message)"
        }
    }
}

/// A handler that can be chosen by name and built from `KEY=VALUE` options: what the
/// `workqueue` command lists under `handlers`, selects with `--handler NAME`, and what a Swift
/// plugin exports.
public protocol NamedWorkHandler: WorkHandler {
    /// The name used on the command line (`--handler printer`).
    static var name: String { get }
    /// One line saying what the handler does.
    static var summary: String { get }
    /// Builds the handler; throws ``WorkQueueError/invalidOption(key:value:expected:)`` for a
    /// bad option.
    init(options: [String: String]) throws
}

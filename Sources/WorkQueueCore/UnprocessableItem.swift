/// Thrown by a handler for an item that can never succeed (it does not parse, it names
/// something that does not exist): the runner dead-letters the item at once, on this attempt,
/// instead of retrying it. Any other error counts a failed attempt and is retried.
///
/// ```swift
/// guard let number = Int(item.string) else {
///     throw UnprocessableItem("'\(item.escaped)' is not an integer")
/// }
/// ```
public struct UnprocessableItem: Error, Sendable, Hashable, CustomStringConvertible {
    /// Why the item cannot be processed; stored with the dead letter (`workqueue dead list`).
    public let reason: String

    /// An error that dead-letters the item at once, with `reason` as its message.
    public init(_ reason: String) { self.reason = reason }

    /// `unprocessable item: ` and the reason.
    public var description: String { "unprocessable item: \(reason)" }
}

import Logging

/// The handler of ``WorkContext/logger``: the worker's log handler plus the item and attempt
/// metadata, added only when a line is actually logged (setting metadata on a `Logger` makes
/// some handlers format all of it at once, which per item would cost more than a no-op
/// handler does).
struct ItemLogHandler: LogHandler {
    var base: any LogHandler
    let item: ItemLabel
    let attempt: Int

    var metadataProvider: Logger.MetadataProvider? {
        get { base.metadataProvider }
        set { base.metadataProvider = newValue }
    }

    var logLevel: Logger.Level {
        get { base.logLevel }
        set { base.logLevel = newValue }
    }

    var metadata: Logger.Metadata {
        get {
            var metadata = base.metadata
            metadata["item"] = metadata["item"] ?? .stringConvertible(item)
            metadata["attempt"] = metadata["attempt"] ?? .stringConvertible(attempt)
            return metadata
        }
        set { base.metadata = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get {
            if let value = base[metadataKey: key] { return value }
            switch key {
            case "item": return .stringConvertible(item)
            case "attempt": return .stringConvertible(attempt)
            default: return nil
            }
        }
        set { base[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) {
        var event = event
        var metadata = event.metadata ?? [:]
        if base[metadataKey: "item"] == nil && metadata["item"] == nil { metadata["item"] = .stringConvertible(item) }
        if base[metadataKey: "attempt"] == nil && metadata["attempt"] == nil { metadata["attempt"] = .stringConvertible(attempt) }
        event.metadata = metadata
        base.log(event: event)
    }
}

/// An item's printable form for log metadata, computed only when a line is actually logged.
struct ItemLabel: CustomStringConvertible, Sendable {
    let item: WorkItem
    var description: String { String(item.escaped.prefix(80)) }
}

import WorkQueue

/// The handlers compiled into this program, chosen with `work --handler NAME`: those given to
/// ``WorkerCommand/main(handlers:)``.
struct HandlerRegistry: Sendable {
    /// The registry of the command being run (set by ``WorkerCommand/main(handlers:)`` around
    /// parsing and running; none outside it).
    @TaskLocal static var current = HandlerRegistry([])

    /// Every compiled-in handler type, in the order `workqueue handlers` lists them.
    let all: [any NamedWorkHandler.Type]

    init(_ handlers: [any NamedWorkHandler.Type]) {
        all = handlers
    }

    /// The names, sorted.
    var names: [String] { all.map { $0.name }.sorted() }

    /// The handler `work` runs without --handler: the only one compiled in, if there is exactly one.
    var sole: (any NamedWorkHandler.Type)? { all.count == 1 ? all[0] : nil }

    /// Builds the handler called `name` with its `KEY=VALUE` options.
    func make(_ name: String, options: [String: String]) throws -> any WorkHandler {
        guard let type = all.first(where: { $0.name == name }) else {
            throw CommandError.unknownHandler(name, known: names)
        }
        return try type.init(options: options)
    }
}

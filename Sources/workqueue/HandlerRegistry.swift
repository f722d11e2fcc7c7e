import FactorHandler
import NoopHandler
import PrinterHandler
import WorkQueue

/// The handlers compiled into the `workqueue` executable, chosen with `--handler NAME`.
enum HandlerRegistry {
    /// Every compiled-in handler type, in the order `workqueue handlers` lists them.
    static let all: [any NamedWorkHandler.Type] = [Printer.self, Factor.self, Noop.self]

    /// The names, sorted.
    static var names: [String] { all.map { $0.name }.sorted() }

    /// Builds the handler called `name` with its `KEY=VALUE` options.
    static func make(_ name: String, options: [String: String]) throws -> any WorkHandler {
        guard let type = all.first(where: { $0.name == name }) else {
            throw CommandError.unknownHandler(name, known: names)
        }
        return try type.init(options: options)
    }
}

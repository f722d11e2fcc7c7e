import ArgumentParser
import WorkQueue

/// `workqueue handlers`: the compiled-in handlers.
struct Handlers: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the compiled-in handlers, one per line: name and summary.")

    func run() throws {
        let handlers = HandlerRegistry.current.all
        let width = handlers.map { $0.name.count }.max() ?? 0
        for type in handlers {
            StandardOutput.line(type.name.padded(to: width + 2) + type.summary)
        }
    }
}

import ArgumentParser
import Testing
import WorkQueue
@testable import WorkQueueCommand

private struct Shout: NamedWorkHandler {
    static let name = "shout"
    static let summary = "upper-cases each item"
    init(options: [String: String]) throws {}
    func handle(_ item: WorkItem, context: WorkContext) async throws -> String? { item.string.uppercased() }
}

private struct Whisper: NamedWorkHandler {
    static let name = "whisper"
    static let summary = "lower-cases each item"
    init(options: [String: String]) throws {}
    func handle(_ item: WorkItem, context: WorkContext) async throws -> String? { item.string.lowercased() }
}

/// Which handler `work` runs, with the handlers a program passed to `WorkerCommand.main(handlers:)`
/// (no Redis: the handler is chosen before connecting).
@Suite struct HandlerChoiceTests {
    /// Parses `work ARGS` as the root command does and chooses its handler, with `handlers`
    /// compiled in and `environment` as the process's.
    private func choose(_ arguments: [String], handlers: [any NamedWorkHandler.Type],
                        environment: [String: String] = [:]) throws -> any WorkHandler {
        try HandlerRegistry.$current.withValue(HandlerRegistry(handlers)) {
            let parsed = try RootCommand.parseAsRoot(["work", "--queue", "q"] + arguments)
            let work = try #require(parsed as? Work)
            return try work.makeHandler(Settings(environment: environment), options: [:])
        }
    }

    @Test func theOnlyHandlerIsTheDefault() throws {
        #expect(try choose([], handlers: [Shout.self]) is Shout)
        #expect(try choose(["--handler", "shout"], handlers: [Shout.self]) is Shout)
        #expect(try choose([], handlers: [Shout.self], environment: ["WORKQUEUE_HANDLER": "shout"]) is Shout)
    }

    @Test func theOnlyHandlerStillRefusesAnUnknownName() throws {
        let error = #expect(throws: CommandError.self) { try choose(["--handler", "printer"], handlers: [Shout.self]) }
        #expect(error?.description.hasPrefix("unknown handler 'printer'; the compiled-in handlers are: shout ") == true)
    }

    @Test func aPluginOverridesTheOnlyHandler() throws {
        for (arguments, environment) in [(["--plugin", "./no-such-plugin.so"], [:]),
                                         ([], ["WORKQUEUE_PLUGIN": "./no-such-plugin.so"])] {
            do {
                _ = try choose(arguments, handlers: [Shout.self], environment: environment)
                Issue.record("a missing plugin loaded")
            } catch {
                // The plugin was tried (and could not be loaded): a configuration error, not the handler choice.
                #expect(!(error is CommandError), "\(error)")
                #expect(ExitStatus.code(for: error) == ExitStatus.configuration, "\(error)")
            }
        }
    }

    @Test func symbolWithoutPluginIsRefusedEvenWithOneHandler() throws {
        let error = #expect(throws: CommandError.self) {
            try choose(["--symbol", "square", "--signature", "i64(i64)"], handlers: [Shout.self])
        }
        #expect(error?.description.hasPrefix("missing --handler NAME (or WORKQUEUE_HANDLER) or --plugin PATH") == true)
        #expect(error.map { ExitStatus.code(for: $0) } == ExitStatus.usage)
    }

    @Test func severalHandlersNeedExactlyOneChoice() throws {
        let handlers: [any NamedWorkHandler.Type] = [Whisper.self, Shout.self]
        let missing = #expect(throws: CommandError.self) { try choose([], handlers: handlers) }
        #expect(missing?.description == "missing --handler NAME (or WORKQUEUE_HANDLER) or --plugin PATH (or WORKQUEUE_PLUGIN); "
            + "the compiled-in handlers are: shout, whisper")
        #expect(missing.map { ExitStatus.code(for: $0) } == ExitStatus.usage)
        #expect(try choose(["--handler", "whisper"], handlers: handlers) is Whisper)
        #expect(try choose(["--handler", "shout"], handlers: handlers) is Shout)
        let both = #expect(throws: CommandError.self) {
            try choose(["--handler", "shout", "--plugin", "./x.so"], handlers: handlers)
        }
        #expect(both?.description == "give either --handler NAME or --plugin PATH, not both")
    }

    @Test func noHandlerCompiledInNeedsAPlugin() throws {
        let error = #expect(throws: CommandError.self) { try choose([], handlers: []) }
        #expect(error?.description == "missing --plugin PATH (or WORKQUEUE_PLUGIN): no handler is compiled in")
    }

    @Test func helpNamesTheDefaultOnlyWhenThereIsOne() throws {
        let one = HandlerRegistry.$current.withValue(HandlerRegistry([Shout.self])) { Work.helpMessage(columns: 400) }
        #expect(one.contains("A compiled-in handler: see `workqueue handlers` (env WORKQUEUE_HANDLER; default shout, the only one, unless --plugin is given)."))
        let two = HandlerRegistry.$current.withValue(HandlerRegistry([Shout.self, Whisper.self])) { Work.helpMessage(columns: 400) }
        #expect(two.contains("A compiled-in handler: see `workqueue handlers` (env WORKQUEUE_HANDLER)."))
    }
}

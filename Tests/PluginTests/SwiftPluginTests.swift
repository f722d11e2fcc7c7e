import FactorHandler
import PrinterHandler
import Testing
import TestSupport
import WorkQueue
import WorkQueuePlugins
import WorkQueueTesting

/// The Swift example plugins (libPrinterPlugin.so, libFactorPlugin.so) behave like the
/// compiled-in handlers they wrap: same name, same results, same dead letters.
@Suite struct SwiftPluginTests {
    private func compare(
        product: String, compiledIn: any NamedWorkHandler.Type, items: [WorkItem]
    ) async throws {
        let plugin = try PluginLoader.loadPlugin(path: try builtPlugin(product), options: [:])
        #expect(plugin.name == compiledIn.name)
        #expect(plugin.summary == compiledIn.summary)
        let fromPlugin = try await HandlerHarness(plugin).run(items)
        let direct = try await HandlerHarness(try compiledIn.init(options: [:])).run(items)
        #expect(fromPlugin.results == direct.results)
        #expect(fromPlugin.deadLetters == direct.deadLetters)
    }

    @Test func printerPluginMatchesPrinter() async throws {
        try await compare(product: "PrinterPlugin", compiledIn: Printer.self, items: ["apple", "banana", WorkItem([0xFF, 0x0A])])
    }

    @Test func factorPluginMatchesFactor() async throws {
        try await compare(product: "FactorPlugin", compiledIn: Factor.self, items: ["12", "97", "1000000007", "not a number"])
    }
}

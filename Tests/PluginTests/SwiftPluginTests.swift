import FactorHandler
import PrinterHandler
import Testing
import TestSupport
import WordCountHandler
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

    /// A typed handler as a plugin: an item that does not decode is dead-lettered on its first
    /// attempt (WORKQUEUE_PLUGIN_REJECTED), with the same coding path as compiled in.
    @Test func wordCountPluginMatchesWordCountAndRejectsMalformedItemsAtOnce() async throws {
        let malformed: WorkItem = #"{"text": ["a", "b"]}"#
        try await compare(
            product: "WordCountPlugin", compiledIn: WordCount.self,
            items: [#"{"text": "a bb ccc", "min": 2}"#, malformed, #"{"text": "x", "min": -1}"#, "not json"]
        )
        let plugin = try PluginLoader.loadPlugin(path: try builtPlugin("WordCountPlugin"), options: [:])
        let report = try await HandlerHarness(plugin).run([#"{"text": "a bb ccc", "min": 2}"#, malformed])
        #expect(try report.results(as: WordCount.Output.self) == [WordCount.Output(words: 2), nil])
        #expect(report.failures.map(\.attempt) == [1])
        let letter = try #require(report.deadLetters.first)
        #expect(letter.attempts == 1)
        #expect(letter.lastError?.hasPrefix("unprocessable item: the item does not decode as Input at $.text: expected String") == true,
                "\(letter)")
    }
}

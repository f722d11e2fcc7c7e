// The Swift sample of WorkQueuePluginKit.docc's article "Plugins" (Plugins.md). scripts/docs
// checks that every line of each ```swift block there (imports aside) appears here as it is,
// and compiles its C samples against workqueue_plugin.h. The test never calls `entry()`:
// PluginExport exports one handler type per process, and PluginTests runs in this process.
import Testing
import WorkQueueCore
import WorkQueuePluginKit
import WorkQueueTesting

struct Upper: NamedWorkHandler {
    static let name = "upper"
    static let summary = "upper-cases each item"
    init(options: [String: String]) throws {}

    func handle(_ item: WorkItem, context: WorkContext) async throws -> String? {
        guard !item.bytes.isEmpty else { throw UnprocessableItem("an empty item") }
        return item.string.uppercased()
    }
}

@_cdecl("workqueue_plugin_entry") public func entry() -> UnsafeRawPointer { PluginExport.table(for: Upper.self) }

@Suite struct PluginsSamples {
    @Test func theExportedHandlerWorksCompiledIn() async throws {
        let report = try await HandlerHarness(try Upper(options: [:])).run(["abc", ""])
        #expect(report.results == ["abc": "ABC"])
        #expect(report.deadLettered == [""])
    }
}

import Foundation
import Testing
import TestSupport

/// `work --plugin`: shared objects drain a queue exactly as the compiled-in handlers do.
@Suite struct PluginFlowTests {
    static func plugin(_ product: String) throws -> String {
        let path = productsDirectory() + "/lib\(product).so"
        try #require(FileManager.default.fileExists(atPath: path),
                     "\(path) is missing: build it first (swift build --product \(product); scripts/test does)")
        return path
    }

    /// Drains `items` from a fresh queue with `selection` and returns stdout minus the session line.
    static func drain(_ items: [String], _ selection: [String], queue: String, redis: LocalRedis) async throws -> [String] {
        try await redis.cli(["rpush", queue] + items)
        let (worker, termination) = try await Workqueue(redis).run(["work", "--queue", queue] + selection)
        #expect(termination == .exited(0), "\(selection): \(worker.stderr)")
        return Array(worker.stdoutLines.dropFirst())
    }

    @Test func printerAndFactorPluginsPrintWhatTheCompiledInHandlersPrint() async throws {
        try await LocalRedis.with { redis in
            let fruits = ["apple", "banana", "cherry"]
            let compiled = try await Self.drain(fruits, ["--handler", "printer"], queue: "a", redis: redis)
            let loaded = try await Self.drain(fruits, ["--plugin", try Self.plugin("PrinterPlugin")], queue: "b", redis: redis)
            #expect(compiled == ["Initial queue state: empty=False", "Working on apple", "Working on banana", "Working on cherry",
                                 "Queue empty, exiting"])
            #expect(loaded == compiled)

            let numbers = ["12", "97", "240000000029158600000672311701"]
            let factored = try await Self.drain(numbers, ["--handler", "factor"], queue: "c", redis: redis)
            let factoredByPlugin = try await Self.drain(numbers, ["--plugin", try Self.plugin("FactorPlugin")], queue: "d", redis: redis)
            #expect(factored.contains("240000000029158600000672311701 = 400000000012373 * 600000000054337"))
            #expect(factoredByPlugin == factored)
        }
    }

    @Test func aCPluginAndAPlainCFunctionThroughLibffiDrainQueues() async throws {
        try await LocalRedis.with { redis in
            let upper = try await Self.drain(["abc"], ["--plugin", try Self.plugin("CPrinterPlugin")], queue: "c", redis: redis)
            #expect(upper.contains { $0.contains("ABC") }, "\(upper)")

            let directory = try TemporaryDirectory()
            let source = directory.file("square.c")
            try Data("#include <stdint.h>\nint64_t square(int64_t x) { return x * x; }\n".utf8).write(to: URL(fileURLWithPath: source))
            let library = directory.file("libsquare.so")
            let (cc, built) = try await ChildProcess.run(try LocalRedis.locate("cc"), ["-shared", "-fPIC", "-o", library, source],
                                                         directory: directory.path, label: "cc")
            try #require(built == .exited(0), "\(cc.stderr)")
            chmod(library, 0o755)
            _ = try await Self.drain(["7", "-3"], ["--plugin", library, "--symbol", "square", "--signature", "i64(i64)"],
                                     queue: "sq", redis: redis)
            #expect(try await redis.cli("xrange", "sq:results", "-", "+").contains("49"))
            #expect(try await redis.cli("get", "sq:completed") == "2")
        }
    }

    @Test func aBrokenPluginFailsClearlyAndTouchesNoItem() async throws {
        try await LocalRedis.with { redis in
            try await redis.cli("rpush", "q", "a")
            let directory = try TemporaryDirectory()
            let notAnObject = directory.file("libbroken.so")
            try Data("not an ELF file".utf8).write(to: URL(fileURLWithPath: notAnObject))
            chmod(notAnObject, 0o755)
            let wq = try Workqueue(redis)
            for path in [notAnObject, directory.file("libmissing.so")] {
                let (worker, termination) = try await wq.run(["work", "--queue", "q", "--plugin", path])
                #expect(termination == .exited(78))
                #expect(worker.stderr.contains(path), "\(worker.stderr)")
                #expect(!worker.stdout.contains("Worker with sessionID"))
            }
            #expect(try await redis.cli("lrange", "q", "0", "-1") == "a")
            #expect(try await redis.cli("exists", "q:processing") == "0")
        }
    }
}

import Foundation
import Testing
import TestSupport

/// A worker of one's own, `WorkerCommand.main(handlers: [Printer.self])` (Examples/PrinterWorker):
/// the library's public entry point run as a program, with one handler compiled in.
@Suite struct OwnWorkerTests {
    /// `.build/<config>/printer-worker`, or an error saying how to build it.
    static func executable() throws -> String {
        let path = productsDirectory() + "/printer-worker"
        try #require(FileManager.default.isExecutableFile(atPath: path),
                     "\(path) is missing: build it first (swift build --product printer-worker, or --build-tests)")
        return path
    }

    /// Runs `printer-worker ARGS` against `redis` to completion.
    static func run(_ arguments: [String], redis: LocalRedis, in directory: TemporaryDirectory, label: String) async throws
        -> (process: ChildProcess, termination: ChildProcess.Termination)
    {
        try await ChildProcess.run(try executable(), arguments, environment: ["REDIS_URL": redis.url, "WORKQUEUE_LOG_LEVEL": "notice"],
                                   directory: directory.path, label: label)
    }

    @Test func theOnlyHandlerDrainsAQueueWithoutHandlerFlag() async throws {
        try await LocalRedis.with { redis in
            let directory = try TemporaryDirectory()
            try await redis.cli("rpush", "job2", "apple", "banana", "cherry")
            let (worker, termination) = try await Self.run(["work", "--queue", "job2"], redis: redis, in: directory, label: "work")
            #expect(termination == .exited(0), "\(worker.stderr)")
            #expect(worker.stdoutLines.first?.hasPrefix("Worker with sessionID: ") == true)
            #expect(Array(worker.stdoutLines.dropFirst()) == ["Initial queue state: empty=False", "Working on apple", "Working on banana",
                                                              "Working on cherry", "Queue empty, exiting"])

            let (handlers, listed) = try await Self.run(["handlers"], redis: redis, in: directory, label: "handlers")
            #expect(listed == .exited(0))
            #expect(handlers.stdoutLines.count == 1)
            #expect(handlers.stdout.hasPrefix("printer  prints `Working on <item>`"), "\(handlers.stdout)")
        }
    }

    /// A team's worker calls itself by its own name in help and messages, not `workqueue`.
    @Test func itsHelpAndMessagesNameItself() async throws {
        try await LocalRedis.with { redis in
            let directory = try TemporaryDirectory()
            let (help, helped) = try await Self.run(["--help"], redis: redis, in: directory, label: "help")
            #expect(helped == .exited(0))
            #expect(help.stdout.contains("USAGE: printer-worker <subcommand>"), "\(help.stdout)")
            let words = help.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
            #expect(words.contains("Run `printer-worker help <command>`"), "\(help.stdout)")
            let (work, _) = try await Self.run(["work", "--help"], redis: redis, in: directory, label: "work-help")
            #expect(work.stdout.contains("USAGE: printer-worker work"), "\(work.stdout)")
            // (The plugin ABI keeps its name: "the workqueue C ABI".)
            #expect(!help.stdout.contains("`workqueue") && !work.stdout.contains("`workqueue"), "\(help.stdout)\n\(work.stdout)")
        }
    }

    @Test func aPluginOverridesTheOnlyHandlerAndOtherNamesAreUnknown() async throws {
        try await LocalRedis.with { redis in
            let directory = try TemporaryDirectory()
            try await redis.cli("rpush", "nums", "12")
            let plugin = try PluginFlowTests.plugin("FactorPlugin")
            let (loaded, drained) = try await Self.run(["work", "--queue", "nums", "--plugin", plugin], redis: redis, in: directory,
                                                       label: "plugin")
            #expect(drained == .exited(0), "\(loaded.stderr)")
            #expect(loaded.stdoutLines.contains("12 = 2 * 2 * 3"), "\(loaded.stdout)")

            try await redis.cli("rpush", "other", "x")
            let (unknown, refused) = try await Self.run(["work", "--queue", "other", "--handler", "factor"], redis: redis, in: directory,
                                                        label: "unknown")
            #expect(refused == .exited(78))
            #expect(unknown.stderr.contains("Error: unknown handler 'factor'; the compiled-in handlers are: printer (see `printer-worker handlers`)"),
                    "\(unknown.stderr)")
            #expect(try await redis.cli("llen", "other") == "1")
        }
    }
}

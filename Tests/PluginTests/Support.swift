import Foundation
import Synchronization
import Logging
import Testing
import TestSupport
import WorkQueue

extension TemporaryDirectory {
    /// Writes `text` to `name` with `mode`.
    @discardableResult
    func write(_ name: String, _ text: String, mode: Int = 0o644) throws -> String {
        let target = file(name)
        try Data(text.utf8).write(to: URL(fileURLWithPath: target))
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: target)
        return target
    }

    /// Compiles C `source` into shared object `name` with `cc -shared -fPIC`.
    func compileSharedObject(_ name: String, source: String) throws -> String {
        let sourcePath = try write(name + ".c", source)
        let output = file(name)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/cc")
        process.arguments = ["-shared", "-fPIC", "-O1", "-o", output, sourcePath]
        try process.run()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "cc failed on \(sourcePath)")
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: output)
        return output
    }
}

/// The path of `lib<product>.so`, or a recorded issue telling how to build it.
func builtPlugin(_ product: String) throws -> String {
    let path = productsDirectory() + "/lib\(product).so"
    try #require(
        FileManager.default.fileExists(atPath: path),
        "lib\(product).so is not in \(productsDirectory()); build it first: swift build --product \(product) (with the same --scratch-path as the tests)"
    )
    return path
}

/// A context for calling a handler directly.
func makeContext(attempt: Int = 1, cancellation: CancellationFlag = CancellationFlag()) -> WorkContext {
    WorkContext(
        attempt: attempt, maxAttempts: 3, leaseDeadline: WorkInstant(sinceOrigin: .seconds(60)),
        session: "test-session", options: [:], logger: Logger(label: "plugin-tests"),
        cancellation: cancellation
    )
}

/// Runs tasks' jobs on one new thread, as the runner runs ``HandlerExecution/dedicatedThread``
/// handlers: a test that calls a blocking plugin directly then never blocks the cooperative
/// pool that the rest of the test (e.g. the code that cancels it) needs.
final class TestThreadExecutor: TaskExecutor {
    private let state = Mutex<(jobs: [UnownedJob], finished: Bool)>(([], false))
    private let wakeUp = DispatchSemaphore(value: 0)

    init() {
        let thread = Thread { [self] in
            // Ends after finish(), once every queued job ran.
            while true {
                let (jobs, finished) = state.withLock { state in
                    defer { state.jobs.removeAll() }
                    return (state.jobs, state.finished)
                }
                for job in jobs { job.runSynchronously(on: asUnownedTaskExecutor()) }
                if finished && jobs.isEmpty { return }
                wakeUp.wait()
            }
        }
        thread.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        state.withLock { $0.jobs.append(unowned) }
        wakeUp.signal()
    }

    /// Lets the thread end once its queue is empty.
    func finish() {
        state.withLock { $0.finished = true }
        wakeUp.signal()
    }
}

/// The absolute path of the plugin ABI header, `workqueue_plugin.h`, for C sources the tests compile.
func cPluginHeader(file: String = #filePath) -> String {
    URL(fileURLWithPath: file).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources/CWorkQueuePlugin/include/workqueue_plugin.h").path
}

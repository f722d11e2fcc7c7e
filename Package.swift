// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "swift-workqueue",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "WorkQueueCore", targets: ["WorkQueueCore"]),
        .library(name: "WorkQueueTyped", targets: ["WorkQueueTyped"]),
        .library(name: "WorkQueueSeam", targets: ["WorkQueueSeam"]),
        .library(name: "WorkQueue", targets: ["WorkQueue"]),
        .library(name: "WorkQueueTesting", targets: ["WorkQueueTesting"]),
        .library(name: "WorkQueueRedis", targets: ["WorkQueueRedis"]),
        .library(name: "WorkQueuePluginKit", targets: ["WorkQueuePluginKit"]),
        .library(name: "WorkQueueCommand", targets: ["WorkQueueCommand"]),
        .library(name: "PrinterPlugin", type: .dynamic, targets: ["PrinterPlugin"]),
        .library(name: "FactorPlugin", type: .dynamic, targets: ["FactorPlugin"]),
        .library(name: "CPrinterPlugin", type: .dynamic, targets: ["CPlugin"]),
        .library(name: "WordCountPlugin", type: .dynamic, targets: ["WordCountPlugin"]),
        .executable(name: "workqueue", targets: ["workqueue"]),
        .plugin(name: "WorkerImage", targets: ["WorkerImage"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        // The HTTP server of `dashboard`, `status --serve` and `work --metrics-port`: idle
        // timeouts, request limits, a connection cap (WorkQueueDashboard's HTTPServer.swift).
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        // `swift package generate-documentation`: the DocC catalogs (scripts/docs).
        .package(url: "https://github.com/swiftlang/swift-docc-plugin.git", from: "1.5.0"),
        // Tracing (docs/tracing.md): the API in the runner and the producer (light: no
        // dependencies of its own), the OTLP exporter in the command only, OTLP/HTTP without
        // gRPC (the OTLPHTTP trait alone; gRPC would double its build).
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
        .package(url: "https://github.com/swift-otel/swift-otel.git", from: "1.6.0", traits: ["OTLPHTTP"]),
    ],
    targets: [
        // What handler code needs and nothing more: the handler protocols, the item, the
        // context, the errors and the clock. No runner, SwiftNIO, lifecycle or metrics, so a
        // handler library or a plugin links only this (as NIOCore is split from NIOPosix).
        .target(
            name: "WorkQueueCore",
            dependencies: [.product(name: "Logging", package: "swift-log")]
        ),
        // Typed items: TypedWorkHandler over JSON (Decodable in, Encodable out). A module of its
        // own because JSON means Foundation: linked statically it doubles a plugin (7.3 MB to
        // 13.9 MB stripped), which a raw-bytes handler should not pay.
        .target(name: "WorkQueueTyped", dependencies: ["WorkQueueCore"]),
        // The queue-backend seam: the backend protocol, its capability protocols and the types
        // they exchange (Lease, Settlement, QueueCounts, ...), and ShardedBackend. What a backend
        // (WorkQueueRedis) or a producer needs, without the runner: no NIOPosix, ServiceLifecycle
        // or metrics (re-exports WorkQueueCore).
        .target(name: "WorkQueueSeam", dependencies: ["WorkQueueCore"]),
        // The framework: the runner (re-exports WorkQueueSeam, WorkQueueCore and WorkQueueTyped).
        .target(
            name: "WorkQueue",
            dependencies: [
                "WorkQueueCore", "WorkQueueTyped", "WorkQueueSeam",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ]
        ),
        // Test doubles for handler authors: in-memory queue, manual clock, harness.
        .target(name: "WorkQueueTesting", dependencies: ["WorkQueue"]),
        // SHA-224 in C: fast in debug builds too (items of megabytes are hashed).
        .target(name: "CSHA2"),
        // RESP client on SwiftNIO and the rediswq-compatible backend.
        .target(
            name: "WorkQueueRedis",
            dependencies: [
                "WorkQueueSeam", "WorkQueueTyped", "CSHA2",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ]
        ),
        // The plugin C ABI (header only).
        .target(name: "CWorkQueuePlugin"),
        // libffi, found through pkg-config.
        .systemLibrary(
            name: "CFFI",
            pkgConfig: "libffi",
            providers: [.apt(["libffi-dev"])]
        ),
        // What a Swift plugin links: exports a WorkHandler through the C ABI.
        .target(
            name: "WorkQueuePluginKit",
            dependencies: ["WorkQueueCore", "CWorkQueuePlugin", .product(name: "Logging", package: "swift-log")]
        ),
        // What the host links: dlopen loader and libffi calls.
        .target(name: "WorkQueuePlugins", dependencies: ["WorkQueue", "CWorkQueuePlugin", "CFFI"]),

        // Example handlers, compiled into the workqueue executable and built as plugins.
        .target(name: "PrinterHandler", dependencies: ["WorkQueueCore"], path: "Examples/Printer"),
        .target(
            name: "FactorHandler",
            dependencies: ["WorkQueueCore"],
            path: "Examples/Factor",
            // Optimized in debug builds too: unoptimized UInt128 arithmetic is ~200x slower,
            // which would turn the tests' 30-digit semiprime from 1 s into minutes.
            swiftSettings: [.unsafeFlags(["-O"], .when(configuration: .debug))]
        ),
        .target(name: "NoopHandler", dependencies: ["WorkQueueCore"], path: "Examples/Noop"),
        // A long item that saves checkpoints and resumes from them (WorkContext.saveCheckpoint).
        .target(name: "CountdownHandler", dependencies: ["WorkQueueCore"], path: "Examples/Countdown"),
        // A typed handler: JSON items in, JSON results out (TypedWorkHandler).
        .target(name: "WordCountHandler", dependencies: ["WorkQueueTyped"], path: "Examples/WordCount"),
        .target(
            name: "PrinterPlugin",
            dependencies: ["PrinterHandler", "WorkQueuePluginKit"],
            path: "Examples/PrinterPlugin",
            linkerSettings: pluginLinkerSettings
        ),
        .target(
            name: "FactorPlugin",
            dependencies: ["FactorHandler", "WorkQueuePluginKit"],
            path: "Examples/FactorPlugin",
            linkerSettings: pluginLinkerSettings
        ),
        .target(name: "CPlugin", dependencies: ["CWorkQueuePlugin"], path: "Examples/CPlugin"),
        .target(
            name: "WordCountPlugin",
            dependencies: ["WordCountHandler", "WorkQueuePluginKit"],
            path: "Examples/WordCountPlugin",
            linkerSettings: pluginLinkerSettings
        ),

        // The web dashboard (`workqueue dashboard`, `status --serve`): its hub (one Redis read per
        // queue per interval, the actions), its routes and access rules, its page and assets,
        // and the HTTP server on Hummingbird that the command's metrics endpoints share. No
        // ArgumentParser: the command parses the flags and passes the values in (`package` API).
        .target(
            name: "WorkQueueDashboard",
            dependencies: [
                "WorkQueueSeam", "WorkQueueRedis",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
            ]
        ),
        // The `workqueue` command as a library: every subcommand, flag, variable and exit status,
        // with the handlers to compile in passed to its entry point (`WorkerCommand.main(handlers:)`),
        // so that a team's worker is an executable of a few lines (README "Your own worker").
        .target(
            name: "WorkQueueCommand",
            dependencies: [
                "WorkQueue", "WorkQueueRedis", "WorkQueuePlugins", "WorkQueueDashboard",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "OTel", package: "swift-otel"),
            ]
        ),
        // The bundled `workqueue`: that entry point with the example handlers compiled in.
        .executableTarget(
            name: "workqueue",
            dependencies: ["WorkQueueCommand", "PrinterHandler", "FactorHandler", "NoopHandler", "WordCountHandler",
                           "CountdownHandler"]
        ),
        // A worker of one's own with a single handler (`work` needs no --handler): the end-to-end
        // tests run it as a team's program would be run.
        .executableTarget(
            name: "printer-worker",
            dependencies: ["WorkQueueCommand", "PrinterHandler"],
            path: "Examples/PrinterWorker"
        ),

        // A program that only pushes items (QueueProducer): it links the seam and the Redis
        // client, not the runner (no ServiceLifecycle, no metrics).
        .executableTarget(
            name: "producer-only",
            dependencies: ["WorkQueueRedis"],
            path: "Examples/ProducerOnly"
        ),

        // `swift package worker-image`: a per-job image context (Dockerfile + Job manifest).
        .plugin(
            name: "WorkerImage",
            capability: .command(
                intent: .custom(verb: "worker-image", description: "Write a per-job worker image context and Job manifest"),
                permissions: [.writeToPackageDirectory(reason: "writes .build/worker-images/<job>/")]
            ),
            path: "Plugins/WorkerImage"
        ),

        // The contract every backend passes (the in-memory fake and Redis alike).
        .target(
            name: "WorkQueueContract",
            dependencies: ["WorkQueue"],
            path: "Tests/WorkQueueContract"
        ),
        .testTarget(
            name: "WorkQueueTests",
            dependencies: ["WorkQueue", "WorkQueueTesting", "WorkQueueContract",
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "MetricsTestKit", package: "swift-metrics"),
                           .product(name: "CoreMetrics", package: "swift-metrics"),
                           .product(name: "InMemoryTracing", package: "swift-distributed-tracing")]
        ),
        .testTarget(
            name: "WorkQueueRedisTests",
            dependencies: ["WorkQueue", "WorkQueueRedis", "WorkQueueContract", "TestSupport",
                           .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
                           .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "NIOEmbedded", package: "swift-nio"),
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "NIOPosix", package: "swift-nio")]
        ),
        .testTarget(
            name: "ExamplesTests",
            dependencies: ["PrinterHandler", "FactorHandler", "NoopHandler", "WordCountHandler", "CountdownHandler",
                           "WorkQueueTesting", "TestSupport",
                           .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "PluginTests",
            dependencies: ["WorkQueuePlugins", "WorkQueuePluginKit", "WorkQueueTesting", "WorkQueue", "PrinterHandler", "FactorHandler",
                           "WordCountHandler",
                           "TestSupport"]
        ),
        // Real processes for tests: child processes, a local redis-server, temp dirs.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "EndToEndTests", dependencies: ["TestSupport"]),
        // The web dashboard in a real headless Chromium driven over WebDriver (chromedriver),
        // against a real Redis and real workers; skipped when no browser is installed unless
        // WORKQUEUE_REQUIRE_BROWSER=1 (scripts/browser-test installs one and sets it).
        .testTarget(name: "DashboardBrowserTests", dependencies: ["TestSupport"]),
        // The command library in process: handler choice with one or several handlers compiled in.
        .testTarget(
            name: "WorkQueueCommandTests",
            dependencies: ["WorkQueueCommand", "WorkQueue", "WorkQueueRedis", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        // The dashboard's internals in process: who may read it (access rules), its routes.
        .testTarget(
            name: "WorkQueueDashboardTests",
            dependencies: ["WorkQueueDashboard", "WorkQueueRedis", .product(name: "Logging", package: "swift-log"),
                           .product(name: "NIOHTTP1", package: "swift-nio")]
        ),
        // The code samples of the DocC catalogs (Sources/*/*.docc), compiled and run; scripts/docs
        // checks that each sample's lines appear here unchanged.
        .testTarget(
            name: "DocSamplesTests",
            dependencies: ["WorkQueue", "WorkQueueTesting", "WorkQueuePluginKit",
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")]
        ),
        // Against a real local Redis Cluster (6 nodes): a suite of its own, so that a quick run
        // can skip it (`swift test --skip ClusterTests`).
        .testTarget(
            name: "ClusterTests",
            dependencies: ["TestSupport", "WorkQueue", "WorkQueueRedis", .product(name: "Logging", package: "swift-log")]
        ),
    ],
    swiftLanguageModes: [.v6]
)

/// Swift plugins carry their own copy of the Swift runtime and Foundation (`-static-stdlib`), so
/// they load into a worker built with `--static-swift-stdlib` in an image with no Swift runtime
/// (scripts/plugin-static-stdlib checks it). Linking a shared object, swiftc does not pull in the
/// static Foundation's own dependencies (CoreFoundation, _FoundationCollections, ICU, dispatch),
/// so they are named here; a plugin whose code reaches Foundation (WorkQueue's Worker does) would otherwise
/// fail to load with an undefined CF symbol. lld links it without the gold warning that the
/// static Foundation's use of `mktemp` raises. `-Bsymbolic` binds the plugin's own symbols (e.g.
/// its copy of WorkQueue) to itself, never to same-named symbols a host executable exports.
/// unsafeFlags are fine here: this is the root package, and these targets are examples.
///
/// WORKQUEUE_PLUGIN_SHARED_RUNTIME=1 (an experiment for smaller images, see README "Building the
/// images offline") links the plugins against the shared Swift runtime instead: 6.5 MB stripped
/// instead of 13 MB (their copy of WorkQueue, NIO and the other packages is the rest), but they
/// then need libswift*.so at run time and a worker built without --static-swift-stdlib.
var pluginLinkerSettings: [LinkerSetting] {
    if Context.environment["WORKQUEUE_PLUGIN_SHARED_RUNTIME"] == "1" {
        return [.unsafeFlags(["-use-ld=lld", "-Xlinker", "-Bsymbolic"], .when(platforms: [.linux]))]
    }
    return [
        .unsafeFlags(
            ["-static-stdlib", "-use-ld=lld", "-Xlinker", "-Bsymbolic"]
                + ["_FoundationCShims", "_FoundationCollections", "CoreFoundation", "_FoundationICU",
                   "FoundationEssentials", "FoundationInternationalization", "dispatch", "BlocksRuntime"]
                .flatMap { ["-Xlinker", "-l\($0)"] },
            .when(platforms: [.linux])
        ),
    ]
}

// swift-tools-version: 6.1
// In-process benchmarks of the hot path's pieces (ordo-one/benchmark), kept in a package of
// their own so that building and testing the main package never builds them:
//
//   cd Benchmarks && swift package benchmark
//
// scripts/bench measures the whole worker against Redis; these measure the parts.
import PackageDescription

let package = Package(
    name: "swift-workqueue-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "swift-workqueue", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        .executableTarget(
            name: "HotPath",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "WorkQueue", package: "swift-workqueue"),
                .product(name: "WorkQueueTesting", package: "swift-workqueue"),
                .product(name: "WorkQueueRedis", package: "swift-workqueue"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Benchmarks/HotPath",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ],
    swiftLanguageModes: [.v6]
)

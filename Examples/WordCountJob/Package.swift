// swift-tools-version: 6.1
// A team's job package, as it would live in its own repository: a typed handler, its tests
// against the in-memory queue, a worker executable with the handler compiled in, and the same
// handler as a plugin for the stock image. Nothing unusual: no unsafe flags, no linker settings;
// `swift package worker-image` passes what the images need (README "Your job in your own
// package").
import PackageDescription

let package = Package(
    name: "WordCountJob",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "word-count-worker", targets: ["word-count-worker"]),
        .library(name: "WordCountJobPlugin", type: .dynamic, targets: ["WordCountJobPlugin"]),
    ],
    dependencies: [
        // In a team's own repository:
        // .package(url: "https://github.com/<owner>/swift-workqueue.git", from: "0.1.0")
        .package(name: "swift-workqueue", path: "../.."),
    ],
    targets: [
        // The handler: depends on the handler protocols and typed items only (no runner, no
        // Redis client).
        .target(
            name: "WordCount",
            dependencies: [.product(name: "WorkQueueTyped", package: "swift-workqueue")]
        ),
        // The worker: the whole `workqueue` command with the handler compiled in.
        .executableTarget(
            name: "word-count-worker",
            dependencies: ["WordCount", .product(name: "WorkQueueCommand", package: "swift-workqueue")]
        ),
        // The handler as a shared object for the stock image (`workqueue work --plugin`).
        .target(
            name: "WordCountJobPlugin",
            dependencies: ["WordCount", .product(name: "WorkQueuePluginKit", package: "swift-workqueue")]
        ),
        .testTarget(
            name: "WordCountTests",
            dependencies: ["WordCount", .product(name: "WorkQueueTesting", package: "swift-workqueue")]
        ),
    ],
    swiftLanguageModes: [.v6]
)

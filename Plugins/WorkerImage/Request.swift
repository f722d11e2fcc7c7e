import Foundation
import PackagePlugin

/// The command line, checked.
struct Request {
    enum Source {
        case handler(String), plugin(String), executable(String)
    }

    var job: String
    var queue: String
    var source: Source
    var parallelism: Int
    var options: [String]
    var image: String
    var baseImage: String?
    var keda: Bool
    var redisAddress: String
    var build: Bool

    init(_ arguments: [String]) throws {
        var extractor = ArgumentExtractor(arguments)
        guard let job = extractor.extractOption(named: "job").last, WorkerImage.isName(job) else {
            throw WorkerImageError("--job NAME is required: lowercase letters, digits and '-', e.g. --job job-wq-2")
        }
        guard let queue = extractor.extractOption(named: "queue").last, !queue.isEmpty else {
            throw WorkerImageError("--queue NAME is required, e.g. --queue job2")
        }
        let sources: [Source] = extractor.extractOption(named: "handler").map { .handler($0) }
            + extractor.extractOption(named: "plugin-product").map { .plugin($0) }
            + extractor.extractOption(named: "executable-product").map { .executable($0) }
        guard sources.count == 1, let source = sources.first else {
            throw WorkerImageError(
                "give exactly one of --handler NAME (compiled into the stock image), --plugin-product PRODUCT (a .dynamic library of this package, on the stock image) or --executable-product PRODUCT (this package's worker executable, on a slim Debian base)")
        }
        let parallelismText = extractor.extractOption(named: "parallelism").last ?? "2"
        guard let parallelism = Int(parallelismText), parallelism >= 1 else {
            throw WorkerImageError("--parallelism must be a whole number >= 1 (got '\(parallelismText)')")
        }
        let options = extractor.extractOption(named: "option")
        if let bad = options.first(where: { !$0.contains("=") || $0.hasPrefix("=") || $0.contains(",") }) {
            throw WorkerImageError("--option '\(bad)' is not KEY=VALUE (without commas)")
        }
        let image = extractor.extractOption(named: "image").last ?? "\(job):latest"
        if image.isEmpty || image.contains(where: { $0.isWhitespace || $0 == "\"" }) {
            throw WorkerImageError("--image '\(image)' is not an image reference such as registry.example.com/team/\(job):1.0")
        }
        let baseImage = extractor.extractOption(named: "base-image").last
        if let baseImage, baseImage.isEmpty || baseImage.contains(where: { $0.isWhitespace }) {
            throw WorkerImageError("--base-image '\(baseImage)' is not an image reference such as debian:bookworm-slim")
        }
        let explicitAddress = extractor.extractOption(named: "redis-address").last
        // The Service of deploy/kubernetes/redis.yaml in the default namespace.
        let redisAddress = explicitAddress ?? "redis.default.svc.cluster.local:6379"
        guard let colon = redisAddress.lastIndex(of: ":"), colon != redisAddress.startIndex,
              let port = Int(redisAddress[redisAddress.index(after: colon)...]), (1...65535).contains(port)
        else {
            throw WorkerImageError("--redis-address '\(redisAddress)' is not HOST:PORT, e.g. redis.default.svc.cluster.local:6379")
        }
        let keda = extractor.extractFlag(named: "keda") > 0
        let build = extractor.extractFlag(named: "build") > 0
        if !extractor.remainingArguments.isEmpty {
            throw WorkerImageError("unexpected arguments: \(extractor.remainingArguments.joined(separator: " "))")
        }
        if !keda, explicitAddress != nil {
            throw WorkerImageError("--redis-address is the KEDA scaler's: give --keda too")
        }
        (self.job, self.queue, self.source, self.parallelism, self.options) = (job, queue, source, parallelism, options)
        (self.image, self.baseImage, self.keda, self.redisAddress, self.build) = (image, baseImage, keda, redisAddress, build)
    }
}

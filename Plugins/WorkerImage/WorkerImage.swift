import Foundation
import PackagePlugin

/// `swift package --allow-writing-to-package-directory worker-image --job NAME --queue QUEUE
/// (--handler NAME | --plugin-product PRODUCT) [--parallelism N] [--option KEY=VALUE ...]`
///
/// Writes a per-job image context to `.build/worker-images/<job>/`: a Dockerfile that starts
/// from the stock worker image (`workqueue:latest`, built from this repository's Dockerfile)
/// and, for `--plugin-product`, adds the plugin built in release mode, plus a Kubernetes Job
/// manifest configured through the worker's environment variables.
@main
struct WorkerImage: CommandPlugin {
    func performCommand(context: PluginContext, arguments: [String]) async throws {
        var extractor = ArgumentExtractor(arguments)
        guard let job = extractor.extractOption(named: "job").last, Self.isName(job) else {
            throw WorkerImageError("--job NAME is required: lowercase letters, digits and '-', e.g. --job job-wq-2")
        }
        guard let queue = extractor.extractOption(named: "queue").last, !queue.isEmpty else {
            throw WorkerImageError("--queue NAME is required, e.g. --queue job2")
        }
        let handler = extractor.extractOption(named: "handler").last
        let product = extractor.extractOption(named: "plugin-product").last
        let parallelismText = extractor.extractOption(named: "parallelism").last ?? "2"
        guard let parallelism = Int(parallelismText), parallelism >= 1 else {
            throw WorkerImageError("--parallelism must be a whole number >= 1 (got '\(parallelismText)')")
        }
        let options = extractor.extractOption(named: "option")
        if let bad = options.first(where: { !$0.contains("=") || $0.hasPrefix("=") || $0.contains(",") }) {
            throw WorkerImageError("--option '\(bad)' is not KEY=VALUE (without commas)")
        }
        if !extractor.remainingArguments.isEmpty {
            throw WorkerImageError("unexpected arguments: \(extractor.remainingArguments.joined(separator: " "))")
        }

        let output = context.package.directoryURL.appending(path: ".build/worker-images/\(job)")
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        var environment = [("WORKQUEUE_QUEUE", queue)]
        var copy = ""
        switch (handler, product) {
        case let (name?, nil):
            environment.append(("WORKQUEUE_HANDLER", name))
        case let (nil, product?):
            let result = try packageManager.build(.product(product), parameters: .init(configuration: .release))
            guard result.succeeded else {
                throw WorkerImageError("building \(product) failed:\n\(result.logText)")
            }
            guard let library = result.builtArtifacts.first(where: { $0.kind == .dynamicLibrary }) else {
                throw WorkerImageError("product \(product) is not a dynamic library: declare it .library(type: .dynamic)")
            }
            let file = library.url.lastPathComponent
            let target = output.appending(path: file)
            try? FileManager.default.removeItem(at: target)
            try FileManager.default.copyItem(at: library.url, to: target)
            copy = "COPY --chmod=0644 \(file) /plugins/\(file)\n"
            environment.append(("WORKQUEUE_PLUGIN", "/plugins/\(file)"))
        default:
            throw WorkerImageError("give exactly one of --handler NAME (compiled in) or --plugin-product PRODUCT (a dynamic library of this package)")
        }
        if !options.isEmpty { environment.append(("WORKQUEUE_OPTIONS", options.joined(separator: ","))) }

        let dockerfile = """
            # Worker image for the job \(job), written by `swift package worker-image`.
            # Build the stock image first (docker build -t workqueue:latest . at the repository root), then:
            #   docker build -t \(job):latest \(output.path)
            # BASE_IMAGE names the stock image: pin a released one with --build-arg BASE_IMAGE=REPO:TAG.
            ARG BASE_IMAGE=workqueue:latest
            FROM ${BASE_IMAGE}
            \(copy)\(environment.map { "ENV \($0.0)=\(Self.quoted($0.1))" }.joined(separator: "\n"))

            """
        let manifest = """
            # The Kubernetes Job for \(job): \(parallelism) worker pods drain the queue \(queue) and exit 0.
            apiVersion: batch/v1
            kind: Job
            metadata:
              name: \(job)
            spec:
              parallelism: \(parallelism)
              backoffLimit: 4
              template:
                spec:
                  restartPolicy: OnFailure
                  terminationGracePeriodSeconds: 30
                  containers:
                    - name: worker
                      image: \(job):latest
                      args: ["work"]

            """
        try Data(dockerfile.utf8).write(to: output.appending(path: "Dockerfile"))
        try Data(manifest.utf8).write(to: output.appending(path: "job.yaml"))
        print("wrote \(output.path)/Dockerfile and job.yaml")
    }

    static func isName(_ text: String) -> Bool {
        !text.isEmpty && text.count <= 63 && text.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "-" }
            && text.first != "-" && text.last != "-"
    }

    /// A Dockerfile ENV value in double quotes.
    static func quoted(_ value: String) -> String {
        "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}

struct WorkerImageError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

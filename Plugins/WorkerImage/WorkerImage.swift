import Foundation
import PackagePlugin

/// `swift package --allow-writing-to-package-directory worker-image --job NAME --queue QUEUE
/// (--handler NAME | --plugin-product PRODUCT | --executable-product PRODUCT)
/// [--parallelism N] [--option KEY=VALUE ...] [--image REF] [--base-image REF] [--keda]
/// [--redis-address HOST:PORT] [--build]`
///
/// Writes a per-job image context to `.build/worker-images/<job>/`: a Dockerfile, the binary it
/// copies (built in release, stripped) and our recommended Kubernetes Job (`job.yaml`), plus a
/// KEDA ScaledJob with `--keda`; `--build` then builds the image with buildah.
///
/// - `--handler NAME`: the stock image (`workqueue:latest`) running a compiled-in handler.
/// - `--plugin-product P`: the stock image plus the package's `.dynamic` library P under
///   `/plugins`, linked with its own static Swift runtime and Foundation; refused here when it
///   would not load in the stock image (a shared library it needs that the image lacks, or no
///   `workqueue_plugin_entry`).
/// - `--executable-product P`: the package's own worker executable P (`WorkerCommand.main`),
///   linked with a static Swift runtime, on a slim Debian base (`debian:bookworm-slim`) that
///   needs nothing of this repository's images.
///
/// The flags the builds need are passed here, so a team's manifest has no unsafe flags; the
/// equivalent `swift build` line is printed.
@main
struct WorkerImage: CommandPlugin {
    func performCommand(context: PluginContext, arguments: [String]) async throws {
        let request = try Request(arguments)
        let output = context.package.directoryURL.appending(path: ".build/worker-images/\(request.job)")
        // A fresh context: nothing left from an earlier image of this job.
        try? FileManager.default.removeItem(at: output)
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)

        var environment = [("WORKQUEUE_QUEUE", request.queue)]
        var baseImage = "workqueue:latest"
        var body = ""
        switch request.source {
        case let .handler(name):
            environment.append(("WORKQUEUE_HANDLER", name))
        case let .plugin(product):
            let file = try build(product, kind: .plugin, into: output, context: context)
            body = "COPY --chmod=0644 \(file) /plugins/\(file)\n"
            environment.append(("WORKQUEUE_PLUGIN", "/plugins/\(file)"))
        case let .executable(product):
            let file = try build(product, kind: .executable, into: output, context: context)
            baseImage = "debian:bookworm-slim"
            body = """
                # libffi8 (the plugin loader's calls) and ca-certificates (rediss://), unless the base
                # already has them.
                # hadolint ignore=DL3008
                RUN if [ "$(dpkg-query -W -f='${db:Status-Status} ' libffi8 ca-certificates 2>/dev/null)" != "installed installed " ]; then \\
                        apt-get update && apt-get install -y --no-install-recommends libffi8 ca-certificates \\
                        && rm -rf /var/lib/apt/lists/*; \\
                    fi \\
                    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin worker
                COPY --chmod=0755 \(file) /usr/local/bin/\(file)
                USER 10001
                ENTRYPOINT ["/usr/local/bin/\(file)"]
                CMD ["work"]

                """
        }
        if !request.options.isEmpty { environment.append(("WORKQUEUE_OPTIONS", request.options.joined(separator: ","))) }
        baseImage = request.baseImage ?? baseImage

        let origin: String
        switch request.source {
        case .executable:
            origin = "# Its own worker executable on a Debian bookworm base (BASE_IMAGE, default \(baseImage))."
        case .handler, .plugin:
            origin = """
                # Built on the stock image: build it first (docker build -t workqueue:latest . at the root of
                # swift-workqueue), or pin a released one with --build-arg BASE_IMAGE=REPO:TAG.
                """
        }
        let dockerfile = """
            # Worker image for the job \(request.job), written by `swift package worker-image`.
            \(origin)
            #   docker build -t \(request.image) \(output.path)      (or: buildah bud -t ...)
            ARG BASE_IMAGE=\(baseImage)
            FROM ${BASE_IMAGE}
            \(body)\(environment.map { "ENV \($0.0)=\(Self.quoted($0.1))" }.joined(separator: "\n"))

            """
        try Data(dockerfile.utf8).write(to: output.appending(path: "Dockerfile"))
        try Data(Manifests.job(request).utf8).write(to: output.appending(path: "job.yaml"))
        var written = ["Dockerfile", "job.yaml"]
        if request.keda {
            try Data(Manifests.scaledJob(request).utf8).write(to: output.appending(path: "keda-scaledjob.yaml"))
            written.append("keda-scaledjob.yaml")
        }
        print("wrote \(output.path)/{\(written.joined(separator: ","))}")

        let buildCommand = ["buildah", "bud", "--pull=false", "-t", request.image, output.path]
        guard request.build else {
            print("build the image: \(buildCommand.joined(separator: " "))   (or docker build -t \(request.image) \(output.path))")
            return
        }
        guard let buildah = Self.which("buildah") else {
            throw WorkerImageError(
                "--build needs buildah, which is not on PATH: install it (apt-get install buildah), or drop --build and run docker build -t \(request.image) \(output.path)")
        }
        print("building \(request.image): \(buildCommand.joined(separator: " "))")
        let result = try Self.run(buildah, Array(buildCommand.dropFirst()), captureOutput: false)
        guard result.status == 0 else {
            throw WorkerImageError("buildah bud exited \(result.status) (see its messages above); the context is in \(output.path)")
        }
        print("built \(request.image)")
    }

    enum Kind {
        case plugin, executable

        /// What the build needs, passed as build parameters so that a manifest has no unsafe flags.
        /// Both link the Swift runtime statically (the images have no Swift runtime). A plugin is a
        /// shared object: swiftc does not pull in the static Foundation's own dependencies for it, so
        /// they are named (a handler reaching Foundation would otherwise fail to load with an undefined
        /// CoreFoundation symbol), and `-Bsymbolic` binds the plugin's own symbols (its copy of
        /// WorkQueueCore, swift-log) to itself, never to same-named ones the worker exports.
        var swiftcFlags: [String] { ["-static-stdlib"] }
        var linkerFlags: [String] {
            switch self {
            case .executable: []
            case .plugin:
                ["-Bsymbolic"] + ["_FoundationCShims", "_FoundationCollections", "CoreFoundation", "_FoundationICU",
                                  "FoundationEssentials", "FoundationInternationalization", "dispatch", "BlocksRuntime"]
                    .map { "-l\($0)" }
            }
        }

        /// The `swift build` line that builds the same binary.
        func swiftBuildLine(_ product: String) -> String {
            (["swift build -c release --product \(product)"] + swiftcFlags.map { "-Xswiftc \($0)" }
                + linkerFlags.map { "-Xlinker \($0)" }).joined(separator: " ")
        }
    }

    /// Builds `product` in release with what the image needs, checks it would run there, and writes
    /// it stripped into the context; returns its file name.
    func build(_ product: String, kind: Kind, into output: URL, context: PluginContext) throws -> String {
        #if !os(Linux)
        throw WorkerImageError("worker-image builds Linux images: run it on Linux (e.g. in the swift:6.3-bookworm image)")
        #endif
        let products = context.package.products
        guard let declared = products.first(where: { $0.name == product }) else {
            throw WorkerImageError("this package has no product \(product); its products: \(products.map(\.name).sorted().joined(separator: ", "))")
        }
        let isDynamicLibrary = (declared as? LibraryProduct)?.kind == .dynamic
        guard kind == .plugin ? isDynamicLibrary : declared is ExecutableProduct else {
            throw WorkerImageError(kind == .plugin
                ? "product \(product) is not a dynamic library: declare it .library(name: \"\(product)\", type: .dynamic, targets: [...])"
                : "product \(product) is not an executable: declare it .executable(name: \"\(product)\", targets: [...])")
        }
        print("building \(product) (release): \(kind.swiftBuildLine(product))")
        var parameters = PackageManager.BuildParameters(configuration: .release)
        parameters.otherSwiftcFlags = kind.swiftcFlags
        parameters.otherLinkerFlags = kind.linkerFlags
        let result = try packageManager.build(.product(product), parameters: parameters)
        guard result.succeeded else {
            throw WorkerImageError("building \(product) failed:\n\(result.logText)")
        }
        let wanted: PackageManager.BuildResult.BuiltArtifact.Kind = kind == .plugin ? .dynamicLibrary : .executable
        guard let artifact = result.builtArtifacts.first(where: { $0.kind == wanted }) else {
            throw WorkerImageError("building \(product) made no \(wanted) (built: \(result.builtArtifacts.map(\.url.lastPathComponent)))")
        }
        try ImageCheck.check(artifact.url, kind: kind, product: product)
        let file = artifact.url.lastPathComponent
        let target = output.appending(path: file)
        try? FileManager.default.removeItem(at: target)
        // Stripped: the debug info is more than half of the file.
        let stripped = try Self.which("strip").map { try Self.run($0, ["-o", target.path, artifact.url.path]).status == 0 }
        if stripped != true { try FileManager.default.copyItem(at: artifact.url, to: target) }
        let size = (try? FileManager.default.attributesOfItem(atPath: target.path)[.size] as? Int) ?? 0
        print("\(file): \(String(format: "%.1f", Double(size) / 1e6)) MB")
        return file
    }

    static func isName(_ text: String) -> Bool {
        !text.isEmpty && text.count <= 63 && text.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "-" }
            && text.first != "-" && text.last != "-"
    }

    /// A Dockerfile ENV value in double quotes.
    static func quoted(_ value: String) -> String {
        "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    /// The first executable named `tool` on PATH.
    static func which(_ tool: String) -> URL? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        return path.split(separator: ":").map { URL(filePath: String($0)).appending(path: tool) }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    /// Runs `tool` and waits; its stdout is returned when captured, else passed through.
    static func run(_ tool: URL, _ arguments: [String], captureOutput: Bool = true) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = tool
        process.arguments = arguments
        let pipe = Pipe()
        if captureOutput {
            process.standardOutput = pipe
            process.standardError = FileHandle.nullDevice
        }
        try process.run()
        let data = captureOutput ? pipe.fileHandleForReading.readDataToEndOfFile() : Data()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

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

/// A built plugin or worker checked against what the image has, before the image is written.
enum ImageCheck {
    /// The shared libraries a Debian bookworm image has (glibc, the C++ runtime, and libffi8,
    /// which the stock image and the executable image install).
    static let available = ["libc.so.", "libm.so.", "libdl.so.", "libpthread.so.", "librt.so.", "libutil.so.",
                            "ld-linux", "libstdc++.so.", "libgcc_s.so.", "libffi.so.8"]

    static func check(_ binary: URL, kind: WorkerImage.Kind, product: String) throws {
        guard let readelf = WorkerImage.which("readelf") else {
            throw WorkerImageError("checking \(binary.lastPathComponent) needs readelf, which is not on PATH: install binutils")
        }
        let dynamic = try WorkerImage.run(readelf, ["-d", "-W", binary.path])
        guard dynamic.status == 0 else { throw WorkerImageError("readelf -d \(binary.path) failed: is it an ELF file?") }
        let needed = dynamic.output.split(separator: "\n").compactMap { line -> String? in
            guard line.contains("(NEEDED)"), let open = line.lastIndex(of: "["), let close = line.lastIndex(of: "]"),
                  open < close else { return nil }
            return String(line[line.index(after: open)..<close])
        }
        let missing = needed.filter { library in !available.contains { library.hasPrefix($0) } }
        if !missing.isEmpty {
            let swift = missing.contains { $0.hasPrefix("libswift") || $0.contains("Foundation") || $0 == "libdispatch.so" }
            throw WorkerImageError("""
                \(binary.lastPathComponent) needs \(missing.joined(separator: ", ")), which the image does not have, so it would not \(kind == .plugin ? "load" : "start") there. \
                \(swift
                    ? "The Swift runtime must be linked in: build through worker-image (or \(kind.swiftBuildLine(product))), and remove any linker settings of \(product) that undo -static-stdlib."
                    : "Link that library statically, or use --executable-product with a --base-image that has it.")
                """)
        }
        guard kind == .plugin else { return }
        let symbols = try WorkerImage.run(readelf, ["--dyn-syms", "-W", binary.path])
        let exported = symbols.output.split(separator: "\n").contains { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            return fields.last == "workqueue_plugin_entry" && fields.count >= 8 && fields[6] != "UND"
        }
        guard exported else {
            throw WorkerImageError("""
                \(binary.lastPathComponent) does not export workqueue_plugin_entry, so the worker would refuse it. \
                Add to \(product) the file: @_cdecl("workqueue_plugin_entry") public func entry() -> UnsafeRawPointer { PluginExport.table(for: YourHandler.self) }
                """)
        }
    }
}

/// Our recommended Job (deploy/kubernetes/job-recommended.yaml) and KEDA ScaledJob
/// (keda-scaledjob.yaml) for one job.
enum Manifests {
    static func job(_ request: Request) -> String {
        """
        # Written by `swift package worker-image`: the worker pods drain the queue and exit 0.
        # As deploy/kubernetes/job-recommended.yaml: a bad flag, handler or plugin (exit 64, 78)
        # fails the Job at once; a disrupted pod is not counted against backoffLimit.
        apiVersion: batch/v1
        kind: Job
        metadata:
          name: \(request.job)
        spec:
          parallelism: \(request.parallelism)
          backoffLimit: 6
          podReplacementPolicy: Failed
          podFailurePolicy:
        \(podFailurePolicy(indent: "    "))
          template:
            spec:
        \(podSpec(request, indent: "      "))

        """
    }

    static func scaledJob(_ request: Request) -> String {
        """
        # Written by `swift package worker-image --keda`: KEDA starts worker Jobs while the queue's
        # list has pending items (as deploy/kubernetes/keda-scaledjob.yaml). Producers push with
        # --reopen: with KEDA the queue outlives any one Job.
        apiVersion: keda.sh/v1alpha1
        kind: ScaledJob
        metadata:
          name: \(request.job)
        spec:
          pollingInterval: 10
          maxReplicaCount: \(max(10, request.parallelism))
          successfulJobsHistoryLimit: 5
          failedJobsHistoryLimit: 5
          scalingStrategy:
            strategy: accurate
          jobTargetRef:
            backoffLimit: 6
            podFailurePolicy:
        \(podFailurePolicy(indent: "      "))
            template:
              spec:
        \(podSpec(request, indent: "        "))
          triggers:
            - type: redis
              metadata:
                address: \(request.redisAddress)
                listName: \(yamlString(request.queue))
                listLength: "1"

        """
    }

    private static func podFailurePolicy(indent: String) -> String {
        """
        rules:
          - action: FailJob
            onExitCodes:
              containerName: c
              operator: In
              values: [64, 78]
          - action: Ignore
            onPodConditions:
              - type: DisruptionTarget
                status: "True"
        """.split(separator: "\n").map { indent + $0 }.joined(separator: "\n")
    }

    private static func podSpec(_ request: Request, indent: String) -> String {
        var environment = [("WORKQUEUE_QUEUE", request.queue), ("WORKQUEUE_SHUTDOWN_GRACE_SECONDS", "30")]
        if !request.options.isEmpty { environment.append(("WORKQUEUE_OPTIONS", request.options.joined(separator: ","))) }
        return """
            # Never: the Job controller, not the kubelet, decides on retries (podFailurePolicy).
            restartPolicy: Never
            # Longer than the worker's own grace, so in-flight items finish or are released first.
            terminationGracePeriodSeconds: 45
            containers:
              - name: c
                image: \(yamlString(request.image))
                args: ["work"]
                env:
            \(environment.map { "      - name: \($0.0)\n        value: \(yamlString($0.1))" }.joined(separator: "\n"))
            """.split(separator: "\n").map { indent + $0 }.joined(separator: "\n")
    }

    /// A YAML double-quoted scalar.
    static func yamlString(_ value: String) -> String {
        "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}

struct WorkerImageError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

import Foundation
import PackagePlugin

/// `swift package --allow-writing-to-package-directory worker-image --job NAME --queue QUEUE
/// (--handler NAME | --plugin-product PRODUCT | --executable-product PRODUCT)
/// (--image REGISTRY/NAME:TAG | --registry REGISTRY [--tag TAG]) [--parallelism N]
/// [--option KEY=VALUE ...] [--base-image REF] [--keda [--namespace NS] [--target-drain-seconds S]]
/// [--redis-url URL | --redis-secret NAME]
/// [--cpu-request Q] [--memory-request Q] [--cpu-limit Q] [--memory-limit Q]
/// [--build | --manifests-only]`
///
/// Writes a per-job image context to `.build/worker-images/<job>/`: a Dockerfile, the binary it
/// copies (built in release, stripped) and our recommended Kubernetes Job (`job.yaml`), plus a
/// KEDA ScaledJob with `--keda` (`keda-scaledjob.yaml`, scaled on the queue's scaling signal, and
/// `keda-scaling.yaml`, the `status --serve` Deployment and Service serving it); `--build` then builds the image with buildah (offline: the base
/// image must be in buildah's storage). The manifests name the full image reference with an
/// `imagePullPolicy` to match, one Redis for the worker and the scaler, and resources; with
/// `--manifests-only` only they are written (nothing is built).
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
        let packageDirectory = context.package.directoryURL
        let request = try Request(arguments) { Self.revision(of: packageDirectory) }
        let output = packageDirectory.appending(path: ".build/worker-images/\(request.job)")
        // A fresh context: nothing left from an earlier image of this job.
        try? FileManager.default.removeItem(at: output)
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)

        if request.manifestsOnly {
            try writeManifests(request, into: output)
            return
        }
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
        try writeManifests(request, into: output, alsoWritten: ["Dockerfile"])

        // --pull=never: nothing is fetched (the base image must be at hand), so the build works
        // offline and a missing base is our error, not a registry's.
        let buildCommand = ["buildah", "bud", "--pull=never", "-t", request.image, output.path]
        guard request.build else {
            print("build the image: \(buildCommand.joined(separator: " "))   (or docker build -t \(request.image) \(output.path))")
            return
        }
        guard let buildah = Self.which("buildah") else {
            throw WorkerImageError(
                "--build needs buildah, which is not on PATH: install it (apt-get install buildah), or drop --build and run docker build -t \(request.image) \(output.path)")
        }
        guard try Self.run(buildah, ["inspect", "--type", "image", baseImage]).status == 0 else {
            throw WorkerImageError(baseImage.hasPrefix("workqueue:") || baseImage.hasSuffix("/workqueue:latest")
                ? "the base image \(baseImage) is not in buildah's storage: build the stock image first "
                    + "(in a checkout of swift-workqueue, as root: scripts/image-test builds localhost/workqueue:latest offline; see "
                    + "docs/deploy.md \"A team's images, offline, in CI\"), or pass --base-image REGISTRY/workqueue:TAG for one you pulled"
                : "the base image \(baseImage) is not in buildah's storage, and --build pulls nothing: pull or load it first "
                    + "(buildah pull \(baseImage); or, offline, scripts/base-image in a checkout of swift-workqueue makes the Debian "
                    + "base localhost/workqueue-base:bookworm), "
                    + "or pass --base-image REF for one you have")
        }
        print("building \(request.image): \(buildCommand.joined(separator: " "))")
        let result = try Self.run(buildah, Array(buildCommand.dropFirst()), captureOutput: false)
        guard result.status == 0 else {
            throw WorkerImageError("buildah bud exited \(result.status) (see its messages above); the context is in \(output.path)")
        }
        print("built \(request.image)")
    }

    /// Writes job.yaml (and keda-scaledjob.yaml and keda-scaling.yaml with --keda) and says what was written.
    func writeManifests(_ request: Request, into output: URL, alsoWritten: [String] = []) throws {
        try Data(Manifests.job(request).utf8).write(to: output.appending(path: "job.yaml"))
        var written = alsoWritten + ["job.yaml"]
        if request.keda {
            try Data(Manifests.scaledJob(request).utf8).write(to: output.appending(path: "keda-scaledjob.yaml"))
            try Data(Manifests.scaling(request).utf8).write(to: output.appending(path: "keda-scaling.yaml"))
            written += ["keda-scaledjob.yaml", "keda-scaling.yaml"]
        }
        print("wrote \(output.path)/{\(written.joined(separator: ","))} for \(request.image) (imagePullPolicy \(request.imagePullPolicy))")
    }

    /// The package's git revision (12 hex digits, `-dirty` with uncommitted changes), for a
    /// derived image tag; nil outside a git checkout or without git.
    static func revision(of directory: URL) -> String? {
        guard let git = which("git"),
              let head = try? run(git, ["-C", directory.path, "rev-parse", "--short=12", "HEAD"]), head.status == 0
        else { return nil }
        let revision = head.output.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !revision.isEmpty else { return nil }
        let status = try? run(git, ["-C", directory.path, "status", "--porcelain", "--untracked-files=no"])
        let dirty = status.map { $0.status == 0 && !$0.output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty } ?? false
        return dirty ? revision + "-dirty" : revision
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

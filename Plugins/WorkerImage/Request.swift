import Foundation
import PackagePlugin

/// The command line, checked.
struct Request {
    enum Source {
        case handler(String), plugin(String), executable(String)
    }

    /// Where the worker (and the KEDA scaler) find Redis: one value for both, so they cannot
    /// disagree.
    enum Redis: Equatable {
        /// A URL without credentials, written into the manifests.
        case url(String, address: String, tls: Bool)
        /// A Secret holding `url` (the worker's `REDIS_URL`), `address` (`HOST:PORT`, the
        /// scaler's) and, when Redis needs one, `password`.
        case secret(String)
    }

    /// Kubernetes resource quantities for the worker container.
    struct Resources: Equatable {
        var cpuRequest = "250m"
        var memoryRequest = "256Mi"
        var cpuLimit: String?
        var memoryLimit: String? = "512Mi"
    }

    var job: String
    var queue: String
    var source: Source
    var parallelism: Int
    var options: [String]
    /// The full image reference (registry, name and tag or digest).
    var image: String
    var baseImage: String?
    var keda: Bool
    /// The namespace the manifests go to (`--namespace`, default `default`): the KEDA operator
    /// reads the scaling signal from its own namespace, so the ScaledJob names the scaling
    /// Service by its full name.
    var namespace: String
    /// `--target-drain-seconds` of the scaling signal (`WORKQUEUE_TARGET_DRAIN_SECONDS`).
    var targetDrainSeconds: String
    var redis: Redis
    var resources: Resources
    var build: Bool
    /// Write the manifests only: build nothing (for CI checks of the manifests).
    var manifestsOnly: Bool

    /// `Always` for a moving tag (`latest`), else `IfNotPresent`: a pinned tag or a digest never
    /// changes, so a node's copy is the image.
    var imagePullPolicy: String {
        ImageReference(image)?.isMoving == false ? "IfNotPresent" : "Always"
    }

    /// The Redis the manifests name when none is given: the Service of
    /// deploy/kubernetes/redis.yaml in the default namespace (a full name, since the KEDA
    /// operator resolves it from its own namespace).
    static let defaultRedisURL = "redis://redis.default.svc.cluster.local:6379"

    /// - Parameter revision: the package's revision, for a derived tag (nil: not known).
    init(_ arguments: [String], revision: () -> String?) throws {
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
        let image = try Self.image(job: job, explicit: extractor.extractOption(named: "image").last,
                                   registry: extractor.extractOption(named: "registry").last,
                                   tag: extractor.extractOption(named: "tag").last, revision: revision)
        let baseImage = extractor.extractOption(named: "base-image").last
        if let baseImage, baseImage.isEmpty || baseImage.contains(where: { $0.isWhitespace }) {
            throw WorkerImageError("--base-image '\(baseImage)' is not an image reference such as debian:bookworm-slim")
        }
        let redis = try Self.redis(url: extractor.extractOption(named: "redis-url").last,
                                   secret: extractor.extractOption(named: "redis-secret").last,
                                   address: extractor.extractOption(named: "redis-address").last)
        var resources = Resources()
        for (flag, path) in [("cpu-request", \Resources.cpuRequest), ("memory-request", \Resources.memoryRequest)] {
            if let value = extractor.extractOption(named: flag).last { resources[keyPath: path] = try Self.quantity(value, flag: flag) }
        }
        for (flag, path) in [("cpu-limit", \Resources.cpuLimit), ("memory-limit", \Resources.memoryLimit)] {
            if let value = extractor.extractOption(named: flag).last {
                resources[keyPath: path] = value == "none" ? nil : try Self.quantity(value, flag: flag)
            }
        }
        let keda = extractor.extractFlag(named: "keda") > 0
        let namespace = extractor.extractOption(named: "namespace").last ?? "default"
        guard WorkerImage.isName(namespace) else {
            throw WorkerImageError("--namespace '\(namespace)' is not a namespace name: lowercase letters, digits and '-', e.g. --namespace jobs")
        }
        let drain = extractor.extractOption(named: "target-drain-seconds").last ?? "300"
        guard let seconds = Double(drain), seconds.isFinite, seconds >= 1, seconds <= 604_800 else {
            throw WorkerImageError("--target-drain-seconds '\(drain)' is not a number of seconds from 1 to 604800 (a week)")
        }
        let build = extractor.extractFlag(named: "build") > 0
        let manifestsOnly = extractor.extractFlag(named: "manifests-only") > 0
        if !extractor.remainingArguments.isEmpty {
            throw WorkerImageError("unexpected arguments: \(extractor.remainingArguments.joined(separator: " "))")
        }
        if build && manifestsOnly {
            throw WorkerImageError("--build and --manifests-only exclude each other: --manifests-only builds nothing")
        }
        (self.job, self.queue, self.source, self.parallelism, self.options) = (job, queue, source, parallelism, options)
        (self.image, self.baseImage, self.keda, self.redis) = (image, baseImage, keda, redis)
        (self.namespace, self.targetDrainSeconds) = (namespace, drain)
        (self.resources, self.build, self.manifestsOnly) = (resources, build, manifestsOnly)
    }

    /// `--image REF`, or `--registry R` with `--tag T` (default: the package's revision).
    static func image(job: String, explicit: String?, registry: String?, tag: String?, revision: () -> String?) throws -> String {
        if let explicit {
            guard registry == nil, tag == nil else {
                throw WorkerImageError("give either --image REF or --registry (with --tag), not both")
            }
            guard let reference = ImageReference(explicit) else {
                throw WorkerImageError("--image '\(explicit)' is not an image reference such as registry.example.com/team/\(job):1.0")
            }
            if let problem = reference.problem {
                throw WorkerImageError("--image '\(explicit)' \(problem)")
            }
            return explicit
        }
        guard let registry else {
            throw WorkerImageError(
                "say where the image will live, so that the manifests name a full reference a cluster can pull: "
                    + "--image REGISTRY/NAME:TAG (e.g. registry.example.com/team/\(job):1.0), or --registry REGISTRY "
                    + "(e.g. registry.example.com/team; localhost for an image you load into the nodes yourself) with "
                    + "--tag TAG (default: the package's git revision)")
        }
        guard let tag = tag ?? revision() else {
            throw WorkerImageError("--registry \(registry) needs --tag TAG: this package has no git revision to derive one from")
        }
        let derived = "\(registry.hasSuffix("/") ? String(registry.dropLast()) : registry)/\(job):\(tag)"
        guard let reference = ImageReference(derived), reference.problem == nil else {
            throw WorkerImageError("--registry '\(registry)' with tag '\(tag)' makes '\(derived)', which is not an image reference such as registry.example.com/team/\(job):1.0")
        }
        return derived
    }

    static func redis(url: String?, secret: String?, address: String?) throws -> Redis {
        guard [url, secret, address].compactMap({ $0 }).count <= 1 else {
            throw WorkerImageError("give one of --redis-url URL, --redis-secret NAME and --redis-address HOST:PORT (the worker and the KEDA scaler share it)")
        }
        if let secret {
            guard WorkerImage.isName(secret) else {
                throw WorkerImageError("--redis-secret '\(secret)' is not a Secret name (lowercase letters, digits and '-')")
            }
            return .secret(secret)
        }
        // --redis-address (the KEDA scaler's only, before --redis-url) is the plain URL of that address.
        let text = url ?? address.map { "redis://\($0)" } ?? defaultRedisURL
        guard let components = URLComponents(string: text), let scheme = components.scheme, ["redis", "rediss"].contains(scheme),
              let host = components.host, !host.isEmpty, !host.contains(",")
        else {
            throw WorkerImageError("--redis-url '\(text)' is not redis://HOST:PORT or rediss://HOST:PORT (one host; a Cluster's seeds go in a Secret: --redis-secret)")
        }
        guard components.user == nil, components.password == nil else {
            throw WorkerImageError("--redis-url has credentials, which would be written into the manifests in clear: put the URL in a Secret (keys url, address, password) and give --redis-secret NAME")
        }
        let port = components.port ?? 6379
        guard (1...65535).contains(port) else { throw WorkerImageError("--redis-url '\(text)' has no valid port") }
        return .url(text, address: "\(host):\(port)", tls: scheme == "rediss")
    }

    /// A Kubernetes quantity (`250m`, `1`, `512Mi`, `1G`).
    static func quantity(_ value: String, flag: String) throws -> String {
        let pattern = #"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$"#
        guard value.range(of: pattern, options: .regularExpression) != nil else {
            throw WorkerImageError("--\(flag) '\(value)' is not a Kubernetes quantity such as 250m, 1, 256Mi or 1Gi")
        }
        return value
    }
}

/// An image reference: `[REGISTRY/]PATH[:TAG][@DIGEST]`.
struct ImageReference {
    var registry: String?
    var tag: String?
    var digest: String?

    init?(_ text: String) {
        guard !text.isEmpty, !text.contains(where: { $0.isWhitespace || $0 == "\"" }) else { return nil }
        var rest = Substring(text)
        if let at = rest.firstIndex(of: "@") {
            digest = String(rest[rest.index(after: at)...])
            rest = rest[..<at]
        }
        let parts = rest.split(separator: "/", omittingEmptySubsequences: false)
        guard let last = parts.last, !parts.contains(where: \.isEmpty) else { return nil }
        if parts.count > 1, let first = parts.first, first.contains(".") || first.contains(":") || first == "localhost" {
            registry = String(first)
        }
        if let colon = last.lastIndex(of: ":") {
            tag = String(last[last.index(after: colon)...])
            if tag?.isEmpty == true { return nil }
        }
    }

    /// A tag that names whatever was pushed last: pulled again every time.
    var isMoving: Bool { digest == nil && (tag == nil || tag == "latest") }

    /// Why a cluster could not pull it as written (nil: it can).
    var problem: String? {
        if registry == nil {
            return "names no registry (a cluster would look it up on Docker Hub): give the full reference, e.g. registry.example.com/team/NAME:TAG, or localhost/NAME:TAG for an image loaded into the nodes"
        }
        if tag == nil && digest == nil { return "has no tag: add one (:1.0, a git revision), or a digest" }
        return nil
    }
}

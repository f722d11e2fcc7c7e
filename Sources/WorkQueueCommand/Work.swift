import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging
import ServiceLifecycle
import Synchronization
import WorkQueue
import WorkQueuePlugins
import WorkQueueRedis

/// `workqueue work`: drains a queue with a handler, printing the tutorial's lines.
struct Work: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Lease items from a queue, run a handler on each, exit 0 once the queue is drained.",
        discussion: """
            stdout carries the Kubernetes tutorial's lines (`Worker with sessionID: <id>`, \
            `Initial queue state: empty=<True|False>`, what the handler prints, `Queue empty, \
            exiting`); diagnostics go to stderr. A queue held open by producers (push \
            --keep-open, open: one hold each in NAME:holds) is waited on until every hold is \
            closed or expired. With \
            --shards M the worker leases from every shard {NAME:0} ... {NAME:M-1}, starting at a \
            random one, and exits 0 only once every shard is drained.

            Exit status: 0 when the queue is drained (pending, in-flight anywhere and scheduled \
            retries all empty, and no producer holds it open; NAME:drained is then set); 143 \
            when SIGTERM or SIGINT stopped the worker first (its in-flight items were finished \
            within the grace period or released to pending), so a Job never counts an \
            interrupted pod as a success; 1 when a transient outage outlasted its budget (Redis \
            unreachable within --connect-timeout at start, or failing mid-run for longer than \
            --backend-retry-seconds); 64 on a bad flag or variable; 78 on a permanent \
            configuration error (an unknown handler, a plugin that will not load, a bad handler \
            option, a queue key of the wrong type, Redis refusing the login, SELECT or a \
            command with NOPERM). A Job should fail at once on 64 and 78.

            Environment: WORKQUEUE_QUEUE, WORKQUEUE_SHARDS, REDIS_URL, REDIS_PASSWORD_FILE, WORKQUEUE_HANDLER, WORKQUEUE_PLUGIN, \
            WORKQUEUE_SYMBOL, WORKQUEUE_SIGNATURE, WORKQUEUE_OPTIONS (comma-separated KEY=VALUE), \
            WORKQUEUE_LEASE_SECONDS, WORKQUEUE_CONCURRENCY, WORKQUEUE_PREFETCH, WORKQUEUE_MAX_ATTEMPTS, \
            WORKQUEUE_MAX_ITEM_BYTES, \
            WORKQUEUE_RETRY_BASE_SECONDS, WORKQUEUE_RETRY_MAX_SECONDS, \
            WORKQUEUE_SHUTDOWN_GRACE_SECONDS, WORKQUEUE_RECOVERY_SECONDS, WORKQUEUE_BACKEND_RETRY_SECONDS, \
            WORKQUEUE_KEEP_RUNNING, WORKQUEUE_REQUIRE_NOEVICTION, WORKQUEUE_RESULTS_MAX, \
            WORKQUEUE_CONNECT_TIMEOUT, WORKQUEUE_LOG_LEVEL, WORKQUEUE_LOG_FORMAT, WORKQUEUE_METRICS_PORT, WORKQUEUE_METRICS_PUSH, \
            WORKQUEUE_HEARTBEAT_SECONDS. \
            A flag beats its variable.
            """
    )

    @OptionGroup var common: QueueOptions

    @Option(help: ArgumentHelp(Work.handlerHelp))
    var handler: String?

    @Option(help: ArgumentHelp(
        "A handler in a shared object: a plugin exporting the workqueue C ABI, or with --symbol a plain C function (env WORKQUEUE_PLUGIN).",
        valueName: "path"))
    var plugin: String?

    @Option(help: "With --plugin: call this exported C function per item through libffi (env WORKQUEUE_SYMBOL).")
    var symbol: String?

    @Option(help: ArgumentHelp("With --symbol: the function's signature, e.g. 'i64(i64)' or 'i32(ptr,u64)' (env WORKQUEUE_SIGNATURE).",
                               valueName: "sig"))
    var signature: String?

    @Option(name: .customLong("option"), help: ArgumentHelp(
        "A handler option KEY=VALUE, repeatable (env WORKQUEUE_OPTIONS, comma-separated; flags win).", valueName: "key=value"))
    var options: [String] = []

    @Option(name: .customLong("lease-seconds"), help: ArgumentHelp(
        "Lease length; renewed every third of it while the handler runs (env WORKQUEUE_LEASE_SECONDS; default 30).",
        valueName: "seconds"))
    var leaseSeconds: Double?

    @Option(help: "Items handled at once by this process (env WORKQUEUE_CONCURRENCY; default 1).")
    var concurrency: Int?

    @Option(help: ArgumentHelp(
        "Items held per slot, running or waiting in the buffer (env WORKQUEUE_PREFETCH; default: adapts to how fast the handler returns).",
        valueName: "n"))
    var prefetch: Int?

    @Option(name: .customLong("max-attempts"), help: ArgumentHelp(
        "Attempts before an item is dead-lettered to NAME:dead (env WORKQUEUE_MAX_ATTEMPTS; default 5).", valueName: "n"))
    var maxAttempts: Int?

    @Option(name: .customLong("max-item-bytes"), help: ArgumentHelp(
        "Items longer than this go straight to NAME:dead, never to a handler (env WORKQUEUE_MAX_ITEM_BYTES; default 4194304, at most 268435456).",
        valueName: "bytes"))
    var maxItemBytes: Int?

    @Option(name: .customLong("retry-base-seconds"), help: ArgumentHelp(
        "First retry delay; doubles per attempt, with jitter (env WORKQUEUE_RETRY_BASE_SECONDS; default 1).",
        valueName: "seconds"))
    var retryBase: Double?

    @Option(name: .customLong("retry-max-seconds"), help: ArgumentHelp(
        "Longest retry delay (env WORKQUEUE_RETRY_MAX_SECONDS; default 300).", valueName: "seconds"))
    var retryMax: Double?

    @Option(name: .customLong("grace-seconds"), help: ArgumentHelp(
        "After SIGTERM, how long in-flight items may finish before they are released (env WORKQUEUE_SHUTDOWN_GRACE_SECONDS; default 20).",
        valueName: "seconds"))
    var graceSeconds: Double?

    @Option(name: .customLong("recovery-seconds"), help: ArgumentHelp(
        "How often to return expired leases to pending and promote due retries (env WORKQUEUE_RECOVERY_SECONDS; default 5).",
        valueName: "seconds"))
    var recoverySeconds: Double?

    @Option(name: .customLong("backend-retry-seconds"), help: ArgumentHelp(
        "How long to keep retrying when Redis fails mid-run before exiting 1; also bounds each connect attempt (env WORKQUEUE_BACKEND_RETRY_SECONDS; default 30).",
        valueName: "seconds"))
    var backendRetrySeconds: Double?

    @Option(name: .customLong("results-max"), help: ArgumentHelp(
        "Keep at most N entries in NAME:results; the recovery pass drops the excess, arbitrary ones (env WORKQUEUE_RESULTS_MAX; default 10000).",
        valueName: "n"))
    var resultsMax: Int?

    @Flag(name: .customLong("require-noeviction"), help: """
        Refuse to start unless Redis' maxmemory-policy is noeviction (env WORKQUEUE_REQUIRE_NOEVICTION); \
        without it another policy is only warned about.
        """)
    var requireNoEviction = false

    @Option(name: .customLong("metrics-port"), help: ArgumentHelp(
        "Serve Prometheus metrics at http://0.0.0.0:PORT/metrics while working; 0 picks a free port (env WORKQUEUE_METRICS_PORT).",
        valueName: "port"))
    var metricsPort: Int?

    @Option(name: .customLong("metrics-push"), help: ArgumentHelp(
        "On exit, push the final metrics to this Prometheus Pushgateway (env WORKQUEUE_METRICS_PUSH).",
        valueName: "url"))
    var metricsPush: String?

    @Option(name: .customLong("heartbeat-seconds"), help: ArgumentHelp(
        "How often to refresh this worker's record for `workqueue workers` (NAME:workers); 0 writes none (env WORKQUEUE_HEARTBEAT_SECONDS; default 5).",
        valueName: "seconds"))
    var heartbeatSeconds: Double?

    @Flag(name: .customLong("keep-running"), help: "Wait for new items instead of exiting when drained (env WORKQUEUE_KEEP_RUNNING).")
    var keepRunning = false

    /// --handler's help: with exactly one handler compiled in, it says that it is the default.
    static var handlerHelp: String {
        let base = "A compiled-in handler: see `workqueue handlers` (env WORKQUEUE_HANDLER"
        guard let sole = HandlerRegistry.current.sole else { return base + ")." }
        return base + "; default \(sole.name), the only one, unless --plugin is given)."
    }

    func run() async throws {
        let settings = Settings()
        let logger = try common.bootstrap(settings)
        var workerOptions = try makeWorkerOptions(settings)
        // The handler comes first: a bad plugin or option must fail before any item is touched.
        let handler = try makeHandler(settings, options: workerOptions.handlerOptions)
        let exporter = try await MetricsExporter.start(
            port: try settings.integer(metricsPort, "WORKQUEUE_METRICS_PORT", flagName: "--metrics-port", minimum: 0),
            push: try MetricsExporter.pushURL(settings.string(metricsPush, "WORKQUEUE_METRICS_PUSH")),
            logger: logger)
        if let exporter {
            let name = try common.queueName(settings)
            workerOptions.metricsLabels = [("queue", name), ("handler", handlerLabel(settings))]
            workerOptions.metricsFactory = exporter.factory
        }
        // One shard (the default) is the queue itself, worked directly; several are worked as
        // one through ShardedBackend.
        let queues = try await common.connectShards(settings, logger: logger, retryBudget: workerOptions.backendRetryBudget)
        let closeAll = { for queue in queues { await queue.close() } }
        let backend: any WorkQueueBackend
        do {
            try await checkEviction(queues[0], settings, logger: logger)
            let results = try settings.integer(resultsMax, "WORKQUEUE_RESULTS_MAX", flagName: "--results-max", minimum: 0)
                ?? RedisQueue.defaultResultsMax
            let limit = try settings.integer(maxItemBytes, "WORKQUEUE_MAX_ITEM_BYTES", flagName: "--max-item-bytes", minimum: 1,
                                             maximum: RedisQueue.maxItemBytesLimit)
            for queue in queues {
                queue.resultsMax = results
                if let limit { queue.maxItemBytes = limit }
            }
            backend = queues.count == 1 ? queues[0] : try ShardedBackend(shards: queues)
        } catch {
            await closeAll()
            throw error
        }
        let summary: WorkerSummary
        let session = Worker.makeSessionID()
        do {
            summary = try await drain(backend, handler: handler, options: workerOptions, session: session, logger: logger)
        } catch {
            await closeAll()
            await exporter?.finish(instance: Self.instance(session), logger: logger)
            throw error
        }
        await closeAll()
        // A failed push is logged; it does not turn a drained queue into a failed Job.
        await exporter?.finish(instance: Self.instance(session), logger: logger)
        switch summary.stopReason {
        case .drained:
            StandardOutput.line("Queue empty, exiting")
        case .shutdown:
            logger.notice("stopped before the queue drained: \(summary.completed) completed, \(summary.released) released to pending")
            throw ExitCode(143)
        }
    }

    private func drain(_ queue: any WorkQueueBackend, handler: any WorkHandler, options: WorkerOptions, session: String,
                       logger: Logger) async throws -> WorkerSummary {
        let worker = try Worker(backend: queue, handler: handler, options: options, session: session, logger: logger, events: { event in
            Self.log(event, logger: logger)
        })
        // The tutorial's first lines are printed from inside the service group, whose SIGTERM and
        // SIGINT handling is in place by then: a signal sent once they appear stops the worker
        // gracefully (143) instead of killing it.
        let service = SummarizingService(worker: worker) {
            StandardOutput.line("Worker with sessionID: \(worker.session)")
            let initial = try await queue.counts()
            StandardOutput.line("Initial queue state: empty=\(initial.isDrained ? "True" : "False")")
        }
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: [.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        ))
        try await group.run()
        return service.summary ?? { var stopped = WorkerSummary(); stopped.stopReason = .shutdown; return stopped }()
    }

    /// Warns (loudly) when the server's eviction policy can delete the queue's keys; with
    /// --require-noeviction refuses to start instead, before any item is touched.
    private func checkEviction(_ queue: RedisQueue, _ settings: Settings, logger: Logger) async throws {
        let required = try settings.flag(requireNoEviction, "WORKQUEUE_REQUIRE_NOEVICTION")
        let policy: EvictionPolicy
        do {
            policy = try await queue.evictionPolicy()
        } catch let error where !required {
            logger.warning("could not read Redis' maxmemory-policy (INFO memory): \(error); make sure it is noeviction")
            return
        }
        guard let warning = policy.warning(queue: queue.name) else { return }
        if required {
            throw CommandError.serverSetting("refusing to start (--require-noeviction): \(warning)")
        }
        logger.warning("WARNING: \(warning)")
    }

    /// The compiled-in handler to run: --handler (or WORKQUEUE_HANDLER); without it, when no
    /// --plugin, --symbol or --signature (nor their variables) is given either and exactly one
    /// handler is compiled in, that one.
    func handlerName(_ settings: Settings) -> String? {
        if let name = settings.string(handler, "WORKQUEUE_HANDLER") { return name }
        guard settings.string(plugin, "WORKQUEUE_PLUGIN") == nil, settings.string(symbol, "WORKQUEUE_SYMBOL") == nil,
              settings.string(signature, "WORKQUEUE_SIGNATURE") == nil
        else { return nil }
        return HandlerRegistry.current.sole?.name
    }

    /// The `handler` label: the compiled-in handler's name, else the plugin's file name (and symbol).
    private func handlerLabel(_ settings: Settings) -> String {
        if let name = handlerName(settings) { return name }
        let path = settings.string(plugin, "WORKQUEUE_PLUGIN") ?? "unknown"
        let file = path.split(separator: "/").last.map(String.init) ?? path
        if let symbol = settings.string(self.symbol, "WORKQUEUE_SYMBOL") { return "\(file):\(symbol)" }
        return file
    }

    /// The Pushgateway instance: the pod's name (HOSTNAME) and the session.
    private static func instance(_ session: String) -> String {
        let host = ProcessInfo.processInfo.environment["HOSTNAME"].flatMap { $0.isEmpty ? nil : $0 }
        return host.map { "\($0)-\(session)" } ?? session
    }

    private func makeWorkerOptions(_ settings: Settings) throws -> WorkerOptions {
        var options = WorkerOptions()
        if let lease = try settings.seconds(leaseSeconds, "WORKQUEUE_LEASE_SECONDS", flagName: "--lease-seconds") {
            options.leaseDuration = lease
        }
        if let value = try settings.integer(concurrency, "WORKQUEUE_CONCURRENCY", flagName: "--concurrency", minimum: 1) {
            options.concurrency = value
        }
        if let value = try settings.integer(prefetch, "WORKQUEUE_PREFETCH", flagName: "--prefetch", minimum: 1) {
            options.prefetch = value
        }
        if let value = try settings.integer(maxAttempts, "WORKQUEUE_MAX_ATTEMPTS", flagName: "--max-attempts", minimum: 1) {
            options.maxAttempts = value
        }
        let base = try settings.seconds(retryBase, "WORKQUEUE_RETRY_BASE_SECONDS", flagName: "--retry-base-seconds", allowZero: true)
        let cap = try settings.seconds(retryMax, "WORKQUEUE_RETRY_MAX_SECONDS", flagName: "--retry-max-seconds", allowZero: true)
        if base != nil || cap != nil {
            options.retry = .exponentialJitter(base: base ?? .seconds(1), maxDelay: cap ?? .seconds(300))
        }
        if let grace = try settings.seconds(graceSeconds, "WORKQUEUE_SHUTDOWN_GRACE_SECONDS", flagName: "--grace-seconds", allowZero: true) {
            options.shutdownGracePeriod = grace
        }
        if let interval = try settings.seconds(recoverySeconds, "WORKQUEUE_RECOVERY_SECONDS", flagName: "--recovery-seconds") {
            options.recoveryInterval = interval
        }
        if let budget = try settings.seconds(backendRetrySeconds, "WORKQUEUE_BACKEND_RETRY_SECONDS",
                                             flagName: "--backend-retry-seconds", allowZero: true) {
            options.backendRetryBudget = budget
        }
        if let beat = try settings.seconds(heartbeatSeconds, "WORKQUEUE_HEARTBEAT_SECONDS", flagName: "--heartbeat-seconds",
                                           allowZero: true) {
            options.heartbeatInterval = beat > .zero ? beat : nil
        }
        options.handlerName = handlerLabel(settings)
        options.exitWhenDrained = !(try settings.flag(keepRunning, "WORKQUEUE_KEEP_RUNNING"))
        options.handlerOptions = try settings.keyValues(self.options, "WORKQUEUE_OPTIONS", flagName: "--option")
        try options.validate()
        return options
    }

    /// The handler to run, from --handler, --plugin, --symbol and --signature (or their
    /// variables); see ``handlerName(_:)`` for the default.
    func makeHandler(_ settings: Settings, options: [String: String]) throws -> any WorkHandler {
        let registry = HandlerRegistry.current
        let name = handlerName(settings)
        let path = settings.string(plugin, "WORKQUEUE_PLUGIN")
        let symbol = settings.string(self.symbol, "WORKQUEUE_SYMBOL")
        let signature = settings.string(self.signature, "WORKQUEUE_SIGNATURE")
        switch (name, path) {
        case let (name?, nil):
            guard symbol == nil, signature == nil else {
                throw CommandError.handlerChoice("--symbol and --signature go with --plugin PATH, not with --handler")
            }
            return try registry.make(name, options: options)
        case let (nil, path?):
            switch (symbol, signature) {
            case (nil, nil):
                return try PluginLoader.load(path: path, options: options)
            case let (symbol?, signature?):
                return try FFIFunctionHandler(library: path, symbol: symbol, signature: signature)
            case (nil, _?):
                throw CommandError.handlerChoice("--signature needs --symbol NAME: the C function to call")
            case (_?, nil):
                throw CommandError.handlerChoice("--symbol needs --signature SIG, e.g. 'i64(i64)' or 'i32(ptr,u64)'")
            }
        case (_?, _?):
            throw CommandError.handlerChoice("give either --handler NAME or --plugin PATH, not both")
        case (nil, nil):
            guard !registry.all.isEmpty else {
                throw CommandError.handlerChoice("missing --plugin PATH (or WORKQUEUE_PLUGIN): no handler is compiled in")
            }
            throw CommandError.handlerChoice(
                "missing --handler NAME (or WORKQUEUE_HANDLER) or --plugin PATH (or WORKQUEUE_PLUGIN); "
                    + "the compiled-in handlers are: \(registry.names.joined(separator: ", "))")
        }
    }

    private static func log(_ event: WorkerEvent, logger: Logger) {
        switch event {
        case let .leased(lease):
            logger.debug("leased", metadata: ["item": "\(lease.item.escaped.prefix(80))", "attempt": "\(lease.attempt)"])
        case let .completed(lease, _):
            logger.debug("completed", metadata: ["item": "\(lease.item.escaped.prefix(80))"])
        case .failed, .leaseLost, .released, .recovered:
            break // the runner logs these itself, at warning/notice level
        }
    }
}

/// Runs the worker as the service group's one service and keeps its summary.
private final class SummarizingService: Service, Sendable {
    private let worker: Worker
    private let prologue: @Sendable () async throws -> Void
    private let result = Mutex<WorkerSummary?>(nil)

    init(worker: Worker, prologue: @escaping @Sendable () async throws -> Void) {
        self.worker = worker
        self.prologue = prologue
    }

    var summary: WorkerSummary? { result.withLock { $0 } }

    func run() async throws {
        try await prologue()
        let summary = try await worker.runUntilStopped()
        result.withLock { $0 = summary }
    }
}

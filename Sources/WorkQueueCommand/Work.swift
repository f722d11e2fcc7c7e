import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging
import Tracing
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
            command with NOPERM); 3 when the queue is drained but the --on-drained command this \
            worker ran failed (it is not re-run: NAME:on-drained says failed; SIGTERM or SIGINT \
            while it runs is passed on to it: stopped, 143); 5 when handlers \
            left running past --item-timeout held every spare thread (the worker released its \
            items); 70 when a handler called exit() (a crash: its items come back through \
            recovery). A Job should fail at once on 64 and 78.

            Environment: \(Catalog.workVariables) (see each flag). \
            A flag beats its variable.
            """
    )

    @OptionGroup var common: QueueOptions

    @Option(name: Catalog.handler.name, help: Work.handlerHelp)
    var handler: String?

    @Option(name: Catalog.plugin.name, help: Catalog.plugin.help)
    var plugin: String?

    @Option(name: Catalog.symbol.name, help: Catalog.symbol.help)
    var symbol: String?

    @Option(name: Catalog.signature.name, help: Catalog.signature.help)
    var signature: String?

    @Option(name: Catalog.option.name, help: Catalog.option.help)
    var options: [String] = []

    @Option(name: Catalog.leaseSeconds.name, help: Catalog.leaseSeconds.help)
    var leaseSeconds: Double?

    @Option(name: Catalog.concurrency.name, help: Catalog.concurrency.help)
    var concurrency: Int?

    @Option(name: Catalog.prefetch.name, help: Catalog.prefetch.help)
    var prefetch: Int?

    @Option(name: Catalog.maxAttempts.name, help: Catalog.maxAttempts.help)
    var maxAttempts: Int?

    @Option(name: Catalog.maxItemBytes.name, help: Catalog.maxItemBytes.help)
    var maxItemBytes: Int?

    @Option(name: Catalog.retryBaseSeconds.name, help: Catalog.retryBaseSeconds.help)
    var retryBase: Double?

    @Option(name: Catalog.retryMaxSeconds.name, help: Catalog.retryMaxSeconds.help)
    var retryMax: Double?

    @Option(name: Catalog.itemTimeout.name, help: Catalog.itemTimeout.help)
    var itemTimeout: Double?

    @Option(name: Catalog.graceSeconds.name, help: Catalog.graceSeconds.help)
    var graceSeconds: Double?

    @Option(name: Catalog.recoverySeconds.name, help: Catalog.recoverySeconds.help)
    var recoverySeconds: Double?

    @Option(name: Catalog.backendRetrySeconds.name, help: Catalog.backendRetrySeconds.help)
    var backendRetrySeconds: Double?

    @Option(name: Catalog.resultsMax.name, help: Catalog.resultsMax.help)
    var resultsMax: Int?

    @Option(name: Catalog.rateLimit.name, help: Catalog.rateLimit.help)
    var rateLimit: String?

    @Flag(name: Catalog.requireNoEviction.name, help: Catalog.requireNoEviction.help)
    var requireNoEviction = false

    @Option(name: Catalog.metricsPort.name, help: Catalog.metricsPort.help)
    var metricsPort: Int?

    @Option(name: Catalog.metricsPush.name, help: Catalog.metricsPush.help)
    var metricsPush: String?

    @Option(name: Catalog.heartbeatSeconds.name, help: Catalog.heartbeatSeconds.help)
    var heartbeatSeconds: Double?

    @Flag(name: Catalog.keepRunning.name, help: Catalog.keepRunning.help)
    var keepRunning = false

    @Option(name: Catalog.onDrained.name, help: Catalog.onDrained.help)
    var onDrained: String?

    /// --handler's help: with exactly one handler compiled in, it says that it is the default.
    static var handlerHelp: ArgumentHelp {
        let sole = HandlerRegistry.current.sole.map { "\($0.name), the only one, unless \(Catalog.plugin.flag) is given" }
        return ArgumentHelp(Catalog.handler.helpText(defaultText: sole), valueName: Catalog.handler.valueName)
    }

    func run() async throws {
        let settings = Settings()
        let logger = try common.bootstrap(settings)
        // Traces when the OTEL_* variables ask for them (docs/tracing.md): flushed on every exit.
        let traces = try TraceExporter.start(environment: settings.environment, logger: logger)
        do {
            try await work(settings, logger: logger, tracing: traces.map { _ in
                ItemTracing(tracer: InstrumentationSystem.tracer, queue: (try? common.queueName(settings)) ?? "")
            })
        } catch {
            await traces?.finish()
            throw error
        }
        await traces?.finish()
    }

    private func work(_ settings: Settings, logger: Logger, tracing: ItemTracing?) async throws {
        var workerOptions = try makeWorkerOptions(settings)
        workerOptions.tracing = tracing
        let queueOptions = try makeQueueOptions(settings)
        if let command = settings.string(onDrained, Catalog.onDrained), command.allSatisfy(\.isWhitespace) {
            throw CommandError.invalid(source: Catalog.onDrained.source(flagGiven: onDrained != nil), value: command,
                                       expected: "a shell command, e.g. 'curl -fsS -X POST https://example.com/done'")
        }
        if settings.string(onDrained, Catalog.onDrained) != nil, !workerOptions.exitWhenDrained {
            throw CommandError.flagConflict(
                "\(Catalog.onDrained.either) and \(Catalog.keepRunning.either) do not go together: a worker that keeps running never marks the queue drained, so its hook would never run; run the hook from workers without \(Catalog.keepRunning.flag), or from the step after `\(ProgramName.current) wait`")
        }
        // From here until the command exits, an exit() from a plugin (its create too) or a
        // handler is a crash (status 70), never the status it passed.
        HandlerExitGuard.arm()
        // The handler comes first: a bad plugin or option must fail before any item is touched.
        let handler = try makeHandler(settings, options: workerOptions.handlerOptions)
        let exporter = try await MetricsExporter.start(
            port: try settings.integer(metricsPort, Catalog.metricsPort),
            push: try MetricsExporter.pushURL(settings.string(metricsPush, Catalog.metricsPush)),
            logger: logger)
        if let exporter {
            let name = try common.queueName(settings)
            workerOptions.metricsLabels = [("queue", name), ("handler", handlerLabel(settings))]
            workerOptions.metricsFactory = exporter.factory
        }
        // One shard (the default) is the queue itself, worked directly; several are worked as
        // one through ShardedBackend.
        let queues = try await common.connectShards(settings, logger: logger, retryBudget: workerOptions.backendRetryBudget,
                                                    options: queueOptions)
        let closeAll = { for queue in queues { await queue.close() } }
        let backend: any WorkQueueBackend
        do {
            try await checkEviction(queues[0], settings, logger: logger)
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
        // The fan-in hook: claimed once per drain on shard 0, run by the claiming worker only.
        var hook = OnDrained.Outcome(status: 0, stopped: false)
        if summary.stopReason == .drained, let command = settings.string(onDrained, Catalog.onDrained) {
            do {
                hook = try await OnDrained.run(command, queue: try common.queueName(settings), queues: queues,
                                                     backend: backend, session: session, logger: logger)
            } catch {
                await closeAll()
                await exporter?.finish(instance: Self.instance(session), logger: logger)
                throw error
            }
        }
        await closeAll()
        // A failed push is logged; it does not turn a drained queue into a failed Job.
        await exporter?.finish(instance: Self.instance(session), logger: logger)
        switch summary.stopReason {
        case .drained:
            StandardOutput.line("Queue empty, exiting")
            // SIGTERM or SIGINT while the hook ran (passed on to it): stopped, as anywhere else.
            if hook.stopped { throw ExitCode(ExitStatus.stopped) }
            if hook.status != 0 { throw ExitCode(ExitStatus.hookFailed) }
        case .shutdown:
            logger.notice("stopped before the queue drained: \(summary.completed) completed, \(summary.released) released to pending")
            throw ExitCode(143)
        case .handlersStuck:
            logger.error("""
                stopped: handlers left running past --item-timeout held every spare thread; \
                \(summary.completed) completed, \(summary.released) released to pending
                """)
            throw ExitCode(ExitStatus.handlersStuck)
        case .cancelled:
            StandardOutput.line("Queue cancelled, exiting")
            logger.notice("the job was cancelled: \(summary.completed) completed, \(summary.released) released and moved aside")
            throw ExitCode(ExitStatus.cancelled)
        }
    }

    private func drain(_ queue: any WorkQueueBackend, handler: any WorkHandler, options: WorkerOptions, session: String,
                       logger: Logger) async throws -> WorkerSummary {
        // The events only make debug lines: below that level the worker makes no event per item.
        var events: (@Sendable (WorkerEvent) -> Void)?
        if logger.logLevel <= .debug {
            events = { @Sendable event in Self.log(event, logger: logger) }
        }
        let worker = try Worker(backend: queue, handler: handler, options: options, session: session, logger: logger,
                                events: events)
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
        let required = try settings.flag(requireNoEviction, Catalog.requireNoEviction)
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
        logger.warning("WARNING: \(warning); \(Catalog.requireNoEviction.flag) refuses to start otherwise")
    }

    /// The compiled-in handler to run: --handler (or its variable); without it, when no
    /// --plugin, --symbol or --signature (nor their variables) is given either and exactly one
    /// handler is compiled in, that one.
    func handlerName(_ settings: Settings) -> String? {
        if let name = settings.string(handler, Catalog.handler) { return name }
        guard settings.string(plugin, Catalog.plugin) == nil, settings.string(symbol, Catalog.symbol) == nil,
              settings.string(signature, Catalog.signature) == nil
        else { return nil }
        return HandlerRegistry.current.sole?.name
    }

    /// The `handler` label: the compiled-in handler's name, else the plugin's file name (and symbol).
    private func handlerLabel(_ settings: Settings) -> String {
        if let name = handlerName(settings) { return name }
        let path = settings.string(plugin, Catalog.plugin) ?? "unknown"
        let file = path.split(separator: "/").last.map(String.init) ?? path
        if let symbol = settings.string(self.symbol, Catalog.symbol) { return "\(file):\(symbol)" }
        return file
    }

    /// The Pushgateway instance: the pod's name (HOSTNAME) and the session.
    private static func instance(_ session: String) -> String {
        WorkerHeartbeat.hostnameVariable().map { "\($0)-\(session)" } ?? session
    }

    private func makeWorkerOptions(_ settings: Settings) throws -> WorkerOptions {
        var options = WorkerOptions()
        options.leaseDuration = try settings.seconds(leaseSeconds, Catalog.leaseSeconds)
        options.concurrency = try settings.integer(concurrency, Catalog.concurrency)
        options.prefetch = try settings.integer(prefetch, Catalog.prefetch)
        options.maxAttempts = try settings.integer(maxAttempts, Catalog.maxAttempts)
        options.retry = .exponentialJitter(base: try settings.seconds(retryBase, Catalog.retryBaseSeconds),
                                           maxDelay: try settings.seconds(retryMax, Catalog.retryMaxSeconds))
        options.itemTimeout = try settings.seconds(itemTimeout, Catalog.itemTimeout)
        options.shutdownGracePeriod = try settings.seconds(graceSeconds, Catalog.graceSeconds)
        options.recoveryInterval = try settings.seconds(recoverySeconds, Catalog.recoverySeconds)
        options.backendRetryBudget = try settings.seconds(backendRetrySeconds, Catalog.backendRetrySeconds)
        let beat = try settings.seconds(heartbeatSeconds, Catalog.heartbeatSeconds)
        options.heartbeatInterval = beat > .zero ? beat : nil
        options.handlerName = handlerLabel(settings)
        options.exitWhenDrained = !(try settings.flag(keepRunning, Catalog.keepRunning))
        options.handlerOptions = try settings.keyValues(self.options, Catalog.option)
        try options.validate()
        return options
    }

    /// What every shard of the queue keeps from connect on: the item size bound and the
    /// results bound.
    func makeQueueOptions(_ settings: Settings) throws -> RedisQueue.Options {
        // With shards, each shard enforces its share of the rate limit.
        let shards = try common.shardNames(settings).count
        return RedisQueue.Options(maxItemBytes: try settings.integer(maxItemBytes, Catalog.maxItemBytes),
                                  resultsMax: try settings.integer(resultsMax, Catalog.resultsMax),
                                  rateLimit: try makeRateLimit(settings)?.divided(by: shards))
    }

    /// --rate-limit (or WORKQUEUE_RATE_LIMIT): `N/s` or `N/m`; anything else exits 64 naming it.
    func makeRateLimit(_ settings: Settings) throws -> RateLimit? {
        guard let text = settings.string(rateLimit, Catalog.rateLimit) else { return nil }
        guard let limit = RateLimit(parsing: text) else {
            throw CommandError.invalid(source: Catalog.rateLimit.source(flagGiven: rateLimit != nil), value: text,
                                       expected: "N/s or N/m with N a positive number, e.g. 200/s or 30/m")
        }
        return limit
    }

    /// The handler to run, from --handler, --plugin, --symbol and --signature (or their
    /// variables); see ``handlerName(_:)`` for the default.
    func makeHandler(_ settings: Settings, options: [String: String]) throws -> any WorkHandler {
        let registry = HandlerRegistry.current
        let name = handlerName(settings)
        let path = settings.string(plugin, Catalog.plugin)
        let symbol = settings.string(self.symbol, Catalog.symbol)
        let signature = settings.string(self.signature, Catalog.signature)
        switch (name, path) {
        case let (name?, nil):
            guard symbol == nil, signature == nil else {
                throw CommandError.flagConflict("--symbol and --signature go with --plugin PATH, not with --handler")
            }
            return try registry.make(name, options: options)
        case let (nil, path?):
            switch (symbol, signature) {
            case (nil, nil):
                return try PluginLoader.load(path: path, options: options)
            case let (symbol?, signature?):
                return try FFIFunctionHandler(library: path, symbol: symbol, signature: signature)
            case (nil, _?):
                throw CommandError.flagConflict("--signature needs --symbol NAME: the C function to call")
            case (_?, nil):
                throw CommandError.flagConflict("--symbol needs --signature SIG, e.g. 'i64(i64)' or 'i32(ptr,u64)'")
            }
        case (_?, _?):
            throw CommandError.flagConflict("give either --handler NAME or --plugin PATH, not both")
        case (nil, nil):
            guard !registry.all.isEmpty else {
                throw CommandError.flagConflict("missing \(Catalog.plugin.either): no handler is compiled in")
            }
            throw CommandError.flagConflict(
                "missing \(Catalog.handler.either) or \(Catalog.plugin.either); "
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

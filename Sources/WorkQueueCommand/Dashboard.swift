import ArgumentParser
import Logging
import WorkQueue
import WorkQueueDashboard
import WorkQueueRedis

/// `workqueue dashboard`: the web dashboard of one or more queues.
struct Dashboard: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve a web dashboard of one or more queues: counts, rate and ETA, live workers, dead letters.",
        discussion: """
            Serves a self-contained page (no external assets) at http://127.0.0.1:8080/ until \
            stopped: per queue its counts (pending, in flight, scheduled, dead, completed), \
            throughput, ETA and a chart of the last minutes, the live workers with what they \
            hold, the time left on each lease and the progress handlers report, whether the \
            queue is paused or cancelled, and the dead letters with their attempts and last \
            error. With a token (--token-file; the page asks for it) the page can retry dead \
            letters (one or all), purge them, and pause, resume or cancel the queue. The page refreshes itself every \
            --interval seconds; whatever the number of viewers, Redis serves one read-only \
            script call per queue (per shard) per interval. Give several queues after --queue: \
            --queue a b c. See docs/dashboard.md.
            """
    )

    @OptionGroup var common: QueueOptions

    @Argument(help: ArgumentHelp("More queues to show, after the one of --queue (--queue a b c).", valueName: "queue"))
    var more: [String] = []

    @Option(name: Catalog.dashboardPort.name, help: Catalog.dashboardPort.help)
    var port: Int?

    @Option(name: Catalog.bind.name, help: Catalog.bind.help)
    var bind: String?

    @Option(name: Catalog.tokenFile.name, help: Catalog.tokenFile.help)
    var tokenFile: String?

    @Option(name: Catalog.allowHost.name, help: Catalog.allowHost.help)
    var allowHost: String?

    @Option(name: Catalog.httpIdleSeconds.name, help: Catalog.httpIdleSeconds.help)
    var httpIdleSeconds: Double?

    @Option(name: Catalog.dashboardInterval.name, help: Catalog.dashboardInterval.help)
    var intervalFlag: Double?

    /// `--interval`, else its default.
    var interval: Double { intervalFlag ?? Catalog.dashboardInterval.defaultSeconds }

    func validate() throws {
        try Catalog.dashboardInterval.check(intervalFlag)
        let given = CommandLine.arguments.filter { $0 == "--queue" || $0.hasPrefix("--queue=") }.count
        if given > 1 { throw ValidationError("give --queue once, followed by every queue to show: --queue a b c") }
    }

    func run() async throws {
        let settings = Settings()
        let logger = try common.bootstrap(settings)
        let first = try common.queueName(settings)
        var names = [first]
        for name in more where !names.contains(name) { names.append(name) }
        let port = try settings.integer(self.port, Catalog.dashboardPort)
        let host = settings.string(bind, Catalog.bind)
        let token = try DashboardService.token(tokenFile, settings)
        var queues: [DashboardHub.Queue] = []
        do {
            for name in names {
                var options = common
                options.queue = name
                queues.append(DashboardHub.Queue(name: name, shards: try await options.connectShards(settings, logger: logger)))
            }
        } catch {
            for queue in queues { for shard in queue.shards { await shard.close() } }
            throw error
        }
        let hub = DashboardHub(queues: queues, interval: .milliseconds(Int64(interval * 1000)), token: token, logger: logger,
                               programName: ProgramName.current)
        do {
            try await DashboardService.serve(hub, host: host, port: port, flag: Catalog.dashboardPort.flag, logger: logger,
                                             allowedHosts: DashboardServer.Access.hosts(settings.string(allowHost, Catalog.allowHost)),
                                             idle: try settings.seconds(httpIdleSeconds, Catalog.httpIdleSeconds))
        } catch {
            for queue in queues { for shard in queue.shards { await shard.close() } }
            throw error
        }
        for queue in queues { for shard in queue.shards { await shard.close() } }
    }
}

/// What `dashboard` and `status --serve` share: the token, the server, the wait for a signal.
enum DashboardService {
    /// The token from `--token-file` or its variable (nil: actions disabled).
    static func token(_ flag: String?, _ settings: Settings) throws -> String? {
        guard let path = settings.string(flag, Catalog.tokenFile) else { return nil }
        let source = Catalog.tokenFile.source(flagGiven: flag != nil)
        do {
            return try PasswordFile.read(path, source: source)
        } catch CommandError.passwordFile(let path, let source, let reason) {
            throw CommandError.tokenFile(path: path, source: source, reason: reason)
        }
    }

    /// Serves the dashboard (and, with `metrics`, the Prometheus page at `/metrics`; with
    /// `scaling`, the scaling signal's JSON at `/scaling`, open to all as `/metrics` is) on
    /// `host:port` until the process is stopped.
    static func serve(_ hub: DashboardHub, host: String, port: Int, flag: String, logger: Logger,
                      allowedHosts: Set<String> = [], idle: Duration? = nil,
                      scaling: MetricsServer.Page? = nil,
                      metrics: MetricsServer.Page? = nil) async throws {
        let server = try await HTTPServer.bind(host: host, port: port, flagName: flag, limits: .current(idleSeconds: idle))
        let shown = host.contains(":") ? "[\(host)]" : host
        let loopback = DashboardService.isLoopback(host)
        let access = DashboardServer.Access(loopbackBound: loopback, allowedHosts: allowedHosts)
        let extras = (metrics != nil ? " and queue metrics at /metrics" : "")
            + (scaling != nil ? " and the scaling signal at \(ScalingEndpoint.path)" : "")
            + (await hub.actionsEnabled ? "" : " (read-only: no --token-file)")
        logger.notice("serving the dashboard at http://\(shown):\(server.port)/\(extras)")
        StandardOutput.line("Dashboard at http://\(shown):\(server.port)/")
        // Until the process is stopped (SIGTERM, SIGINT: their default action, as for `status --serve`).
        await server.run { request in
            if let metrics, request.path == "/metrics" { return await MetricsServer.respond(to: request, page: metrics) }
            if let scaling, request.path == ScalingEndpoint.path { return await ScalingEndpoint.respond(to: request, page: scaling) }
            return await DashboardServer.respond(to: request, hub: hub, access: access)
        }
    }

    static func isLoopback(_ host: String) -> Bool { DashboardServer.isLoopback(bind: host) }
}

import CoreMetrics
import Logging
import Prometheus

/// The `work` command's metrics: a Prometheus registry bootstrapped as the process's
/// swift-metrics backend, served at `/metrics` (`--metrics-port`) while the worker runs and
/// pushed to a Pushgateway (`--metrics-push`) when it exits.
final class MetricsExporter: Sendable {
    let registry: PrometheusCollectorRegistry
    let factory: PrometheusMetricsFactory
    private let server: Task<Void, Never>?
    private let push: PushGatewayURL?

    private init(registry: PrometheusCollectorRegistry, server: Task<Void, Never>?, push: PushGatewayURL?) {
        self.registry = registry
        self.factory = PrometheusMetricsFactory(registry: registry)
        self.server = server
        self.push = push
    }

    /// Parses `--metrics-push`; nil when unset.
    static func pushURL(_ text: String?) throws -> PushGatewayURL? {
        guard let text else { return nil }
        return try PushGatewayURL(text)
    }

    /// Starts what was asked for; nil when neither a port nor a push URL was given. The port
    /// is 0 ... 65535 (``Catalog/metricsPort`` checks it).
    static func start(port: Int?, push: PushGatewayURL?, logger: Logger) async throws -> MetricsExporter? {
        guard port != nil || push != nil else { return nil }
        let registry = PrometheusCollectorRegistry()
        var task: Task<Void, Never>?
        if let port {
            let server = try await MetricsServer.bind(host: "0.0.0.0", port: port, flagName: Catalog.metricsPort.flag)
            logger.notice("serving metrics at http://0.0.0.0:\(server.port)/metrics")
            task = Task {
                await server.run {
                    (.ok, registry.emitToString())
                }
            }
        }
        let exporter = MetricsExporter(registry: registry, server: task, push: push)
        MetricsSystem.bootstrap(exporter.factory)
        return exporter
    }

    /// Stops serving and pushes the final figures when asked to. Returns false when the push
    /// failed (logged with what to check).
    @discardableResult
    func finish(instance: String, logger: Logger) async -> Bool {
        server?.cancel()
        await server?.value
        guard let push else { return true }
        do {
            try await PushGatewayClient.push(registry.emitToString(), to: push, job: "workqueue", instance: instance)
            logger.info("pushed the final metrics to \(push)")
            return true
        } catch {
            logger.error("\(CommandError.metricsPush(url: "\(push)", error: "\(error)"))")
            return false
        }
    }
}

import Logging
import OTel
import ServiceLifecycle
import Tracing

/// Traces for `work` and `push` (docs/tracing.md), exported with swift-otel over OTLP/HTTP.
///
/// Off unless the standard variables ask for traces: `OTEL_TRACES_EXPORTER` set to something
/// other than `none`, or an OTLP endpoint (`OTEL_EXPORTER_OTLP_ENDPOINT` or
/// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) given; `OTEL_SDK_DISABLED=true` turns them off again.
/// The other `OTEL_*` variables (protocol `http/protobuf` or `http/json`, headers, timeout,
/// sampler, service name, resource attributes, batch processor) are swift-otel's, read as the
/// OpenTelemetry specification says. Only traces: logs and metrics keep their own flags.
final class TraceExporter: Sendable {
    private let group: ServiceGroup
    private let task: Task<Void, Never>

    private init(group: ServiceGroup, logger: Logger) {
        self.group = group
        task = Task {
            do {
                try await group.run()
            } catch {
                logger.warning("the trace exporter stopped: \(error); spans after this are dropped")
            }
        }
    }

    /// The value of variable `name` in `environment`, trimmed and lowercased; nil when unset or empty.
    private static func value(_ name: String, _ environment: [String: String]) -> String? {
        guard let text = environment[name]?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
        return text.lowercased()
    }

    /// Whether `environment` asks for traces.
    static func isRequested(_ environment: [String: String]) -> Bool {
        if value("OTEL_SDK_DISABLED", environment) == "true" { return false }
        if let exporter = value("OTEL_TRACES_EXPORTER", environment) { return exporter != "none" }
        return value("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", environment) != nil
            || value("OTEL_EXPORTER_OTLP_ENDPOINT", environment) != nil
    }

    /// Bootstraps the process's tracer (`InstrumentationSystem`) with swift-otel's and starts
    /// its exporter when `environment` asks for traces; nil (and nothing done) otherwise.
    /// - Throws: ``CommandError`` naming the variable that asks for what this build cannot do
    ///   (checked here first: swift-otel stops the process on a gRPC request without its trait).
    static func start(environment: [String: String], logger: Logger) throws -> TraceExporter? {
        guard isRequested(environment) else { return nil }
        let exporter = value("OTEL_TRACES_EXPORTER", environment) ?? "otlp"
        guard exporter == "otlp" else {
            throw CommandError.invalid(source: "OTEL_TRACES_EXPORTER", value: exporter,
                                       expected: "otlp (the one trace exporter built in) or none")
        }
        for name in ["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"] {
            guard let given = value(name, environment) else { continue }
            guard given == "http/protobuf" || given == "http/json" else {
                throw CommandError.invalid(source: name, value: given,
                                           expected: "http/protobuf (the default) or http/json; this build has no gRPC exporter")
            }
            break
        }
        var configuration = OTel.Configuration.default
        configuration.logs.enabled = false
        configuration.metrics.enabled = false
        configuration.traces.enabled = true
        configuration.serviceName = "workqueue"
        configuration.diagnosticLogger = .custom(logger)
        // swift-otel's own messages (one per variable it read, at info): warnings and errors
        // only, unless OTEL_LOG_LEVEL asks for more.
        configuration.diagnosticLogLevel = .warning
        let backend: (factory: any Tracer, service: any Service)
        do {
            let made = try OTel.makeTracingBackend(configuration: configuration)
            backend = (made.factory, made.service)
        } catch {
            throw CommandError.invalid(source: "the OTEL_* variables", value: exporter,
                                       expected: "traces swift-otel can export: \(error)")
        }
        InstrumentationSystem.bootstrap(backend.factory)
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: [.init(service: backend.service)], gracefulShutdownSignals: [], logger: logger))
        return TraceExporter(group: group, logger: logger)
    }

    /// Ends the exporter: the spans still buffered are sent (swift-otel's batch processor
    /// flushes on shutdown, within its export timeout), then it stops. Waits at most `limit`.
    func finish(limit: Duration = .seconds(10)) async {
        await group.triggerGracefulShutdown()
        let task = self.task
        await withTaskGroup(of: Void.self) { waits in
            waits.addTask { await task.value }
            waits.addTask { try? await Task.sleep(for: limit) }
            await waits.next()
            waits.cancelAll()
        }
    }
}

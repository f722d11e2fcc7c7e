import Foundation
import Testing
import TestSupport

/// `work --metrics-port` serves Prometheus text during a run; `--metrics-push` PUTs the final
/// figures to a Pushgateway (here a one-shot HTTP server the test runs).
@Suite(.serialized) struct MetricsFlowTests {
    @Test func theWorkersMetricsEndpointServesPrometheusTextDuringARun() async throws {
        try await LocalRedis.with { redis in
            try await redis.cli(["rpush", "jobm", "a", "b", "c", "d"])
            let wq = try Workqueue(redis)
            let port = try LocalRedis.freePort()
            let worker = try wq.start(["work", "--queue", "jobm", "--handler", "printer", "--option", "delay=0.5",
                                       "--metrics-port", "\(port)"])
            #expect(try await worker.waitForStdout(containing: "Working on b"), "\(worker.stderr)")
            let text = try await PrometheusText.fetch("http://127.0.0.1:\(port)/metrics", directory: wq.directory.path)
            let samples = try PrometheusText.parse(text)
            func value(_ name: String) -> Double? {
                samples.first { $0.name == name && $0.labels["queue"] == "jobm" && $0.labels["handler"] == "printer" }?.value
            }
            #expect((value("workqueue_items_leased_total") ?? 0) >= 2, "\(text)")
            #expect((value("workqueue_items_completed_total") ?? 0) >= 1, "\(text)")
            #expect(value("workqueue_items_in_flight") != nil, "\(text)")
            #expect(samples.contains { $0.name == "workqueue_handler_duration_seconds_count" }, "\(text)")
            #expect(try await worker.wait() == .exited(0), "\(worker.stderr)")
        }
    }

    @Test func theFinalMetricsArePushedOnExit() async throws {
        try await LocalRedis.with { redis in
            try await redis.cli(["rpush", "jobp", "x", "y"])
            let wq = try Workqueue(redis)
            let port = try LocalRedis.freePort()
            let received = wq.directory.path + "/pushed.txt"
            // A one-request HTTP server: records the request line and body, answers 200.
            let gateway = try ChildProcess("/usr/bin/env", ["python3", "-c", Self.gatewayScript, "\(port)", received],
                                           directory: wq.directory.path, label: "gateway")
            defer { gateway.send(SIGKILL) }
            #expect(try await gateway.waitForStdout(containing: "ready", timeout: .seconds(30)), "\(gateway.stderr)")
            let (worker, termination) = try await wq.run(["work", "--queue", "jobp", "--handler", "printer",
                                                          "--metrics-push", "http://127.0.0.1:\(port)/"],
                                                         environment: ["HOSTNAME": "pod-7"])
            #expect(termination == .exited(0), "\(worker.stderr)")
            _ = try await gateway.wait(timeout: .seconds(30))
            let pushed = try String(contentsOfFile: received, encoding: .utf8)
            let lines = pushed.split(separator: "\n", maxSplits: 1)
            let requestLine = String(lines.first ?? "")
            #expect(requestLine.hasPrefix("PUT /metrics/job/workqueue/instance/pod-7-"), "\(pushed)")
            let samples = try PrometheusText.parse(String(lines.dropFirst().first ?? ""))
            #expect(samples.contains { $0.name == "workqueue_items_completed_total" && $0.value == 2 }, "\(pushed)")
        }
    }

    @Test func statusServeExposesTheQueuesGaugesWithNoWorkerRunning() async throws {
        try await LocalRedis.with { redis in
            try await redis.cli(["rpush", "jobs", "1", "2", "3"])
            try await redis.cli(["rpush", "jobs:dead", "x"])
            let wq = try Workqueue(redis)
            let port = try LocalRedis.freePort()
            let exporter = try wq.start(["status", "--queue", "jobs", "--serve", "\(port)"])
            defer { exporter.send(SIGKILL) }
            var text = ""
            for _ in 0..<100 {
                if let body = try? await PrometheusText.fetch("http://127.0.0.1:\(port)/metrics", directory: wq.directory.path) {
                    text = body
                    break
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            let samples = try PrometheusText.parse(text)
            func value(_ name: String) -> Double? { samples.first { $0.name == name && $0.labels["queue"] == "jobs" }?.value }
            #expect(value("workqueue_queue_up") == 1, "\(text) \(exporter.stderr)")
            #expect(value("workqueue_queue_pending") == 3, "\(text)")
            #expect(value("workqueue_queue_dead") == 1, "\(text)")
            #expect(value("workqueue_queue_processing") == 0, "\(text)")
            #expect(value("workqueue_queue_workers") == 0, "\(text)")
            // Read per scrape: a push shows up in the next one.
            try await redis.cli(["rpush", "jobs", "4"])
            let again = try PrometheusText.parse(try await PrometheusText.fetch("http://127.0.0.1:\(port)/metrics",
                                                                                directory: wq.directory.path))
            #expect(again.first { $0.name == "workqueue_queue_pending" }?.value == 4)
            #expect(exporter.poll() == nil, "the exporter keeps serving")
        }
    }

    static let gatewayScript = """
        import sys, http.server
        class H(http.server.BaseHTTPRequestHandler):
            def do_PUT(self):
                body = self.rfile.read(int(self.headers['Content-Length'])).decode()
                open(sys.argv[2], 'w').write(self.command + ' ' + self.path + '\\n' + body)
                self.send_response(200); self.send_header('Content-Length', '0'); self.end_headers()
            def log_message(self, *a): pass
        server = http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H)
        print('ready', flush=True)
        server.handle_request()
        """
}

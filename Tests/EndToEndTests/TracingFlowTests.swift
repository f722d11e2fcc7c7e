import Foundation
import Testing
import TestSupport

/// Traces across the queue, end to end: `workqueue push` and `workqueue work` (a compiled-in
/// handler, and a C plugin) export OTLP/HTTP JSON to a receiver the test starts on 127.0.0.1;
/// the item spans of the worker process link to the push span of the producer process.
@Suite(.serialized) struct TracingFlowTests {
    /// A tiny OTLP/HTTP receiver: every POST body (one JSON export request) is appended to the
    /// file as one line; answers 200 with an empty JSON export response. Stops after 300 s.
    static let receiverScript = """
        import http.server, json, sys, threading
        port, path = int(sys.argv[1]), sys.argv[2]
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get('Content-Length', '0')))
                with open(path, 'a') as out:
                    out.write(json.dumps({'path': self.path, 'type': self.headers.get('Content-Type'), 'body': json.loads(body)}) + '\\n')
                reply = b'{}'
                self.send_response(200)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)
            def log_message(self, *args):
                pass
        server = http.server.ThreadingHTTPServer(('127.0.0.1', port), Handler)
        threading.Timer(300, server.shutdown).start()
        print('ready', flush=True)
        server.serve_forever()
        """

    /// One span as the receiver got it.
    struct Span {
        var service: String
        var name: String
        var traceID: String
        var spanID: String
        var parentSpanID: String
        var kind: Int
        var links: [(traceID: String, spanID: String)]
        var attributes: [String: String]
        var statusCode: Int
    }

    /// Every span of every request in `file`.
    static func spans(in file: String) throws -> [Span] {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return [] }
        var spans: [Span] = []
        for line in text.split(separator: "\n") {
            let request = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            #expect(request["path"] as? String == "/v1/traces")
            #expect(request["type"] as? String == "application/json")
            let body = request["body"] as? [String: Any] ?? [:]
            for resourceSpans in body["resourceSpans"] as? [[String: Any]] ?? [] {
                let resource = (resourceSpans["resource"] as? [String: Any])?["attributes"] as? [[String: Any]] ?? []
                let service = attributes(resource)["service.name"] ?? ""
                for scope in resourceSpans["scopeSpans"] as? [[String: Any]] ?? [] {
                    for span in scope["spans"] as? [[String: Any]] ?? [] {
                        let links = (span["links"] as? [[String: Any]] ?? []).map {
                            (traceID: $0["traceId"] as? String ?? "", spanID: $0["spanId"] as? String ?? "")
                        }
                        spans.append(Span(
                            service: service, name: span["name"] as? String ?? "", traceID: span["traceId"] as? String ?? "",
                            spanID: span["spanId"] as? String ?? "", parentSpanID: span["parentSpanId"] as? String ?? "",
                            kind: span["kind"] as? Int ?? 0, links: links,
                            attributes: attributes(span["attributes"] as? [[String: Any]] ?? []),
                            statusCode: (span["status"] as? [String: Any])?["code"] as? Int ?? 0))
                    }
                }
            }
        }
        return spans
    }

    /// OTLP key-values as text (string, int and bool values).
    static func attributes(_ list: [[String: Any]]) -> [String: String] {
        var result: [String: String] = [:]
        for entry in list {
            guard let key = entry["key"] as? String, let value = entry["value"] as? [String: Any] else { continue }
            if let text = value["stringValue"] as? String {
                result[key] = text
            } else if let number = value["intValue"] {
                result[key] = "\(number)"
            } else if let flag = value["boolValue"] as? Bool {
                result[key] = "\(flag)"
            }
        }
        return result
    }

    /// Runs `body` with a receiver on a free port and the variables that send traces to it.
    static func withReceiver(_ wq: Workqueue,
                             _ body: (_ environment: [String: String], _ file: String) async throws -> Void) async throws {
        let port = try LocalRedis.freePort()
        let file = wq.directory.path + "/otlp.jsonl"
        let receiver = try ChildProcess("/usr/bin/env", ["python3", "-c", receiverScript, "\(port)", file],
                                        directory: wq.directory.path, label: "otlp-receiver")
        defer { receiver.send(SIGKILL) }
        #expect(try await receiver.waitForStdout(containing: "ready", timeout: .seconds(30)), "\(receiver.stderr)")
        let environment = [
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:\(port)/v1/traces",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
            "OTEL_BSP_SCHEDULE_DELAY": "200",
        ]
        try await body(environment, file)
    }

    @Test func itemSpansOfTheWorkerLinkToThePushSpanOfTheProducer() async throws {
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            try await Self.withReceiver(wq) { environment, file in
                var producerEnvironment = environment
                producerEnvironment["OTEL_SERVICE_NAME"] = "producer"
                let (push, pushed) = try await wq.run(["push", "--queue", "jobs", "apple", "banana"], environment: producerEnvironment)
                #expect(pushed == .exited(0), "\(push.stderr)")
                // NAME is still the raw items; the contexts are beside it.
                #expect(try await redis.cli("lrange", "jobs", "0", "-1") == "apple\nbanana")
                #expect(try await redis.cli("hlen", "jobs:push-traces") == "2")

                var workerEnvironment = environment
                workerEnvironment["OTEL_SERVICE_NAME"] = "worker"
                let (worker, worked) = try await wq.run(["work", "--queue", "jobs", "--handler", "printer"], environment: workerEnvironment)
                #expect(worked == .exited(0), "\(worker.stderr)")
                #expect(worker.stdoutLines.contains("Working on apple"))
                let session = try #require(worker.stdoutLines.first { $0.hasPrefix("Worker with sessionID: ") })
                    .dropFirst("Worker with sessionID: ".count)

                let spans = try Self.spans(in: file)
                let command = try #require(spans.first { $0.name == "workqueue push jobs" }, "\(spans.map(\.name))")
                let pushSpan = try #require(spans.first { $0.name == "push jobs" })
                #expect(pushSpan.service == "producer")
                #expect(pushSpan.parentSpanID == command.spanID && pushSpan.traceID == command.traceID)
                #expect(pushSpan.kind == 4, "SPAN_KIND_PRODUCER")
                #expect(pushSpan.attributes["workqueue.items"] == "2")
                let items = spans.filter { $0.name == "process jobs" }
                #expect(items.count == 2)
                for item in items {
                    #expect(item.service == "worker")
                    #expect(item.kind == 5, "SPAN_KIND_CONSUMER")
                    #expect(item.links.count == 1)
                    #expect(item.links.first?.traceID == pushSpan.traceID)
                    #expect(item.links.first?.spanID == pushSpan.spanID)
                    #expect(item.traceID != pushSpan.traceID, "a trace of its own, linked")
                    #expect(item.attributes["workqueue.queue"] == "jobs")
                    #expect(item.attributes["workqueue.attempt"] == "1")
                    #expect(item.attributes["workqueue.session"] == String(session))
                    #expect(item.attributes["workqueue.outcome"] == "completed")
                }
                #expect(Set(items.compactMap { $0.attributes["workqueue.item.bytes"] }) == ["5", "6"])
                // Completed items' contexts are gone.
                #expect(try await redis.cli("exists", "jobs:push-traces") == "0")
            }
        }
    }

    @Test func aCPluginsCallIsInsideItsItemSpanAndAFailureIsRecorded() async throws {
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            try await Self.withReceiver(wq) { environment, file in
                try await redis.cli(["rpush", "c", "abc"])
                let plugin = try PluginFlowTests.plugin("CPrinterPlugin")
                let (worker, worked) = try await wq.run(["work", "--queue", "c", "--plugin", plugin], environment: environment)
                #expect(worked == .exited(0), "\(worker.stderr)")
                // A compiled-in handler that fails: factor refuses a word; one attempt, dead-lettered.
                try await redis.cli(["rpush", "f", "not-a-number"])
                let (failing, failed) = try await wq.run(["work", "--queue", "f", "--handler", "factor", "--max-attempts", "1"],
                                                        environment: environment)
                #expect(failed == .exited(0), "\(failing.stderr)")
                let spans = try Self.spans(in: file)
                let pluginSpan = try #require(spans.first { $0.name == "process c" }, "\(spans.map(\.name))")
                #expect(pluginSpan.attributes["workqueue.outcome"] == "completed")
                #expect(pluginSpan.links.isEmpty, "pushed without tracing: nothing to link to")
                let failedSpan = try #require(spans.first { $0.name == "process f" })
                #expect(failedSpan.attributes["workqueue.outcome"] == "dead-lettered")
                #expect(failedSpan.statusCode == 2, "STATUS_CODE_ERROR")
            }
        }
    }

    @Test func withoutOTELVariablesNothingIsExportedOrStored() async throws {
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            try await Self.withReceiver(wq) { _, file in
                let (push, pushed) = try await wq.run(["push", "--queue", "jobs", "apple"])
                #expect(pushed == .exited(0), "\(push.stderr)")
                #expect(try await redis.cli("exists", "jobs:push-traces") == "0")
                let (worker, worked) = try await wq.run(["work", "--queue", "jobs", "--handler", "printer"])
                #expect(worked == .exited(0), "\(worker.stderr)")
                #expect(try Self.spans(in: file).isEmpty)
            }
        }
    }

    @Test func anUnsupportedProtocolIsRefusedNamingTheVariables() async throws {
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            let (push, status) = try await wq.run(["push", "--queue", "jobs", "apple"],
                                                  environment: ["OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"])
            #expect(status == .exited(64), "\(push.stderr)")
            #expect(push.stderr.contains("OTEL_EXPORTER_OTLP_PROTOCOL 'grpc' is invalid"), "\(push.stderr)")
            #expect(try await redis.cli("llen", "jobs") == "0")
        }
    }
}

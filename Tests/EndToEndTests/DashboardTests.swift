import Foundation
import Testing
import TestSupport

/// deploy/grafana/workqueue-dashboard.json queries only metrics that a running worker's
/// `/metrics` and the queue exporter's `/metrics` actually serve.
@Suite struct DashboardTests {
    static let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("deploy/grafana/workqueue-dashboard.json").path

    /// Every PromQL expression of the dashboard: the panels' targets (rows' nested panels too)
    /// and the template variables' queries, with the panel's title.
    static func expressions() throws -> [(panel: String, expr: String)] {
        let data = try #require(FileManager.default.contents(atPath: path), "cannot read \(path)")
        let dashboard = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "not a JSON object")
        var found: [(String, String)] = []
        func visit(_ panels: [[String: Any]]) {
            for panel in panels {
                let title = panel["title"] as? String ?? "?"
                for target in panel["targets"] as? [[String: Any]] ?? [] {
                    if let expr = target["expr"] as? String { found.append((title, expr)) }
                }
                visit(panel["panels"] as? [[String: Any]] ?? [])
            }
        }
        visit(dashboard["panels"] as? [[String: Any]] ?? [])
        let templating = (dashboard["templating"] as? [String: Any])?["list"] as? [[String: Any]] ?? []
        for variable in templating where variable["type"] as? String == "query" {
            let query = (variable["query"] as? [String: Any])?["query"] as? String ?? variable["query"] as? String ?? ""
            found.append(("variable \(variable["name"] as? String ?? "?")", query))
        }
        return found
    }

    /// The metric names a PromQL expression selects: identifiers outside strings, label
    /// matchers `{...}` and ranges `[...]` that are not functions (followed by `(`), keywords,
    /// or the label lists of `by`/`without`/`on`/`ignoring`/`group_left`/`group_right`.
    /// `label_values(metric, label)` (a Grafana variable query) yields its metric.
    static func metricNames(in expr: String) -> Set<String> {
        let text = Array(expr.unicodeScalars)
        var names = Set<String>()
        var index = 0
        var braces = 0, brackets = 0
        // Keywords, and the aggregation operators (`sum by (le) (...)` has no `(` right after `sum`).
        let keywords: Set<String> = ["and", "or", "unless", "bool", "offset", "inf", "nan", "sum", "min", "max", "avg", "group",
                                     "stddev", "stdvar", "count", "count_values", "bottomk", "topk", "quantile", "limitk"]
        let grouping: Set<String> = ["by", "without", "on", "ignoring", "group_left", "group_right"]
        func isStart(_ c: Unicode.Scalar) -> Bool { c == "_" || c == ":" || (c.properties.isAlphabetic && c.isASCII) }
        func isPart(_ c: Unicode.Scalar) -> Bool { isStart(c) || ("0"..."9").contains(c) }
        func nextNonSpace(_ from: Int) -> Int {
            var at = from
            while at < text.count, text[at] == " " || text[at] == "\n" || text[at] == "\t" { at += 1 }
            return at
        }
        while index < text.count {
            let c = text[index]
            switch c {
            case "\"", "'", "`":
                index += 1
                while index < text.count, text[index] != c {
                    if text[index] == "\\" { index += 1 }
                    index += 1
                }
                index += 1
            case "{": braces += 1; index += 1
            case "}": braces -= 1; index += 1
            case "[": brackets += 1; index += 1
            case "]": brackets -= 1; index += 1
            case "$":
                // A Grafana variable ($queue, $__rate_interval): not a metric.
                index += 1
                while index < text.count, isPart(text[index]) { index += 1 }
            case _ where isStart(c) && (index == 0 || !isPart(text[index - 1]) && text[index - 1] != "."):
                var end = index
                while end < text.count, isPart(text[end]) { end += 1 }
                let word = String(String.UnicodeScalarView(text[index..<end]))
                let after = nextNonSpace(end)
                index = end
                guard braces == 0, brackets == 0 else { continue }
                if grouping.contains(word), after < text.count, text[after] == "(" {
                    // Skip the label list.
                    while index < text.count, text[index] != ")" { index += 1 }
                } else if word == "label_values", after < text.count, text[after] == "(" {
                    var start = nextNonSpace(after + 1)
                    var stop = start
                    while stop < text.count, isPart(text[stop]) { stop += 1 }
                    if stop > start { names.insert(String(String.UnicodeScalarView(text[start..<stop]))) }
                    start = stop
                    while index < text.count, text[index] != ")" { index += 1 }
                } else if after < text.count, text[after] == "(" {
                    continue // a function
                } else if !keywords.contains(word.lowercased()) {
                    names.insert(word)
                }
            default:
                index += 1
            }
        }
        return names
    }

    @Test func theExtractorFindsMetricsAndSkipsTheRest() {
        let expr = #"histogram_quantile(0.9, sum by (le, handler) (rate(a_bucket{queue=~"$queue", x="y{z}"}[$__rate_interval]))) / ignoring(q) b_total offset 5m + on (k) group_left (l) c and bool d"#
        #expect(Self.metricNames(in: expr) == ["a_bucket", "b_total", "c", "d"])
        #expect(Self.metricNames(in: "label_values(workqueue_queue_pending, queue)") == ["workqueue_queue_pending"])
    }

    @Test func everyMetricTheDashboardQueriesIsServed() async throws {
        let expressions = try Self.expressions()
        #expect(expressions.count >= 20, "\(expressions.count) expressions")
        for (panel, expr) in expressions {
            #expect(!Self.metricNames(in: expr).isEmpty, "panel '\(panel)' queries no metric: \(expr)")
        }
        try await LocalRedis.with { redis in
            // One item completes, one fails and is dead-lettered: the worker has run every path
            // the dashboard plots; --keep-running keeps it (and its /metrics) up afterwards.
            try await redis.cli(["rpush", "jobd", "12", "not-a-number"])
            let wq = try Workqueue(redis)
            let workerPort = try LocalRedis.freePort()
            let worker = try wq.start(["work", "--queue", "jobd", "--handler", "factor", "--max-attempts", "1",
                                       "--keep-running", "--metrics-port", "\(workerPort)"])
            defer { worker.send(SIGKILL) }
            let exporterPort = try LocalRedis.freePort()
            let exporter = try wq.start(["status", "--queue", "jobd", "--serve", "\(exporterPort)"])
            defer { exporter.send(SIGKILL) }
            #expect(try await worker.waitForStdout(containing: "12 = 2 * 2 * 3"), "\(worker.stderr)")
            var served = Set<String>()
            for port in [workerPort, exporterPort] {
                var text = ""
                for _ in 0..<100 {
                    if let body = try? await PrometheusText.fetch("http://127.0.0.1:\(port)/metrics", directory: wq.directory.path),
                       body.contains("workqueue_") {
                        text = body
                        break
                    }
                    try await Task.sleep(for: .milliseconds(100))
                }
                served.formUnion(try PrometheusText.parse(text).map(\.name))
            }
            var queried = Set<String>()
            for (panel, expr) in expressions {
                let names = Self.metricNames(in: expr)
                queried.formUnion(names)
                let missing = names.subtracting(served).sorted()
                #expect(missing.isEmpty, "panel '\(panel)' queries \(missing), which neither /metrics serves")
            }
            #expect(queried.count >= 20, "\(queried.sorted())")
        }
    }
}

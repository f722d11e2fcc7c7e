import WorkQueue

/// The `status --serve` page: the queue's own counts as Prometheus gauges, read per scrape.
enum QueueMetricsPage {
    /// Every gauge the page can hold, with its help text.
    static let gauges: [(name: String, help: String)] = [
        ("workqueue_queue_up", "1 when the last scrape read the queue's counts from Redis, else 0"),
        ("workqueue_queue_pending", "items waiting to be leased"),
        ("workqueue_queue_processing", "items taken by some worker (leased, or expired awaiting recovery)"),
        ("workqueue_queue_leased", "items of processing whose lease is alive"),
        ("workqueue_queue_scheduled", "scheduled items: failed items waiting for their retry time, items pushed with a delay"),
        ("workqueue_queue_dead", "dead-lettered items"),
        ("workqueue_queue_completed", "items completed so far"),
        ("workqueue_queue_workers", "workers whose heartbeat record is alive"),
        ("workqueue_queue_results", "completion records kept in NAME:results"),
        ("workqueue_queue_results_dropped", "completion records the workers' --results-max dropped so far (the oldest)"),
        ("workqueue_queue_wanted_workers", "workers the queue wants now, running ones included: the scaling signal (docs/scaling.md)"),
    ]

    /// The text exposition of `counts` and the completion records `results` (kept, dropped)
    /// (nil counts: Redis could not be read; only `up` is 0).
    static func render(_ counts: QueueCounts?, queue: String, results: (kept: Int, dropped: Int)? = nil,
                       wantedWorkers: Int? = nil) -> String {
        let label = "{queue=\"\(escape(queue))\"}"
        var values: [String: Int] = ["workqueue_queue_up": counts == nil ? 0 : 1]
        if let counts {
            values["workqueue_queue_pending"] = counts.pending
            values["workqueue_queue_processing"] = counts.processing
            values["workqueue_queue_scheduled"] = counts.scheduled
            values["workqueue_queue_dead"] = counts.dead
            if let leased = counts.leased { values["workqueue_queue_leased"] = leased }
            if let completed = counts.completed { values["workqueue_queue_completed"] = completed }
            if let workers = counts.workers { values["workqueue_queue_workers"] = workers }
            if let wantedWorkers { values["workqueue_queue_wanted_workers"] = wantedWorkers }
            if let results {
                values["workqueue_queue_results"] = results.kept
                values["workqueue_queue_results_dropped"] = results.dropped
            }
        }
        var text = ""
        for (name, help) in gauges {
            guard let value = values[name] else { continue }
            text += "# HELP \(name) \(help)\n# TYPE \(name) gauge\n\(name)\(label) \(value)\n"
        }
        return text
    }

    /// Escapes a label value (backslash, quote, newline).
    static func escape(_ value: String) -> String {
        var out = ""
        for char in value {
            switch char {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(char)
            }
        }
        return out
    }
}

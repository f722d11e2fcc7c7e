#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import NIOHTTP1
import WorkQueue
import WorkQueueDashboard
import WorkQueueRedis

/// Reads what ``ScalingSignal`` needs from Redis and serves it: `GET /scaling` on
/// `status --serve`, for KEDA's metrics-api scaler (`valueLocation: wanted_workers`).
enum ScalingEndpoint {
    /// The path KEDA's metrics-api trigger reads.
    static let path = "/scaling"

    /// The live workers' samples and whether the queue is paused or cancelled: beyond the
    /// counts, one pipelined TIME + ZRANGEBYSCORE and one HMGET of the records (first shard:
    /// the heartbeat records live there), and one pipelined HMGET + LLEN of the control hash
    /// per shard.
    static func input(_ producer: QueueProducer, counts: QueueCounts, target: Duration) async throws -> ScalingSignal.Input {
        var samples: [ScalingSignal.WorkerSample] = []
        var live = counts.workers ?? 0
        if let first = producer.queues.first {
            let workers = try await first.liveWorkers()
            let now = WorkerHeartbeat.wallClockMilliseconds()
            samples = workers.compactMap { ScalingSignal.sample($0, nowMilliseconds: now) }
            live = workers.count
        }
        var stopped = false
        for queue in producer.queues {
            let control = try await queue.control()
            if control.paused || control.cancelled { stopped = true }
        }
        return ScalingSignal.Input(pending: counts.pending, inFlight: counts.processing, scheduled: counts.scheduled,
                                   due: nil, workers: live, perWorkerRate: ScalingSignal.perWorkerRate(samples),
                                   rateCeiling: ScalingSignal.rateCeiling(samples), targetDrainSeconds: target.roundedSeconds,
                                   stopped: stopped)
    }

    /// The `/scaling` body.
    struct Report: Codable, Equatable {
        var queue: String
        /// Workers wanted now, running ones included (KEDA's metric).
        var wantedWorkers: Int
        /// drained, stopped, scheduled, measured or starting (see ``ScalingSignal/Reason``).
        var reason: String
        var pending: Int
        var inFlight: Int
        var scheduled: Int
        /// Scheduled items due now; null while the backend does not count them.
        var due: Int?
        var workers: Int
        /// Items one worker settles per second; null until one has settled an item.
        var perWorkerRate: Double?
        /// Until then: the most one worker can be settling per second (null with no live worker).
        var rateCeiling: Double?
        var targetDrainSeconds: Double

        enum CodingKeys: String, CodingKey {
            case queue, reason, pending, scheduled, due, workers
            case wantedWorkers = "wanted_workers"
            case inFlight = "in_flight"
            case perWorkerRate = "per_worker_rate"
            case rateCeiling = "per_worker_rate_ceiling"
            case targetDrainSeconds = "target_drain_seconds"
        }

        /// `due` and `per_worker_rate` are always there (null when unknown); the ceiling only
        /// while there is no rate.
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(queue, forKey: .queue)
            try container.encode(wantedWorkers, forKey: .wantedWorkers)
            try container.encode(reason, forKey: .reason)
            try container.encode(pending, forKey: .pending)
            try container.encode(inFlight, forKey: .inFlight)
            try container.encode(scheduled, forKey: .scheduled)
            try container.encode(due, forKey: .due)
            try container.encode(workers, forKey: .workers)
            try container.encode(perWorkerRate, forKey: .perWorkerRate)
            try container.encodeIfPresent(rateCeiling, forKey: .rateCeiling)
            try container.encode(targetDrainSeconds, forKey: .targetDrainSeconds)
        }

        init(queue: String, input: ScalingSignal.Input, signal: ScalingSignal) {
            self.queue = queue
            wantedWorkers = signal.wanted
            reason = signal.reason.rawValue
            pending = input.pending
            inFlight = input.inFlight
            scheduled = input.scheduled
            due = input.due
            workers = input.workers
            perWorkerRate = input.perWorkerRate.map { ($0 * 1000).rounded() / 1000 }
            rateCeiling = input.perWorkerRate == nil ? input.rateCeiling.map { ($0 * 1_000_000).rounded() / 1_000_000 } : nil
            targetDrainSeconds = input.targetDrainSeconds
        }
    }

    static func json(_ report: Report) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(report)) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    /// The answer to a request for ``path``: GET or HEAD only; 503 with an `error` when Redis
    /// cannot be read (KEDA then counts a failed poll and keeps its Jobs).
    static func respond(to request: HTTPServer.Request, page: MetricsServer.Page) async -> HTTPServer.Response {
        if request.method != .GET && request.method != .HEAD {
            return HTTPServer.Response(.methodNotAllowed, text: "only GET and HEAD are served\n")
        }
        let (status, body) = await page()
        return HTTPServer.Response(status, contentType: "application/json", body: Array(body.utf8))
    }

    /// The error body: `{"error": "..."}`.
    static func errorJSON(_ message: String) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(["error": message])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}

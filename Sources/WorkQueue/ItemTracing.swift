import Logging
import Synchronization
import Tracing

/// A span per item a worker handles (``WorkerOptions/tracing``; docs/tracing.md).
///
/// Each item gets one span of kind consumer, named `process <queue>`, from the moment the
/// worker leased it to the moment the backend settled it; the handler runs inside it (its
/// `InstrumentationContext.current` is the span's, so spans the handler starts are children, a
/// plugin's call included). Attributes: `workqueue.queue`, `workqueue.attempt`,
/// `workqueue.session`, `workqueue.outcome` (`completed`, `retry`, `dead-lettered`, `released`,
/// `lease-lost`, or `unsettled` when the worker stopped first), `workqueue.item.bytes`, and
/// `messaging.destination.name` = the queue. A handler error is recorded on the span, whose
/// status is then an error.
///
/// When the backend keeps push contexts (`PushTraceStore`: the Redis queue does, see
/// `QueueProducer`), the span links to the span of the push that added the item, and the
/// entry is cleared once the item completed or was dead-lettered.
public struct ItemTracing: Sendable {
    /// The tracer the spans go to (the command bootstraps swift-otel's and passes
    /// `InstrumentationSystem.tracer`).
    public var tracer: any Tracer
    /// The queue's name, for the spans' names and attributes.
    public var queue: String
    /// Whether to read each item's push context from the backend to link the span to it (one
    /// read per item, and one delete per item completed or dead-lettered). Default true.
    public var linksToPushes: Bool = true

    /// Spans on `tracer` for the items of `queue`.
    public init(tracer: any Tracer, queue: String) {
        self.tracer = tracer
        self.queue = queue
    }
}

/// The open spans of one worker, by lease token: begun when a slot starts an item, ended when
/// the item is settled (or lost, or the worker returns with it unsettled).
final class ItemSpans: Sendable {
    let tracing: ItemTracing
    let session: String
    let maxAttempts: Int
    let store: (any PushTraceStore)?
    private let open = Mutex<[String: any Span]>([:])
    /// The leases (tokens) being handled whose item had a push context: only those are
    /// forgotten afterwards (no `HDEL` for an item pushed untraced).
    private let linked = Mutex<Set<String>>([])

    init(_ tracing: ItemTracing, session: String, maxAttempts: Int, backend: any WorkQueueBackend) {
        self.tracing = tracing
        self.session = session
        self.maxAttempts = maxAttempts
        store = tracing.linksToPushes ? backend as? any PushTraceStore : nil
    }

    /// Starts the span of `lease` as of `leasedAt`, linked to its push when one is stored;
    /// returns the context the handler runs in.
    func begin(_ lease: Lease, leasedAt: ContinuousClock.Instant) async -> InstrumentationContext {
        let tracer = tracing.tracer
        var pushed: InstrumentationContext?
        if let store, let text = (try? await store.pushTraces(for: [lease.item]))?.first ?? nil {
            var context = InstrumentationContext.topLevel
            tracer.extract(PushTraceContext.decode(text), into: &context, using: CarrierExtractor())
            pushed = context
        }
        let waited = ContinuousClock.now - leasedAt
        let now = DefaultTracerClock.now.nanosecondsSinceEpoch
        let back = UInt64(max(0, waited.components.seconds)) * 1_000_000_000 + UInt64(max(0, waited.components.attoseconds / 1_000_000_000))
        let start = DefaultTracerClock.Timestamp(nanosecondsSinceEpoch: now > back ? now - back : now)
        let span = tracer.startSpan("process \(tracing.queue)", context: InstrumentationContext.current ?? .topLevel,
                                    ofKind: .consumer, at: start)
        span.attributes["workqueue.queue"] = tracing.queue
        span.attributes["messaging.destination.name"] = tracing.queue
        span.attributes["workqueue.attempt"] = lease.attempt
        span.attributes["workqueue.session"] = session
        span.attributes["workqueue.item.bytes"] = lease.item.bytes.count
        if let pushed {
            span.addLink(SpanLink(context: pushed, attributes: [:]))
            linked.withLock { _ = $0.insert(lease.token) }
        }
        open.withLock { $0[lease.token] = span }
        return span.context
    }

    /// The handler of `lease` returned or threw: an error is recorded on its span.
    func handled(_ lease: Lease, _ result: ItemLedger.HandlerResult) {
        guard case let .threw(message, unprocessable) = result,
              let span = open.withLock({ $0[lease.token] }) else { return }
        span.recordError(HandlerFailure(message: message))
        if unprocessable { span.attributes["workqueue.unprocessable"] = true }
    }

    /// After the slot handed the result on: clears the item's push context when it had one and
    /// this attempt is its last (it returned, or it threw on its last attempt or as
    /// unprocessable).
    func forgetIfLast(_ lease: Lease, _ result: ItemLedger.HandlerResult) async {
        guard let store, linked.withLock({ $0.remove(lease.token) }) != nil else { return }
        switch result {
        case .returned: break
        case let .threw(_, unprocessable): guard unprocessable || lease.attempt >= maxAttempts else { return }
        }
        try? await store.forgetPushTraces(for: [lease.item])
    }

    /// The backend settled `settlement`: its span gets the outcome and ends.
    func settled(_ settlement: Settlement) {
        guard let span = open.withLock({ $0.removeValue(forKey: settlement.lease.token) }) else { return }
        switch settlement {
        case .complete:
            span.attributes["workqueue.outcome"] = "completed"
        case let .fail(_, message, disposition):
            if case .deadLetter = disposition {
                span.attributes["workqueue.outcome"] = "dead-lettered"
            } else {
                span.attributes["workqueue.outcome"] = "retry"
            }
            span.setStatus(SpanStatus(code: .error, message: message))
        case .release:
            span.attributes["workqueue.outcome"] = "released"
        }
        span.end()
    }

    /// `lease` was lost (another worker may have it): its span ends as such.
    func lost(_ lease: Lease) {
        guard let span = open.withLock({ $0.removeValue(forKey: lease.token) }) else { return }
        span.attributes["workqueue.outcome"] = "lease-lost"
        span.setStatus(SpanStatus(code: .error, message: "lease lost"))
        span.end()
    }

    /// The worker returns: spans still open end as `unsettled` (their items come back through
    /// recovery).
    func endAll() {
        let spans = open.withLock { open in
            defer { open.removeAll() }
            return Array(open.values)
        }
        for span in spans {
            span.attributes["workqueue.outcome"] = "unsettled"
            span.end()
        }
    }
}

/// A handler's error as recorded on its item's span (the runner keeps its text).
struct HandlerFailure: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// Reads a carrier of `key=value` pairs (`PushTraceContext`).
struct CarrierExtractor: Extractor {
    func extract(key: String, from carrier: [String: String]) -> String? { carrier[key] }
}

extension Worker {
    /// Runs `body` (the handling of `item`) inside the item's span when tracing is on; with
    /// tracing off, only `body`.
    func traced(_ item: Dispatcher.Started,
                _ body: () async -> (ItemLedger.HandlerResult, Logger, Task<String?, any Error>?)) async
        -> (ItemLedger.HandlerResult, Logger, Task<String?, any Error>?) {
        guard let spans else { return await body() }
        let context = await spans.begin(item.lease, leasedAt: item.leasedAt)
        let outcome = await InstrumentationContext.withValue(context) { await body() }
        spans.handled(item.lease, outcome.0)
        return outcome
    }
}

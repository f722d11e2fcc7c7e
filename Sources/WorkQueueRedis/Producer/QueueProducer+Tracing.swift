import Tracing
import WorkQueueSeam

/// Tracing of pushes (docs/tracing.md): with a tracer that records (swift-otel's, once the
/// command or the program bootstrapped it), each ``QueueProducer/push(_:)`` is a span of kind
/// producer named `push <queue>`, and its context (W3C `traceparent`) is stored for each item
/// pushed (`NAME:push-traces`, ``RedisQueue/storePushTrace(_:for:)``), so that the span a
/// worker makes for the item links to it. The items themselves stay raw bytes in `NAME`. With
/// no tracer bootstrapped (`NoOpTracer`), a push makes no span and writes nothing more.
extension QueueProducer {
    /// Traces this producer's pushes on `tracer` instead of `InstrumentationSystem.tracer`
    /// (nil: that one again).
    public func tracePushes(with tracer: (any Tracer)?) {
        pushTracer = tracer
    }

    /// The span of a push of `items` items; nil when tracing is off.
    func startPushSpan(items: Int) -> (any Span)? {
        let tracer = pushTracer ?? InstrumentationSystem.tracer
        if tracer is NoOpTracer { return nil }
        let span = tracer.startSpan("push \(name)", context: InstrumentationContext.current ?? .topLevel, ofKind: .producer)
        span.attributes["workqueue.queue"] = name
        span.attributes["messaging.destination.name"] = name
        span.attributes["workqueue.items"] = items
        return span
    }

    /// The context of `span` as stored per item (`PushTraceContext`); nil when the tracer
    /// injects nothing (e.g. a context it does not sample).
    func encodedContext(of span: any Span) -> String? {
        var carrier: [String: String] = [:]
        (pushTracer ?? InstrumentationSystem.tracer).inject(span.context, into: &carrier, using: PushCarrierInjector())
        return PushTraceContext.encode(carrier)
    }
}

/// Writes a carrier of `key=value` pairs.
private struct PushCarrierInjector: Injector {
    func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) { carrier[key] = value }
}

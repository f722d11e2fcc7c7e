import InMemoryTracing
import Synchronization
import Testing
import Tracing
import WorkQueue
import WorkQueueTesting

/// A span per item (``ItemTracing``): its attributes and outcome, the handler inside it, its
/// link to the push's context, and nothing at all with tracing off.
@Suite struct ItemTracingTests {
    struct Refused: Error, CustomStringConvertible {
        var description: String { "refused" }
    }

    static func options(_ tracer: InMemoryTracer?, maxAttempts: Int = 1) -> WorkerOptions {
        var options = WorkerOptions()
        options.idlePollInterval = .milliseconds(20)
        options.retry = .immediate
        options.maxAttempts = maxAttempts
        options.heartbeatInterval = nil
        options.tracing = tracer.map { ItemTracing(tracer: $0, queue: "jobs") }
        return options
    }

    static func string(_ span: FinishedInMemorySpan, _ name: String) -> String? {
        guard case let .string(value) = span.attributes.get(name) else { return nil }
        return value
    }

    static func int(_ span: FinishedInMemorySpan, _ name: String) -> Int64? {
        switch span.attributes.get(name) {
        case let .int64(value): value
        case let .int32(value): Int64(value)
        default: nil
        }
    }

    static func items(_ tracer: InMemoryTracer) -> [FinishedInMemorySpan] {
        tracer.finishedSpans.filter { $0.operationName == "process jobs" }
    }

    @Test func eachItemGetsAConsumerSpanWithItsAttributesOutcomeAndError() async throws {
        let tracer = InMemoryTracer()
        let queue = InMemoryQueue(items: ["good", "bad"])
        let handler = ClosureHandler { item, _ in
            if item == "bad" { throw Refused() }
            return "ok"
        }
        let worker = try Worker(backend: queue, handler: handler, options: Self.options(tracer), session: "s-1")
        _ = try await worker.runUntilStopped()
        let spans = Self.items(tracer)
        #expect(spans.count == 2)
        let good = try #require(spans.first { Self.int($0, "workqueue.item.bytes") == 4 })
        let bad = try #require(spans.first { Self.int($0, "workqueue.item.bytes") == 3 })
        for span in [good, bad] {
            #expect(span.kind == .consumer)
            #expect(Self.string(span, "workqueue.queue") == "jobs")
            #expect(Self.string(span, "messaging.destination.name") == "jobs")
            #expect(Self.string(span, "workqueue.session") == "s-1")
            #expect(Self.int(span, "workqueue.attempt") == 1)
            #expect(span.endInstant.nanosecondsSinceEpoch >= span.startInstant.nanosecondsSinceEpoch)
        }
        #expect(Self.string(good, "workqueue.outcome") == "completed")
        #expect(good.errors.isEmpty)
        #expect(good.status == nil)
        #expect(Self.string(bad, "workqueue.outcome") == "dead-lettered")
        #expect(bad.errors.count == 1)
        #expect(bad.errors.first.map { "\($0.error)" } == "refused")
        #expect(bad.status?.code == .error)
    }

    @Test func aFailedAttemptThatIsRetriedEndsAsRetryAndTheNextAttemptHasItsOwnSpan() async throws {
        let tracer = InMemoryTracer()
        let queue = InMemoryQueue(items: ["flaky"])
        let calls = Mutex(0)
        let handler = ClosureHandler { _, _ in
            let call = calls.withLock { calls in
                calls += 1
                return calls
            }
            if call == 1 { throw Refused() }
            return nil
        }
        let worker = try Worker(backend: queue, handler: handler, options: Self.options(tracer, maxAttempts: 3))
        _ = try await worker.runUntilStopped()
        let spans = Self.items(tracer).sorted { (Self.int($0, "workqueue.attempt") ?? 0) < (Self.int($1, "workqueue.attempt") ?? 0) }
        #expect(spans.map { Self.int($0, "workqueue.attempt") } == [1, 2])
        #expect(spans.map { Self.string($0, "workqueue.outcome") } == ["retry", "completed"])
    }

    @Test func theHandlersOwnSpansAreChildrenOfTheItemSpan() async throws {
        let tracer = InMemoryTracer()
        let queue = InMemoryQueue(items: ["one"])
        let handler = ClosureHandler { _, _ in
            tracer.withSpan("inner work") { _ in }
            return nil
        }
        let worker = try Worker(backend: queue, handler: handler, options: Self.options(tracer))
        _ = try await worker.runUntilStopped()
        let item = try #require(Self.items(tracer).first)
        let inner = try #require(tracer.finishedSpans.first { $0.operationName == "inner work" })
        #expect(inner.traceID == item.traceID)
        #expect(inner.parentSpanID == item.spanID)
        #expect(inner.startInstant.nanosecondsSinceEpoch >= item.startInstant.nanosecondsSinceEpoch)
        #expect(inner.endInstant.nanosecondsSinceEpoch <= item.endInstant.nanosecondsSinceEpoch)
    }

    @Test func theItemSpanLinksToItsPushAndTheEntryIsForgottenOnceCompleted() async throws {
        let tracer = InMemoryTracer()
        let queue = InMemoryQueue()
        // What a producer does: a span for the push, its context stored for each item.
        let push = tracer.startSpan("push jobs", ofKind: .producer)
        var carrier: [String: String] = [:]
        tracer.inject(push.context, into: &carrier, using: TestInjector())
        push.end()
        let context = try #require(PushTraceContext.encode(carrier))
        try await queue.storePushTrace(context, for: ["linked"])
        try await queue.enqueue(["linked", "unlinked"])
        let worker = try Worker(backend: queue, handler: ClosureHandler { _, _ in nil }, options: Self.options(tracer))
        _ = try await worker.runUntilStopped()
        let spans = Self.items(tracer)
        let linked = try #require(spans.first { Self.int($0, "workqueue.item.bytes") == 6 })
        let unlinked = try #require(spans.first { Self.int($0, "workqueue.item.bytes") == 8 })
        let link = try #require(linked.links.first)
        #expect(link.context.inMemorySpanContext?.traceID == push.context.inMemorySpanContext?.traceID)
        #expect(link.context.inMemorySpanContext?.spanID == push.context.inMemorySpanContext?.spanID)
        // A new trace of its own, linked, not a child of the push.
        #expect(linked.traceID != push.context.inMemorySpanContext?.traceID)
        #expect(unlinked.links.isEmpty)
        #expect(try await queue.pushTraces(for: ["linked"]) == [nil])
    }

    @Test func withTracingOffNoSpanIsMadeAndNoEntryIsReadOrForgotten() async throws {
        let tracer = InMemoryTracer()
        let queue = InMemoryQueue(items: ["x"])
        try await queue.storePushTrace("k=v", for: ["x"])
        let handler = ClosureHandler { _, _ in
            #expect(InstrumentationContext.current == nil)
            return nil
        }
        let worker = try Worker(backend: queue, handler: handler, options: Self.options(nil))
        let summary = try await worker.runUntilStopped()
        #expect(summary.completed == 1)
        #expect(tracer.finishedSpans.isEmpty)
        // Left as it was: the worker read nothing and deleted nothing.
        #expect(try await queue.pushTraces(for: ["x"]) == ["k=v"])
    }
}

struct TestInjector: Injector {
    func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) { carrier[key] = value }
}

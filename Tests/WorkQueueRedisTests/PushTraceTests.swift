import InMemoryTracing
import Testing
import TestSupport
import Tracing
import WorkQueue
import WorkQueueRedis

/// The push side of tracing on a real Redis: a traced push stores its context per item in
/// `NAME:push-traces` (keyed by the item's SHA-224, with a TTL), before the items; an untraced
/// push writes nothing; `NAME` stays a list of the raw items either way; and a worker's item
/// span links to the push's span.
@Suite(.serialized) struct PushTraceTests {
    @Test func aTracedPushStoresItsContextPerItemBesideRawItems() async throws {
        try await LocalRedis.with { server in
            let tracer = InMemoryTracer()
            let producer = try await QueueProducer.connect(queue: "jobs", url: server.url)
            await producer.tracePushes(with: tracer)
            try await producer.push(["alpha", "beta"])
            await producer.close()
            #expect(try await server.cli("lrange", "jobs", "0", "-1") == "alpha\nbeta")
            let push = try #require(tracer.finishedSpans.first { $0.operationName == "push jobs" })
            #expect(push.kind == .producer)
            #expect(try await server.cli("hlen", "jobs:push-traces") == "2")
            // Field: the item's SHA-224 hex (as NAME:attempts and NAME:errors key items).
            let alpha = try await server.cli("hget", "jobs:push-traces", SHA224.hex(Array("alpha".utf8)))
            let carrier = PushTraceContext.decode(alpha)
            #expect(carrier[InMemoryTracer.traceIDKey] == push.traceID)
            #expect(carrier[InMemoryTracer.spanIDKey] == push.spanID)
            let ttl = try #require(Int(try await server.cli("ttl", "jobs:push-traces")))
            #expect(ttl > 6 * 86_400 && ttl <= RedisQueue.pushTraceTTLSeconds)
        }
    }

    @Test func anUntracedPushWritesNothingMore() async throws {
        try await LocalRedis.with { server in
            // No tracer given and none bootstrapped: InstrumentationSystem's is the no-op one.
            let producer = try await QueueProducer.connect(queue: "jobs", url: server.url)
            try await producer.push(["alpha", "beta"])
            await producer.close()
            #expect(try await server.cli("lrange", "jobs", "0", "-1") == "alpha\nbeta")
            #expect(try await server.cli("exists", "jobs:push-traces") == "0")
        }
    }

    @Test func aWorkersItemSpanLinksToThePushAcrossTheRedisQueue() async throws {
        try await LocalRedis.with { server in
            let tracer = InMemoryTracer()
            let producer = try await QueueProducer.connect(queue: "jobs", url: server.url)
            await producer.tracePushes(with: tracer)
            try await producer.push(["alpha"])
            await producer.close()
            let push = try #require(tracer.finishedSpans.first { $0.operationName == "push jobs" })
            let backend = try await RedisQueue.connect(name: "jobs", configuration: server.configuration)
            var options = WorkerOptions()
            options.heartbeatInterval = nil
            options.tracing = ItemTracing(tracer: tracer, queue: "jobs")
            let worker = try Worker(backend: backend, handler: Echo(), options: options)
            _ = try await worker.runUntilStopped()
            await backend.close()
            let item = try #require(tracer.finishedSpans.first { $0.operationName == "process jobs" })
            let link = try #require(item.links.first)
            #expect(link.context.inMemorySpanContext?.spanID == push.spanID)
            #expect(link.context.inMemorySpanContext?.traceID == push.traceID)
            // Completed: its entry is gone.
            #expect(try await server.cli("hlen", "jobs:push-traces") == "0")
        }
    }

    /// docs/tracing.md's samples, as they are written there (no tracer bootstrapped here: the
    /// no-op one, so nothing is traced).
    @Test func theDocsSamplesRun() async throws {
        try await LocalRedis.with { server in
            let queue = try await RedisQueue.connect(name: "thumbnails", configuration: server.configuration)
            let producer = try await QueueProducer.connect(queue: "thumbnails", url: server.url)
            let handler = Echo()
            let items: [WorkItem] = ["a", "b"]
            // InstrumentationSystem.tracer unless given another one:
            await producer.tracePushes(with: InstrumentationSystem.tracer)
            try await producer.push(items)
            await producer.close()
            var options = WorkerOptions()
            options.tracing = ItemTracing(tracer: InstrumentationSystem.tracer, queue: "thumbnails")
            let worker = try Worker(backend: queue, handler: handler, options: options)
            let summary = try await worker.runUntilStopped()
            await queue.close()
            #expect(summary.completed == 2)
            #expect(try await server.cli("exists", "thumbnails:push-traces") == "0")
        }
    }

    struct Echo: WorkHandler {
        func handle(_ item: WorkItem, context: WorkContext) async throws -> String? { item.string }
    }
}

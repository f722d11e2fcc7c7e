import Benchmark
import NIOCore
import WorkQueue
import WorkQueueRedis
import WorkQueueTesting

/// The pieces of one item's trip through the worker, without Redis: the reply of a take parsed,
/// a settle batch encoded, a SHA-224 (results and attempts), and the runner itself (the
/// fetcher feeding the slots) over the in-memory queue with the no-op handler.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .mallocCountTotal, .throughput], maxDuration: .seconds(3))

    // A take reply of 256 items: { outcomes, { token, item, attempts, ... }, {}, { 0, 256, 0 } }.
    let reply: ByteBuffer = {
        var text = "*4\r\n*0\r\n*\(256 * 3)\r\n"
        for index in 0..<256 {
            let token = "6c1f0b9e-1234-4567-89ab-0123456789ab:\(index)"
            let item = "item-\(index)"
            text += "$\(token.utf8.count)\r\n\(token)\r\n$\(item.utf8.count)\r\n\(item)\r\n:0\r\n"
        }
        text += "*0\r\n*3\r\n:0\r\n:256\r\n:0\r\n"
        return ByteBuffer(string: text)
    }()

    Benchmark("RESP parse: a take of 256 items", configuration: .init(scalingFactor: .kilo)) { benchmark in
        for _ in benchmark.scaledIterations {
            var parser = RESPParser()
            parser.feed(reply)
            blackHole(try parser.next())
        }
    }

    let tokens = (0..<256).map { "6c1f0b9e-1234-4567-89ab-0123456789ab:\($0)" }
    Benchmark("RESP encode: a settle of 256 items", configuration: .init(scalingFactor: .kilo)) { benchmark in
        for _ in benchmark.scaledIterations {
            var command = RESPCommand(capacity: 256 * 96)
            command.append("EVALSHA")
            command.append("0123456789012345678901234567890123456789")
            for token in tokens {
                command.append("c")
                command.append(token)
                command.append("")
                command.append("")
                command.append("")
            }
            blackHole(command.encoded.readableBytes)
        }
    }

    let item = Array("a 64-byte item: what a typical queue item of an id and a few fields".utf8.prefix(64))
    Benchmark("SHA-224 of a 64-byte item", configuration: .init(scalingFactor: .kilo)) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(SHA224.hex(item))
        }
    }

    Benchmark("Runner: 10,000 no-op items over the in-memory queue") { benchmark in
        for _ in benchmark.scaledIterations {
            let queue = InMemoryQueue(items: (0..<10_000).map { WorkItem("item-\($0)") })
            var options = WorkerOptions()
            options.idlePollInterval = .milliseconds(1)
            let worker = try Worker(backend: queue, handler: NoopHandler(), options: options)
            blackHole(try await worker.runUntilStopped().completed)
        }
    }
}

struct NoopHandler: WorkHandler {
    func handle(_ item: WorkItem, context: WorkContext) async throws -> String? { nil }
}

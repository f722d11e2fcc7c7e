// A program that only fills a queue: it links WorkQueueRedis (the Redis client and the
// backend) and the seam (WorkQueueSeam), never the runner (`WorkQueue`: ServiceLifecycle,
// metrics). `producer-only <queue> <item>...` pushes the items to the Redis at REDIS_URL
// (default redis://127.0.0.1:6379), then prints the queue's counts.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import WorkQueueRedis
import WorkQueueSeam

let arguments = Array(CommandLine.arguments.dropFirst())
guard let queue = arguments.first, arguments.count > 1 else {
    print("usage: producer-only <queue> <item>...")
    exit(2)
}
let url = getenv("REDIS_URL").map { String(cString: $0) } ?? "redis://127.0.0.1:6379"
let producer = try await QueueProducer.connect(queue: queue, url: url)
try await producer.push(arguments.dropFirst().map { WorkItem($0) })
let counts = try await producer.counts()
print("pushed \(arguments.count - 1) items to \(queue): \(counts.pending) pending")
await producer.close()

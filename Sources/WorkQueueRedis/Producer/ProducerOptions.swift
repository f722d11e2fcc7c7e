#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import WorkQueueSeam

/// How a ``QueueProducer`` pushes and holds; the defaults are `workqueue push`'s.
public struct ProducerOptions: Sendable, Hashable {
    /// The name of this producer's hold in `NAME:holds` (``QueueProducer/hold(ttl:reopen:keepAlive:)``):
    /// 1 to 200 characters without spaces or control characters. Nil (the default) names it
    /// `host:pid:random`, unique to the producer, so that `workqueue status` tells who holds
    /// the queue.
    public var holdName: String?
    /// After each chunk, wait (`WAIT`) until this many replicas have it, else throw
    /// ``ProducerError/replicasBehind(queue:pushed:acknowledged:wanted:timeout:)``: a failover
    /// cannot then lose what was pushed. Default 0: no wait (`push --wait-replicas`).
    public var waitReplicas: Int
    /// With ``waitReplicas``: how long to wait for the replicas per chunk. Default 5 s.
    public var replicaTimeout: Duration
    /// Items per `RPUSH` (and per replica wait). Default 1000. A push with options
    /// (`QueueProducer.push(_:options:)`) sends at most 1000 items a call whatever this says.
    public var chunkSize: Int

    /// Options with the command's defaults: a generated hold name, no replica wait, chunks of
    /// 1000 items.
    public init(holdName: String? = nil, waitReplicas: Int = 0, replicaTimeout: Duration = .seconds(5), chunkSize: Int = 1000) {
        self.holdName = holdName
        self.waitReplicas = waitReplicas
        self.replicaTimeout = replicaTimeout
        self.chunkSize = chunkSize
    }
}

extension EnqueueOptions {
    /// Options that keep the items until the wall-clock time `unixMilliseconds` (ms since
    /// 1970-01-01 UTC, this machine's clock): the delay is that time minus now, read here and
    /// rounded up; a time past pushes at once. The backend then counts the delay on its own
    /// clock from the push, so a clock skew between this machine and Redis never makes the
    /// items pending before that time (as this machine's clock tells it).
    public init(notBefore unixMilliseconds: Int64, uniqueWindow: Duration? = nil) {
        let left = unixMilliseconds - Self.wallClockMilliseconds()
        self.init(delay: left > 0 ? .milliseconds(left) : .zero, uniqueWindow: uniqueWindow)
    }

    /// This machine's wall clock, ms since 1970-01-01 UTC (rounded down, so that a delay from
    /// it is never short).
    public static func wallClockMilliseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }
}

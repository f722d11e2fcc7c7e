import WorkQueueSeam

/// Why a ``QueueProducer`` call was refused. Each description says what to do next.
public enum ProducerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The queue (with shards: this shard) was drained and its workers exited
    /// (`NAME:drained` is set): nothing of the refused call was pushed or held. Items pushed
    /// now would wait with no worker to take them.
    case queueDrained(queue: String)
    /// After a chunk was pushed, fewer replicas than ``ProducerOptions/waitReplicas``
    /// acknowledged it within ``ProducerOptions/replicaTimeout``. `pushed` counts every item
    /// this producer pushed so far, that chunk included.
    case replicasBehind(queue: String, pushed: Int, acknowledged: Int, wanted: Int, timeout: Duration)
    /// ``QueueProducer/waitUntilDrained(timeout:pollInterval:)`` gave up: the queue still had
    /// these counts (summed over the shards) after waiting `waited`.
    case notDrained(queue: String, counts: QueueCounts, waited: Duration)
    /// The producer was closed (``QueueProducer/close()``); connect a new one.
    case closed(queue: String)

    public var description: String {
        switch self {
        case let .queueDrained(queue):
            "queue '\(queue)' was drained and its workers have exited (\(queue):drained is set): items pushed now would "
                + "wait with no worker to take them. Use a new queue name for a new job, or reopen it (QueueProducer.reopen(), "
                + "or hold(reopen: true)) to clear the marker and push anyway, then start workers for them"
        case let .replicasBehind(queue, pushed, acknowledged, wanted, timeout):
            "\(pushed) item\(pushed == 1 ? "" : "s") pushed to \(queue) so far, but only \(acknowledged) of the \(wanted) "
                + "replica\(wanted == 1 ? "" : "s") asked for confirmed the last chunk within \(timeout): it is on the primary, "
                + "and a failover now could lose it (Redis replicates asynchronously). Check the replicas (INFO replication, "
                + "CLUSTER NODES) and push again what must not be lost (workers may then see duplicates, which at-least-once "
                + "delivery allows), or ask for fewer replicas"
        case let .notDrained(queue, counts, waited):
            "queue '\(queue)' is not drained after \(waited): \(counts.pending) pending, \(counts.processing) in flight, "
                + "\(counts.scheduled) scheduled for a retry. Check that workers run (`workqueue workers --queue \(queue)`) "
                + "and wait again, or with a longer timeout"
        case let .closed(queue):
            "the producer of queue '\(queue)' was closed: connect a new QueueProducer"
        }
    }
}

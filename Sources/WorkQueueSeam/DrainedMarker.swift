/// A backend whose ``WorkQueueBackend/finishIfDrained(session:)`` leaves a record (Redis:
/// `NAME:drained`, which refuses later pushes) that can be taken back.
///
/// ``ShardedBackend`` decides "drained" shard by shard; when a later shard turns out not to be
/// drained, it withdraws the records its own call set on the earlier ones, so that producers
/// are not refused while the job still runs.
public protocol DrainedMarker: WorkQueueBackend {
    /// Removes the drained record if `session` set it; another session's record stays.
    func withdrawDrained(session: String) async throws
}

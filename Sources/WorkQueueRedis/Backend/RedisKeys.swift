/// The keys of a queue named `NAME`, named after ``QueueKey``, the one table of them (docs/redis.md
/// shows the same table).
struct RedisKeys: Sendable {
    /// `NAME`: pending items, raw bytes (list; producers RPUSH, workers take from the head).
    let pending: String
    /// `NAME:processing`: items some worker took and has not settled (list, raw bytes).
    let processing: String
    /// `NAME:leases`: our leases, token -> deadline in ms of the Redis clock (zset).
    let leases: String
    /// `NAME:lease-items`: our leases, token -> the item it holds (hash).
    let leaseItems: String
    /// `NAME:attempts`: SHA-224 hex of an item -> failed or abandoned attempts (hash).
    let attempts: String
    /// `NAME:retried`: item bytes -> attempts so far, for the items that failed or were
    /// recovered and are pending, scheduled or taken again (not dead): the take reads an
    /// item's attempts from it without hashing the item (hash).
    let retried: String
    /// `NAME:checkpoints`: item bytes -> the checkpoint of a copy released, failed or recovered
    /// with one, waiting for that copy's redelivery: the next take of an equal item gets it and
    /// removes it (hash).
    let checkpoints: String
    /// `NAME:lease-checkpoints`: token -> the latest checkpoint of the copy that lease holds
    /// (handed at the take or saved with a renewal; one copy's, never another's) (hash).
    let leaseCheckpoints: String
    /// `NAME:errors`: SHA-224 hex -> the last error (hash).
    let errors: String
    /// `NAME:results`: the completion records of items whose handler returned a result, oldest
    /// first (stream; fields item, result, attempt, worker).
    let results: String
    /// `NAME:results:dropped`: how many records the results bound dropped (string, a counter).
    let resultsDropped: String
    /// `NAME:completed`: items completed so far (string).
    let completed: String
    /// `NAME:retry`: failed items waiting for their retry time, and items pushed with a
    /// delay waiting for theirs (zset).
    let retry: String
    /// `NAME:retry:seq`: the counter behind retry members (string).
    let retrySeq: String
    /// `NAME:unique`: the 28-byte SHA-224 of each item pushed with a uniqueness window ->
    /// when its window ends, ms of the Redis clock (zset, with a TTL: the longest window).
    let unique: String
    /// `NAME:dead`: dead letters, raw bytes (list).
    let dead: String
    /// `NAME:dead-previews`: one bounded record per dead letter, `<size>:<SHA-224 hex or
    /// empty>:<first 240 bytes>`, aligned with the tail of `NAME:dead` (its last record is the
    /// last dead letter's; letters of an older version, at the head, have none), so that the
    /// dashboard shows dead letters without reading their bytes (list).
    let deadPreviews: String
    /// `NAME:recovery`: whose turn the recovery pass is, with a TTL of one interval (string).
    let recoveryTurn: String
    /// `NAME:orphans`: SHA-224 hex -> ms an item was first seen in processing with no lease
    /// at all (hash; items of crashed tutorial workers, waiting out the grace).
    let orphans: String
    /// `NAME:holds`: producers still filling the queue, hold name -> the hold's expiry in ms of
    /// the Redis clock (zset). The queue is open while any member's expiry is ahead.
    let holds: String
    /// `NAME:open`: the single open mark of earlier versions (string, TTL), still honored as one
    /// more hold; while holds live it mirrors them for older workers (value = the `holds` key's
    /// name, TTL = the last hold's expiry).
    let open: String
    /// `NAME:drained`: set by the first worker that found the queue drained and exited 0;
    /// value = its session (string).
    let drained: String
    /// `NAME:on-drained`: the `work --on-drained` hook of the last drain (hash: `drain`, the
    /// `NAME:drained` value it ran for; `state`, started, done, failed or stopped; `session`, the worker
    /// that runs it; `started_ms`, `finished_ms` (Redis clock); `exit_status`).
    let onDrained: String
    /// `NAME:workers`: live workers' heartbeat records, session -> the record's expiry in ms
    /// of the Redis clock (zset).
    let workers: String
    /// `NAME:worker-info`: session -> the worker's heartbeat record, a JSON object (hash).
    let workerInfo: String
    /// `NAME:exchanges`: worker session (`<session>:`) -> `<call id>|<outcomes>`, the outcomes of
    /// the settlements of that session's last exchange call, so that a call retried after its
    /// reply was lost answers them again instead of reporting them lost (hash; the field is
    /// removed when the worker exits cleanly or its heartbeat record expires).
    let exchanges: String
    /// `NAME:control`: the operator's marks (hash: `paused` = 1, `cancelled` = the ms of the
    /// Redis clock of the cancel); the take reads them and hands out nothing while either is set.
    let control: String
    /// `NAME:cancelled`: the items `workqueue cancel` moved aside (pending, then scheduled
    /// retries), raw bytes, oldest first (list); `workqueue cancelled restore` moves them back.
    let cancelled: String
    /// `NAME:rate`: the fleet-wide rate limit's theoretical arrival time, µs of the Redis clock
    /// (string, expires once it is in the past; written only with `--rate-limit`).
    let rate: String
    /// `NAME:push-traces`: SHA-224 hex of an item -> the encoded trace carrier of the push that
    /// added it (hash; written only by pushes made with tracing on, expires 7 days after the
    /// last one; docs/tracing.md).
    let pushTraces: String
    /// `NAME:leased_by_session:`: the prefix of `rediswq.py`'s lease keys (read, never written).
    let tutorialLeasePrefix: String

    /// The queue's name, `NAME`.
    let name: String

    init(_ name: String) {
        self.name = name
        func key(_ key: QueueKey) -> String { name + key.row.suffix }
        pending = key(.pending)
        processing = key(.processing)
        leases = key(.leases)
        leaseItems = key(.leaseItems)
        attempts = key(.attempts)
        errors = key(.errors)
        retried = key(.retried)
        checkpoints = key(.checkpoints)
        leaseCheckpoints = key(.leaseCheckpoints)
        results = key(.results)
        resultsDropped = key(.resultsDropped)
        completed = key(.completed)
        retry = key(.retry)
        retrySeq = key(.retrySeq)
        unique = key(.unique)
        dead = key(.dead)
        deadPreviews = key(.deadPreviews)
        recoveryTurn = key(.recoveryTurn)
        orphans = key(.orphans)
        holds = key(.holds)
        open = key(.open)
        drained = key(.drained)
        onDrained = key(.onDrained)
        workers = key(.workers)
        workerInfo = key(.workerInfo)
        exchanges = key(.exchanges)
        control = key(.control)
        cancelled = key(.cancelled)
        rate = key(.rate)
        pushTraces = key(.pushTraces)
        tutorialLeasePrefix = key(.tutorialLease)
    }

    /// The name of a key of the table (for ``QueueKey/tutorialLease``, its prefix).
    subscript(_ key: QueueKey) -> String {
        switch key {
        case .pending: pending
        case .processing: processing
        case .leases: leases
        case .leaseItems: leaseItems
        case .tutorialLease: tutorialLeasePrefix
        case .dead: dead
        case .deadPreviews: deadPreviews
        case .attempts: attempts
        case .retried: retried
        case .checkpoints: checkpoints
        case .leaseCheckpoints: leaseCheckpoints
        case .errors: errors
        case .retry: retry
        case .retrySeq: retrySeq
        case .unique: unique
        case .results: results
        case .resultsDropped: resultsDropped
        case .completed: completed
        case .recoveryTurn: recoveryTurn
        case .orphans: orphans
        case .holds: holds
        case .open: open
        case .drained: drained
        case .onDrained: onDrained
        case .exchanges: exchanges
        case .control: control
        case .cancelled: cancelled
        case .rate: rate
        case .workers: workers
        case .workerInfo: workerInfo
        case .pushTraces: pushTraces
        }
    }

    /// The KEYS of a call of `script`, in its order (``RedisScript/keys``); `item` gives the
    /// key of a per-item key (``QueueKey/isPerItem``) for the item the call handles.
    func of(_ script: RedisScript, item: [UInt8] = []) -> [String] {
        script.keys.map { $0.isPerItem ? tutorialLease(item) : self[$0] }
    }

    /// The `rediswq.py` lease key of an item.
    func tutorialLease(_ item: [UInt8]) -> String { tutorialLeasePrefix + SHA224.hex(item) }

    /// Every key of ours with the type it must hold (from ``QueueKey``).
    var typed: [(key: String, type: String)] {
        QueueKey.fixed.map { (self[$0], $0.row.type.rawValue) }
    }
}

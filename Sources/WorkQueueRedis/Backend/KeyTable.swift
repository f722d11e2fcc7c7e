/// Every key of a queue `NAME`, in one ordered table: the one place the key layout is written.
///
/// From it come ``RedisKeys`` (the key names), each script's KEYS array and the Lua prelude of
/// named locals the script body reads (``RedisScript``: a script lists the keys it uses by
/// name, in its order), the key-type check (``RedisKeys/typed``, and the reads a script makes
/// before it writes, ``RedisScript/typeChecks``), the cluster's slot check, and the key table
/// of docs/redis.md (`KeyTableTests` fails when the two disagree).
enum QueueKey: Int, CaseIterable, Sendable {
    case pending, processing, leases, leaseItems, tutorialLease, dead, deadPreviews, attempts, retried, checkpoints
    case leaseCheckpoints, errors, retry, retrySeq, unique, results, resultsDropped, completed, recoveryTurn, orphans, holds
    case open, drained, onDrained, exchanges, control, cancelled, rate, workers, workerInfo
    case pushTraces

    /// The Redis type a key must hold.
    enum KeyType: String, Sendable {
        case list, hash, zset, stream, string

        /// As docs/redis.md names it.
        var documented: String { self == .zset ? "sorted set" : rawValue }

        /// A read that fails with `WRONGTYPE` when the key holds another type (and answers
        /// without touching any element).
        var check: String {
            switch self {
            case .list: "LLEN"
            case .hash: "HLEN"
            case .zset: "ZCARD"
            case .stream: "XLEN"
            case .string: "STRLEN"
            }
        }
    }

    /// One row of the table.
    struct Row: Sendable {
        /// What follows the queue's name (`""` for `NAME` itself).
        let suffix: String
        let type: KeyType
        /// The key may carry a TTL.
        let expires: Bool
        /// The Lua local a script body reads the key by.
        let lua: String
        /// What it holds (docs/redis.md says it at length).
        let meaning: String
    }

    // swiftlint:disable line_length
    var row: Row {
        switch self {
        case .pending: Row(suffix: "", type: .list, expires: false, lua: "pending", meaning: "pending items, raw bytes (the tutorial's list)")
        case .processing: Row(suffix: ":processing", type: .list, expires: false, lua: "processing", meaning: "items rediswq.py workers took and have not settled, raw bytes (the tutorial's list; our leases put none there)")
        case .leases: Row(suffix: ":leases", type: .zset, expires: false, lua: "leases", meaning: "lease token -> deadline, ms of the Redis clock")
        case .leaseItems: Row(suffix: ":lease-items", type: .hash, expires: false, lua: "lease_items", meaning: "lease token -> the item it holds")
        case .tutorialLease: Row(suffix: ":leased_by_session:", type: .string, expires: true, lua: "tutorial_lease", meaning: "rediswq.py's lease of one item (suffix: its SHA-224 hex); read, never written")
        case .dead: Row(suffix: ":dead", type: .list, expires: false, lua: "dead", meaning: "dead letters, raw bytes, oldest first")
        case .deadPreviews: Row(suffix: ":dead-previews", type: .list, expires: false, lua: "dead_previews", meaning: "one bounded preview record per dead letter, aligned with the tail of dead")
        case .attempts: Row(suffix: ":attempts", type: .hash, expires: false, lua: "attempts", meaning: "SHA-224 hex -> failed or abandoned attempts")
        case .retried: Row(suffix: ":retried", type: .hash, expires: false, lua: "retried", meaning: "item -> attempts so far, for items failed or recovered and not dead")
        case .checkpoints: Row(suffix: ":checkpoints", type: .hash, expires: false, lua: "checkpoints", meaning: "item -> the checkpoint waiting for that copy's redelivery")
        case .leaseCheckpoints: Row(suffix: ":lease-checkpoints", type: .hash, expires: false, lua: "lease_checkpoints", meaning: "lease token -> the latest checkpoint of that copy")
        case .errors: Row(suffix: ":errors", type: .hash, expires: false, lua: "errors", meaning: "SHA-224 hex -> the last error")
        case .retry: Row(suffix: ":retry", type: .zset, expires: false, lua: "retry", meaning: "scheduled items (retries, delayed pushes) `<16 hex digits>:<item>` -> due ms")
        case .retrySeq: Row(suffix: ":retry:seq", type: .string, expires: false, lua: "retry_seq", meaning: "the counter behind retry members")
        case .unique: Row(suffix: ":unique", type: .zset, expires: true, lua: "unique", meaning: "SHA-224 of items pushed with --unique -> when their window ends, ms")
        case .results: Row(suffix: ":results", type: .stream, expires: false, lua: "results", meaning: "completion records (item, result, attempt, worker)")
        case .resultsDropped: Row(suffix: ":results:dropped", type: .string, expires: false, lua: "results_dropped", meaning: "records the results bound dropped")
        case .completed: Row(suffix: ":completed", type: .string, expires: false, lua: "completed", meaning: "items completed so far")
        case .recoveryTurn: Row(suffix: ":recovery", type: .string, expires: true, lua: "recovery_turn", meaning: "whose turn the recovery pass is")
        case .orphans: Row(suffix: ":orphans", type: .hash, expires: false, lua: "orphans", meaning: "SHA-224 hex -> ms an item was first seen in processing without a lease")
        case .holds: Row(suffix: ":holds", type: .zset, expires: false, lua: "holds", meaning: "producers' holds -> expiry ms")
        case .open: Row(suffix: ":open", type: .string, expires: true, lua: "open", meaning: "the open mark of earlier versions, one more hold")
        case .drained: Row(suffix: ":drained", type: .string, expires: false, lua: "drained", meaning: "the session that found the queue drained")
        case .onDrained: Row(suffix: ":on-drained", type: .hash, expires: false, lua: "on_drained", meaning: "the --on-drained hook of the last drain")
        case .exchanges: Row(suffix: ":exchanges", type: .hash, expires: false, lua: "exchanges", meaning: "`<session>:` -> `<call id>|<outcomes>` of its last exchange")
        case .control: Row(suffix: ":control", type: .hash, expires: false, lua: "control", meaning: "operator marks: paused, cancelled")
        case .cancelled: Row(suffix: ":cancelled", type: .list, expires: false, lua: "cancelled", meaning: "items cancel moved aside, raw bytes")
        case .rate: Row(suffix: ":rate", type: .string, expires: true, lua: "rate", meaning: "the rate limit's theoretical arrival time, µs")
        case .workers: Row(suffix: ":workers", type: .zset, expires: false, lua: "workers", meaning: "live workers: session -> record expiry ms")
        case .workerInfo: Row(suffix: ":worker-info", type: .hash, expires: false, lua: "worker_info", meaning: "session -> heartbeat record (JSON)")
        case .pushTraces: Row(suffix: ":push-traces", type: .hash, expires: true, lua: "push_traces", meaning: "SHA-224 hex -> trace context of the push that added the item (tracing on only)")
        }
    }
    // swiftlint:enable line_length

    /// A key named per item rather than one per queue (its suffix is a prefix): a script is
    /// given the key of the item it handles.
    var isPerItem: Bool { self == .tutorialLease }

    /// The keys of one name per queue, each with one type: the key-type check's list.
    static var fixed: [QueueKey] { allCases.filter { !$0.isPerItem } }
}

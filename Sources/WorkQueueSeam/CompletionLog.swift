/// One completion of an item whose handler returned a result: what `workqueue results` exports.
///
/// A record is kept per delivery, in the order the completions happened: equal items completed
/// twice are two records. Items whose handler returned nil get none.
public struct CompletionRecord: Sendable, Hashable {
    /// The record's place in its queue's log, `<ms>-<n>` (a Redis stream ID): records of one
    /// queue sort by it (``CompletionRecord/Position``), and the number before the dash is
    /// when the completion was recorded (ms since the epoch, Redis clock).
    public var id: String
    /// The item, as pushed.
    public var item: WorkItem
    /// What the handler returned (at most 4 KiB: a longer one is stored cut).
    public var result: String
    /// The delivery's attempt number (1 for the first).
    public var attempt: Int
    /// The session of the worker that completed it.
    public var worker: String

    /// A record as a backend read it.
    public init(id: String, item: WorkItem, result: String, attempt: Int, worker: String) {
        self.id = id
        self.item = item
        self.result = result
        self.attempt = attempt
        self.worker = worker
    }

    /// When the completion was recorded, in ms since the epoch (the part of ``id`` before the
    /// dash); 0 when the id has no time.
    public var milliseconds: Int {
        var value = 0
        for byte in id.utf8 {
            if byte == UInt8(ascii: "/") { value = 0; continue }
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { break }
            value = value &* 10 &+ Int(byte &- UInt8(ascii: "0"))
        }
        return value
    }

    /// ``id`` parsed, for ordering; nil for an id that is not `<ms>-<n>`.
    public var position: Position? { Position(id) }

    /// A record ID as its numbers: ordered as the log orders them (a `ShardedBackend`'s
    /// records, `<shard>/<ms>-<n>`, by time, then sequence, then shard).
    public struct Position: Sendable, Hashable, Comparable {
        /// The time part (ms).
        public var milliseconds: Int
        /// The sequence within that millisecond.
        public var sequence: Int
        /// The shard of a `ShardedBackend`'s record; 0 for an ID without one.
        public var shard: Int

        /// The position `<ms>-<n>` of shard `shard`.
        public init(milliseconds: Int, sequence: Int, shard: Int = 0) {
            self.milliseconds = milliseconds
            self.sequence = sequence
            self.shard = shard
        }

        /// Parses `<ms>-<n>` or `<shard>/<ms>-<n>`; nil for anything else.
        public init?(_ id: String) {
            var rest = Substring(id)
            var shard = 0
            if let slash = rest.firstIndex(of: "/") {
                guard let value = Int(rest[..<slash]), value >= 0 else { return nil }
                shard = value
                rest = rest[rest.index(after: slash)...]
            }
            let parts = rest.split(separator: "-", omittingEmptySubsequences: false)
            guard parts.count == 2, let ms = Int(parts[0]), let seq = Int(parts[1]), ms >= 0, seq >= 0 else {
                return nil
            }
            self.init(milliseconds: ms, sequence: seq, shard: shard)
        }

        /// `<ms>-<n>`, without the shard.
        public var streamID: String { "\(milliseconds)-\(sequence)" }

        /// True when `lhs` comes first in the log.
        public static func < (lhs: Position, rhs: Position) -> Bool {
            (lhs.milliseconds, lhs.sequence, lhs.shard) < (rhs.milliseconds, rhs.sequence, rhs.shard)
        }
    }
}

/// The completion records a backend keeps (`NAME:results` in Redis), oldest first, until they
/// are read and deleted or a bound drops the oldest.
public protocol CompletionLog: Sendable {
    /// At most `limit` records (1 to 1000) that come after the record `after` (nil: from the
    /// oldest), oldest first. An empty array when there are none (yet).
    func completions(after: String?, limit: Int) async throws -> [CompletionRecord]

    /// Deletes the records with these IDs (ones already gone are skipped). Returns how many
    /// were deleted.
    @discardableResult
    func deleteCompletions(_ ids: [String]) async throws -> Int

    /// The records kept now, and how many the bound dropped (the oldest, so that the most
    /// recent are kept) since the queue began.
    func completionCounts() async throws -> (kept: Int, dropped: Int)
}

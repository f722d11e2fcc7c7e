import NIOCore
import WorkQueueSeam

/// Reads a queue's completion records (`NAME:results`; with shards, every shard's) oldest
/// first, a page at a time, in bounded memory: what `workqueue results` exports.
///
/// With shards the shards' records are merged by ID (the Redis clock's milliseconds, then the
/// sequence): each shard's own order is kept exactly, and records of different shards come in
/// the order they were recorded as far as their IDs tell. Get one from
/// ``QueueProducer/completionReader()``; call ``next(limit:)`` until it returns an empty page
/// (nothing more for now: records completed later are read by later calls).
public struct CompletionReader: Sendable {
    /// One record and the shard it is in (0 without shards).
    public struct Entry: Sendable, Hashable {
        /// The shard whose `NAME:results` holds it.
        public var shard: Int
        /// The record.
        public var record: CompletionRecord

        /// `record`, read from shard `shard`.
        public init(shard: Int, record: CompletionRecord) {
            self.shard = shard
            self.record = record
        }
    }

    /// The records read per shard and command are chosen to be about this many bytes (at least
    /// one record, at most 1000): 1 MiB over all shards.
    public static let pageBytes = 1 << 20

    private let queues: [RedisQueue]
    /// Per shard: the records read and not yet returned (of one reply), the ID of the last one
    /// read.
    private var buffers: [CompletionPage]
    /// Per shard, with more than one: the positions of its buffered records (for the merge).
    private var positions: [[CompletionRecord.Position?]]
    private var after: [String?]
    /// Per shard: whether its last read returned a full page (more may follow at once).
    private var full: [Bool]
    /// Records per read, adapted to the records' size.
    private var count = 16

    /// A reader of `queues` (a queue, or its shards in order), from their oldest records.
    init(queues: [RedisQueue]) {
        self.queues = queues
        buffers = Array(repeating: CompletionPage(), count: queues.count)
        positions = Array(repeating: [], count: queues.count)
        after = Array(repeating: nil, count: queues.count)
        full = Array(repeating: false, count: queues.count)
    }

    /// The next at most `limit` records, oldest first; an empty array when every shard has
    /// nothing more now.
    public mutating func next(limit: Int = 1000) async throws -> [Entry] {
        try await nextPage(limit: limit).records
    }

    /// ``next(limit:)`` as the replies' bytes, nothing copied out of them: what `workqueue
    /// results` writes from.
    package mutating func nextPage(limit: Int = 1000) async throws -> CompletionPage {
        // Refill every shard whose buffer ran empty, at the same time.
        let empty = buffers.indices.filter { buffers[$0].isEmpty }
        if !empty.isEmpty {
            let count = self.count
            let after = self.after
            let queues = self.queues
            let pages = try await withThrowingTaskGroup(of: (Int, ByteBuffer, [XRANGEDecoder.RecordFields]).self) { group in
                for shard in empty {
                    group.addTask {
                        let (reply, fields) = try await queues[shard].completionFields(after: after[shard], limit: count)
                        return (shard, reply, fields)
                    }
                }
                var pages: [(Int, ByteBuffer, [XRANGEDecoder.RecordFields])] = []
                for try await page in group { pages.append(page) }
                return pages
            }
            var bytes = 0
            var records = 0
            for (shard, reply, fields) in pages {
                let page = CompletionPage(reply: reply, fields: fields, shard: shard, shards: queues.count)
                buffers[shard] = page
                full[shard] = page.count == count
                if !page.isEmpty { self.after[shard] = page.id(at: page.count - 1) }
                if queues.count > 1 { positions[shard] = page.entries.indices.map { CompletionRecord.Position(page.id(at: $0)) } }
                for entry in fields {
                    bytes += entry.item.count + entry.result.count + entry.worker.count + 32
                }
                records += page.count
            }
            if records > 0 {
                let average = Swift.max(1, bytes / records)
                self.count = Swift.min(1000, Swift.max(1, Self.pageBytes / queues.count / average))
            }
        }
        let limit = Swift.max(1, limit)
        if queues.count == 1 {
            if buffers[0].count <= limit {
                // The whole buffer: handed over, not copied.
                var out = CompletionPage()
                swap(&out, &buffers[0])
                return out
            }
            let out = buffers[0].prefix(limit)
            buffers[0].removeFirst(limit)
            return out
        }
        var out: [CompletionPage.Entry] = []
        var heads = Array(repeating: 0, count: queues.count)
        while out.count < limit {
            // The oldest head; stop when a shard that may have more at once ran empty (its
            // next record may be older than the others' heads).
            var best: Int?
            for shard in queues.indices {
                if heads[shard] == buffers[shard].count {
                    if full[shard] { best = nil; break }
                    continue
                }
                guard let candidate = best else { best = shard; continue }
                let a = positions[shard][heads[shard]]
                let b = positions[candidate][heads[candidate]]
                if let a, let b, a < b { best = shard }
            }
            guard let shard = best else { break }
            out.append(buffers[shard].entries[heads[shard]])
            heads[shard] += 1
        }
        let replies = queues.indices.map { buffers[$0].replies.indices.contains($0) ? buffers[$0].replies[$0] : ByteBuffer() }
        for shard in queues.indices where heads[shard] > 0 {
            buffers[shard].removeFirst(heads[shard])
            positions[shard].removeFirst(heads[shard])
        }
        return CompletionPage(replies: replies, entries: out)
    }

    /// Deletes these records from their shards (after they were written out: `results
    /// --consume`). Returns how many were deleted.
    @discardableResult
    public func delete(_ entries: [Entry]) async throws -> Int {
        try await delete(ids: entries.map { ($0.shard, $0.record.id) })
    }

    /// Deletes the records of `page` from their shards (``delete(_:)-([Entry])``).
    @discardableResult
    package func delete(_ page: CompletionPage) async throws -> Int {
        try await delete(ids: page.entries.indices.map { (page.entries[$0].shard, page.id(at: $0)) })
    }

    /// Deletes records given as their shard and ID.
    private func delete(ids entries: [(shard: Int, id: String)]) async throws -> Int {
        var deleted = 0
        for shard in queues.indices {
            let ids = entries.filter { $0.shard == shard }.map(\.id)
            if !ids.isEmpty { deleted += try await queues[shard].deleteCompletions(ids) }
        }
        return deleted
    }
}

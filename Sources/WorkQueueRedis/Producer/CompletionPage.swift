import NIOCore
import WorkQueueSeam

/// A page of completion records as `XRANGE` replied them: the replies' wire bytes and where
/// each record's fields are in them (``XRANGEDecoder/RecordFields``). Nothing is copied out of
/// the replies: `workqueue results` writes each record straight from these bytes
/// (``withRecords(_:)``), and a ``CompletionReader/Entry`` is built only when asked for.
package struct CompletionPage: Sendable {
    /// One record: the shard (and reply) it was read from, and where its fields are.
    package struct Entry: Sendable {
        /// The shard, and the index of its reply in ``replies``.
        package var shard: Int
        package var fields: XRANGEDecoder.RecordFields
    }

    /// One record's fields as bytes of its reply: valid only inside the closure they are
    /// handed to (``withRecords(_:)``).
    package struct RawRecord {
        /// The ID, text (as read: not checked for UTF-8, see ``XRANGEDecoder/RecordFields``).
        package var id: UnsafeRawBufferPointer
        /// The item's raw bytes (text when ``itemIsText``).
        package var item: UnsafeRawBufferPointer
        package var itemIsText: Bool
        /// The result, text (as read).
        package var result: UnsafeRawBufferPointer
        package var attempt: Int
        /// The worker, text (as read).
        package var worker: UnsafeRawBufferPointer
        package var shard: Int

        package init(id: UnsafeRawBufferPointer, item: UnsafeRawBufferPointer, itemIsText: Bool, result: UnsafeRawBufferPointer,
                     attempt: Int, worker: UnsafeRawBufferPointer, shard: Int) {
            self.id = id
            self.item = item
            self.itemIsText = itemIsText
            self.result = result
            self.attempt = attempt
            self.worker = worker
            self.shard = shard
        }
    }

    /// Per shard, the reply its entries are in (an empty buffer for a shard with none).
    package private(set) var replies: [ByteBuffer]
    /// The records, in order.
    package private(set) var entries: [Entry]

    /// The records of `fields`, read from shard `shard` of `shards` in `reply`.
    package init(reply: ByteBuffer, fields: [XRANGEDecoder.RecordFields], shard: Int = 0, shards: Int = 1) {
        replies = Array(repeating: ByteBuffer(), count: Swift.max(shards, shard + 1))
        replies[shard] = reply
        entries = fields.map { Entry(shard: shard, fields: $0) }
    }

    /// `entries` of the replies `replies` (a shard's index in it is its number).
    package init(replies: [ByteBuffer], entries: [Entry]) {
        self.replies = replies
        self.entries = entries
    }

    /// The records of an `XRANGE` reply given as its wire bytes (one complete RESP value).
    package init(xrangeReply wire: [UInt8]) throws(XRANGEDecoder.Malformed) {
        let reply = ByteBuffer(bytes: wire)
        self.init(reply: reply, fields: try XRANGEDecoder.recordFields(reply))
    }

    /// An empty page.
    package init() {
        replies = []
        entries = []
    }

    package var count: Int { entries.count }
    package var isEmpty: Bool { entries.isEmpty }

    /// The first `count` records (the replies shared, not copied).
    package func prefix(_ count: Int) -> CompletionPage {
        CompletionPage(replies: replies, entries: Array(entries.prefix(count)))
    }

    /// Drops the first `count` records.
    package mutating func removeFirst(_ count: Int) {
        entries.removeFirst(Swift.min(count, entries.count))
        if entries.isEmpty { replies = [] }
    }

    /// The record at `index`, its fields copied out.
    package func entry(at index: Int) -> CompletionReader.Entry {
        let entry = entries[index]
        let record = replies[entry.shard].withUnsafeReadableBytes { XRANGEDecoder.record(entry.fields, in: $0) }
        return CompletionReader.Entry(shard: entry.shard, record: record)
    }

    /// Every record, its fields copied out.
    package var records: [CompletionReader.Entry] { entries.indices.map(entry(at:)) }

    /// The ID of the record at `index` (as ``CompletionRecord/id`` reads it).
    package func id(at index: Int) -> String {
        let entry = entries[index]
        return replies[entry.shard].withUnsafeReadableBytes {
            String(decoding: UnsafeRawBufferPointer(rebasing: $0[entry.fields.id]), as: UTF8.self)
        }
    }

    /// Hands each record, in order, to `body` as bytes of its reply.
    package func withRecords(_ body: (RawRecord) throws -> Void) rethrows {
        guard !entries.isEmpty else { return }
        try withReplyBytes(from: 0, []) { bytes in
            for entry in entries {
                let reply = bytes[entry.shard]
                let fields = entry.fields
                try body(RawRecord(
                    id: UnsafeRawBufferPointer(rebasing: reply[fields.id]),
                    item: UnsafeRawBufferPointer(rebasing: reply[fields.item]), itemIsText: fields.itemIsText,
                    result: UnsafeRawBufferPointer(rebasing: reply[fields.result]), attempt: fields.attempt,
                    worker: UnsafeRawBufferPointer(rebasing: reply[fields.worker]), shard: entry.shard))
            }
        }
    }

    /// `body` given the bytes of every reply from `index` on, after `found`.
    private func withReplyBytes(from index: Int, _ found: [UnsafeRawBufferPointer],
                                _ body: ([UnsafeRawBufferPointer]) throws -> Void) rethrows {
        guard index < replies.count else { return try body(found) }
        try replies[index].withUnsafeReadableBytes { try withReplyBytes(from: index + 1, found + [$0], body) }
    }
}

import WorkQueueSeam

/// One page of a queue's dead letters (``QueueProducer/deadLetters(after:limit:)``), and where
/// the next one starts.
public struct DeadLetterPage: Sendable, Hashable {
    /// Where a page starts: a shard and a position in its `NAME:dead`. Pass ``next`` back as it
    /// is. Positions move when dead letters are retried or purged meanwhile, so a page read
    /// then may skip or repeat some.
    public struct Cursor: Sendable, Hashable {
        package var shard: Int
        package var index: Int

        package init(shard: Int, index: Int) {
            self.shard = shard
            self.index = index
        }
    }

    /// The dead letters of this page, oldest first (with shards: shard by shard).
    public var letters: [DeadLetter]
    /// The cursor of the next page; nil after the last one.
    public var next: Cursor?

    /// A page of `letters`, and where the next one starts.
    public init(letters: [DeadLetter], next: Cursor?) {
        self.letters = letters
        self.next = next
    }
}

/// How many items the worker should hold (running plus buffered), from what it has measured.
///
/// A fixed ``WorkerOptions/prefetch`` holds `concurrency × prefetch`. Otherwise the worker
/// starts with one item per slot and, once handlers have returned, holds enough extra items to
/// keep every slot busy for two round trips to the queue, bounded by what the slots can start
/// within a third of the lease (so a waiting item never waits long), by
/// ``WorkerOptions/maxBuffered`` items and ``WorkerOptions/maxBufferedBytes`` of items (at the
/// average size of those leased so far), and by half of what is pending (so that at the end
/// of a job the remaining items spread over the workers instead of queueing behind one).
struct BatchSizer: Sendable {
    let concurrency: Int
    let prefetch: Int?
    let maxBuffered: Int
    let maxBufferedBytes: Int
    let leaseSeconds: Double
    /// Seconds one call to the queue takes, averaged.
    private(set) var exchangeSeconds = 0.001
    /// Bytes of an item leased, averaged (nil before any).
    private(set) var itemBytes: Double?

    init(options: WorkerOptions) {
        concurrency = options.concurrency
        prefetch = options.prefetch
        maxBuffered = options.maxBuffered
        maxBufferedBytes = options.maxBufferedBytes
        leaseSeconds = options.leaseDuration.seconds
    }

    mutating func recordExchange(seconds: Double) {
        exchangeSeconds = exchangeSeconds * 0.8 + max(0, seconds) * 0.2
    }

    /// `count` items of `bytes` in all were leased.
    mutating func recordLeased(count: Int, bytes: Int) {
        guard count > 0 else { return }
        let average = Double(bytes) / Double(count)
        // Weighted by the batch, so one large batch moves the average as its items would.
        let weight = min(1, Double(count) / 64)
        itemBytes = itemBytes.map { $0 + (average - $0) * weight } ?? average
    }

    /// The number of items to hold; `handlerSeconds` is the average handler time (nil before
    /// any returned), `pending` the queue's pending count when last seen.
    func capacity(handlerSeconds: Double?, pending: Int?) -> Int {
        if let prefetch { return concurrency * prefetch }
        guard let handlerSeconds else { return concurrency }
        let perItem = max(handlerSeconds, 1e-7) / Double(concurrency)
        var extra = (2 * exchangeSeconds / perItem).rounded(.up)
        extra = min(extra, (leaseSeconds / 3 / perItem).rounded(.down))
        extra = min(extra, Double(maxBuffered))
        if let itemBytes { extra = min(extra, (Double(maxBufferedBytes) / max(itemBytes, 1)).rounded(.down)) }
        if let pending { extra = min(extra, Double(pending / 2)) }
        return concurrency + Int(max(0, extra))
    }
}

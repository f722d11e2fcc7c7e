import WorkQueueSeam

extension RedisQueue {
    /// How a queue behaves once connected: handed to `connect` and fixed for the queue's life
    /// (a queue's ``RedisQueue/options`` never change; connect again for other ones).
    public struct Options: Sendable, Equatable {
        /// Items longer than this are never handed to a worker: the take moves them to
        /// `NAME:dead` (and the worker logs why). Default ``RedisQueue/defaultMaxItemBytes``;
        /// taken as 0 ... ``RedisQueue/maxItemBytesLimit``.
        public var maxItemBytes: Int

        /// At most this many completion records are kept in `NAME:results`: each completion that
        /// records a result trims the stream exactly to it, dropping the oldest, and counts what
        /// it dropped in `NAME:results:dropped`; nil keeps them all. Default nil;
        /// `workqueue work` passes ``RedisQueue/defaultResultsMax`` unless told otherwise.
        public var resultsMax: Int?

        /// How long an item must have been seen in processing with no lease at all before
        /// recovery takes it back (a `rediswq.py` worker sets its lease a moment after taking).
        /// Default 2 s.
        public var recoveryGrace: Duration

        /// What one script call may move of item bytes (see ``RedisQueue/replyByteBudget``);
        /// at least 1. Default ``RedisQueue/defaultReplyByteBudget``; tests lower it.
        package var replyByteBudget: Int = RedisQueue.defaultReplyByteBudget

        /// The fleet-wide limit on items started (`--rate-limit`), enforced by every take on
        /// `NAME:rate`; nil (the default) sets none. Workers that pass different limits share
        /// one state, each take applying its own caller's limit.
        public var rateLimit: RateLimit?

        /// Options with the command's defaults; out-of-range values are brought into range.
        public init(maxItemBytes: Int = RedisQueue.defaultMaxItemBytes, resultsMax: Int? = nil,
                    recoveryGrace: Duration = .seconds(2), rateLimit: RateLimit? = nil) {
            self.maxItemBytes = maxItemBytes
            self.resultsMax = resultsMax
            self.recoveryGrace = recoveryGrace
            self.rateLimit = rateLimit
        }

        /// These options with every value in its range.
        var normalized: Options {
            var options = self
            options.maxItemBytes = Swift.min(Swift.max(0, maxItemBytes), RedisQueue.maxItemBytesLimit)
            options.resultsMax = resultsMax.map { Swift.max(0, $0) }
            options.recoveryGrace = Swift.max(.zero, recoveryGrace)
            options.replyByteBudget = Swift.max(1, replyByteBudget)
            return options
        }
    }
}

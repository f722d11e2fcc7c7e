/// A worker whose heartbeat record is alive, as ``WorkerRecords/liveWorkers()`` lists it.
public struct LiveWorker: Sendable, Hashable {
    /// Its last heartbeat.
    public var heartbeat: WorkerHeartbeat
    /// How long ago that heartbeat was recorded (on the backend's clock).
    public var lastSeen: Duration
    /// How long until the record expires unless the worker renews it.
    public var expiresIn: Duration

    /// A live worker's record, as a backend read it.
    public init(heartbeat: WorkerHeartbeat, lastSeen: Duration, expiresIn: Duration) {
        self.heartbeat = heartbeat
        self.lastSeen = lastSeen
        self.expiresIn = expiresIn
    }
}

extension Duration {
    /// Seconds rounded to the millisecond, as the `workers --json` report and the dashboard
    /// show a worker's ages.
    package var roundedSeconds: Double {
        let (seconds, attoseconds) = components
        return ((Double(seconds) + Double(attoseconds) / 1e18) * 1000).rounded() / 1000
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What a running worker tells the queue about itself, refreshed every
/// `WorkerOptions.heartbeatInterval` (see ``WorkerRecords/heartbeat(_:ttl:)``), so that
/// operators can list the live workers (`workqueue workers`).
public struct WorkerHeartbeat: Sendable, Hashable {
    /// The worker's session id: the prefix of its leases' tokens.
    public var session: String
    /// Where it runs: the pod name (`HOSTNAME`), else the host name.
    public var host: String
    /// The handler it runs (a compiled-in handler's name, a plugin file, or the handler's type).
    public var handler: String
    /// When it started, in milliseconds since the Unix epoch (its own wall clock).
    public var startedAtMilliseconds: Int64
    /// Handlers running right now.
    public var inFlight: Int
    /// Leases it holds: running, waiting in its buffer, or finished and not yet settled.
    public var held: Int
    /// Items it completed so far.
    public var completed: Int
    /// Failed attempts it recorded so far (retried and dead-lettered).
    public var failed: Int
    /// The progress its handlers reported (`WorkContext.reportProgress(_:note:)`), one entry per
    /// held lease whose handler reported any, at most ``maxProgressEntries``.
    public var progress: [ItemProgress]

    /// The most progress entries a record carries.
    public static let maxProgressEntries = 100

    /// One lease's progress in a heartbeat record.
    public struct ItemProgress: Sendable, Hashable {
        /// The item, escaped (`WorkItem.escaped`) and cut to 80 characters.
        public var item: String
        /// How far the handler got, 0 to 1.
        public var fraction: Double
        /// The handler's note (at most 200 characters, one line).
        public var note: String

        /// One lease's progress.
        public init(item: String, fraction: Double, note: String) {
            self.item = item
            self.fraction = fraction
            self.note = note
        }

        /// The label of `item` in a progress entry: escaped, at most 80 characters.
        public static func label(_ item: WorkItem) -> String {
            let text = item.escaped
            return text.count > 80 ? String(text.prefix(79)) + "…" : text
        }
    }

    /// A record as the runner writes it or a backend reads it.
    public init(session: String, host: String, handler: String, startedAtMilliseconds: Int64,
                inFlight: Int = 0, held: Int = 0, completed: Int = 0, failed: Int = 0, progress: [ItemProgress] = []) {
        self.session = session
        self.host = host
        self.handler = handler
        self.startedAtMilliseconds = startedAtMilliseconds
        self.inFlight = inFlight
        self.held = held
        self.completed = completed
        self.failed = failed
        self.progress = progress
    }

    /// The pod's name: `HOSTNAME` when set (Kubernetes sets it to the pod name), else
    /// `gethostname`, else `unknown`.
    public static func defaultHost() -> String {
        if let value = hostnameVariable() { return value }
        var buffer = [CChar](repeating: 0, count: 256)
        let name = buffer.withUnsafeMutableBufferPointer { pointer -> String? in
            guard let base = pointer.baseAddress, gethostname(base, pointer.count - 1) == 0 else { return nil }
            return String(cString: base)
        }
        return name.flatMap { $0.isEmpty ? nil : $0 } ?? "unknown"
    }

    /// `HOSTNAME` (the pod's name in Kubernetes) when set and not empty: the one place it is read.
    package static func hostnameVariable() -> String? {
        guard let value = getenv("HOSTNAME"), value.pointee != 0 else { return nil }
        return String(cString: value)
    }

    /// Now on the wall clock, in milliseconds since the Unix epoch.
    package static func wallClockMilliseconds() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Int64(time.tv_sec) * 1000 + Int64(time.tv_nsec) / 1_000_000
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What a running worker tells the queue about itself, refreshed every
/// ``WorkerOptions/heartbeatInterval`` (see ``WorkQueueBackend/heartbeat(_:ttl:)``), so that
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

    /// A record as the runner writes it or a backend reads it.
    public init(session: String, host: String, handler: String, startedAtMilliseconds: Int64,
                inFlight: Int = 0, held: Int = 0, completed: Int = 0, failed: Int = 0) {
        self.session = session
        self.host = host
        self.handler = handler
        self.startedAtMilliseconds = startedAtMilliseconds
        self.inFlight = inFlight
        self.held = held
        self.completed = completed
        self.failed = failed
    }

    /// The pod's name: `HOSTNAME` when set (Kubernetes sets it to the pod name), else
    /// `gethostname`, else `unknown`.
    public static func defaultHost() -> String {
        if let value = getenv("HOSTNAME"), value.pointee != 0 { return String(cString: value) }
        var buffer = [CChar](repeating: 0, count: 256)
        let name = buffer.withUnsafeMutableBufferPointer { pointer -> String? in
            guard let base = pointer.baseAddress, gethostname(base, pointer.count - 1) == 0 else { return nil }
            return String(cString: base)
        }
        return name.flatMap { $0.isEmpty ? nil : $0 } ?? "unknown"
    }

    /// Now on the wall clock, in milliseconds since the Unix epoch.
    static func wallClockMilliseconds() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Int64(time.tv_sec) * 1000 + Int64(time.tv_nsec) / 1_000_000
    }
}

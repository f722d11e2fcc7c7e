import Synchronization
#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// SIGTERM and SIGINT as a flag, for a producer that must remove its open mark before it
/// exits (the default action would end it holding the mark until its TTL ran out).
enum TerminationSignal {
    private static let fired = Atomic<Bool>(false)

    /// Whether SIGTERM or SIGINT arrived since ``install()``.
    static var isFired: Bool { fired.load(ordering: .relaxed) }

    /// Catches SIGTERM and SIGINT from now on. A blocked `poll` returns EINTR.
    static func install() {
        _ = isFired  // initialize the flag before a handler can touch it
        for signalNumber in [SIGTERM, SIGINT] {
            _ = signal(signalNumber) { _ in TerminationSignal.fired.store(true, ordering: .relaxed) }
        }
    }
}

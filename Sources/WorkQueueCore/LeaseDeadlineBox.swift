import Synchronization

/// An item's lease deadline as the runner knows it: set when the item is leased, moved by
/// every renewal that extends the lease. Shared by the runner (which writes) and the
/// handler's ``WorkContext`` (which reads).
package final class LeaseDeadlineBox: Sendable {
    private let state: Mutex<WorkInstant>

    /// A deadline of `deadline`.
    package init(_ deadline: WorkInstant) { state = Mutex(deadline) }

    /// The current deadline.
    package var deadline: WorkInstant { state.withLock { $0 } }

    /// Moves the deadline to `deadline` if that is later (a late answer never moves it back).
    package func extend(to deadline: WorkInstant) {
        state.withLock { if deadline > $0 { $0 = deadline } }
    }
}

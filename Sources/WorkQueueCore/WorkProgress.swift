import Synchronization

/// What a handler reported about one item so far: its progress and its latest checkpoint.
///
/// The runner makes one per delivery and hands it to the handler inside ``WorkContext``; the
/// handler writes it through ``WorkContext/reportProgress(_:note:)`` and
/// ``WorkContext/saveCheckpoint(_:)``, and the runner reads it at its next lease renewal and
/// heartbeat. Every call is a few instructions behind one lock: no I/O, safe from any thread
/// (a dedicated handler thread, a plugin's C code).
package final class WorkProgress: Sendable {
    /// The most bytes one checkpoint may have: 64 KiB.
    package static let maxCheckpointBytes = 65_536
    /// The most characters a progress note keeps (longer notes are cut).
    package static let maxNoteCharacters = 200

    private struct State {
        var fraction: Double?
        var note = ""
        var checkpoint: [UInt8]?
        /// Bumped by every save; `sent` is the version the backend stored last.
        var version = 0
        var sent = 0
    }

    private let state = Mutex(State())
    private let forwardReport: (@Sendable (Double, String) -> Void)?
    private let forwardSave: (@Sendable ([UInt8]) -> Void)?

    /// Nothing reported yet.
    package init() {
        forwardReport = nil
        forwardSave = nil
    }

    /// One that also passes every report and every accepted save on, as it happens: a plugin
    /// built with `WorkQueuePluginKit` hands them to its host this way.
    package init(forwardingReports report: @escaping @Sendable (Double, String) -> Void,
                saves save: @escaping @Sendable ([UInt8]) -> Void) {
        forwardReport = report
        forwardSave = save
    }

    /// Records progress: `fraction` clamped to 0...1 (NaN counts as 0), `note` cut to
    /// ``maxNoteCharacters`` with line breaks and tabs made spaces.
    package func report(_ fraction: Double, note: String) {
        let clamped = fraction.isNaN ? 0 : min(1, max(0, fraction))
        var cleaned = String(note.prefix(Self.maxNoteCharacters))
        if cleaned.contains(where: { $0 == "\n" || $0 == "\r" || $0 == "\t" }) {
            cleaned = String(cleaned.map { $0 == "\n" || $0 == "\r" || $0 == "\t" ? " " : $0 })
        }
        state.withLock {
            $0.fraction = clamped
            $0.note = cleaned
        }
        forwardReport?(clamped, cleaned)
    }

    /// The last progress reported (nil before the first report).
    package var progress: (fraction: Double, note: String)? {
        state.withLock { state in state.fraction.map { ($0, state.note) } }
    }

    /// Keeps `bytes` as the item's latest checkpoint, replacing the one before.
    /// - Throws: ``CheckpointTooLarge`` when `bytes` has more than ``maxCheckpointBytes``
    ///   (the previous checkpoint stays).
    package func save(_ bytes: some Collection<UInt8>) throws {
        guard bytes.count <= Self.maxCheckpointBytes else {
            throw CheckpointTooLarge(size: bytes.count, limit: Self.maxCheckpointBytes)
        }
        let copy = Array(bytes)
        state.withLock {
            $0.checkpoint = copy
            $0.version += 1
        }
        forwardSave?(copy)
    }

    /// The latest checkpoint saved in this delivery (nil when none was).
    package var savedCheckpoint: [UInt8]? { state.withLock { $0.checkpoint } }

    /// The checkpoint saved since the backend last stored one, with its version to pass to
    /// ``markStored(_:)`` once stored; nil when there is nothing new.
    package func unstoredCheckpoint() -> (bytes: [UInt8], version: Int)? {
        state.withLock { state in
            guard state.version > state.sent, let bytes = state.checkpoint else { return nil }
            return (bytes, state.version)
        }
    }

    /// The backend stored the checkpoint of `version` (a later save is still unstored).
    package func markStored(_ version: Int) {
        state.withLock { $0.sent = max($0.sent, version) }
    }
}

/// Thrown by ``WorkContext/saveCheckpoint(_:)`` for a checkpoint above 64 KiB: save a smaller
/// one (an offset, a cursor, a key where the real state lives), not the work itself.
public struct CheckpointTooLarge: Error, Sendable, Hashable, CustomStringConvertible {
    /// The checkpoint's size in bytes.
    public let size: Int
    /// The most bytes a checkpoint may have.
    public let limit: Int
    /// The error for a checkpoint of `size` bytes over `limit`.
    package init(size: Int, limit: Int) {
        self.size = size
        self.limit = limit
    }
    /// What went wrong and what to do.
    public var description: String {
        "checkpoint of \(size) bytes is over the limit of \(limit) bytes; save a position or a key to the state, "
            + "not the state itself (the previous checkpoint is kept)"
    }
}

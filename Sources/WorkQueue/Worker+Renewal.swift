/// Renewing the held leases: the heartbeat that keeps an item's lease while its handler works.
extension Worker {
    /// Renews every held lease each third of the lease duration; what the renewal answers goes
    /// to the ledger (``ItemLedger/renewed(_:owned:at:)``), which moves the renewed leases'
    /// deadlines and cancels the handlers of leases found lost. A renewal that fails is tried
    /// again (backing off from 100 ms to 1 s) until the last of the held leases would have
    /// lapsed, each try waiting for its answer as long as that leaves: a stall of the backend
    /// shorter than the lease minus one renewal period (two thirds of the lease) costs no
    /// lease (see the Guarantees article of WorkQueueCore).
    func heartbeatLoop(_ dispatcher: Dispatcher) async throws {
        let interval = options.leaseDuration / 3
        // Beats on a fixed schedule, not an interval after the last renewal ended: a renewal's
        // own duration never delays the next one.
        var nextBeat = clock.now + interval
        while true {
            try await clock.sleep(until: nextBeat)
            nextBeat = nextBeat + interval
            if nextBeat < clock.now { nextBeat = clock.now + interval }  // far behind: no burst of beats
            let held = dispatcher.renewals(at: clock.now)
            guard !held.ids.isEmpty else { continue }
            // Checkpoints saved since the last renewal ride with this one (none: the plain renewal).
            let unstored = held.progress.map { $0.unstoredCheckpoint() }
            let checkpoints = unstored.contains { $0 != nil } ? unstored.map { $0?.bytes } : nil
            let lastLapse = held.lastLapse
            var pause = Duration.milliseconds(100)
            var failures = 0
            while true {
                let started = clock.now
                do {
                    let timeout = max(.milliseconds(100), lastLapse - started)
                    // The control marks ride in the same call where the backend can: one round
                    // trip per beat.
                    let reply = try await backend.renewReadingControl(
                        RenewRequest(leases: held.leases, duration: options.leaseDuration, timeout: timeout,
                                     checkpoints: checkpoints ?? []))
                    let owned = reply.owned
                    for (index, stillOwned) in owned.enumerated() where stillOwned {
                        if index < unstored.count, let version = unstored[index]?.version { held.progress[index].markStored(version) }
                    }
                    if failures > 0 { logger.notice("lease renewal succeeded after \(failures) failed tries") }
                    for action in dispatcher.renewed(held.ids, owned: owned, at: started) { perform(action) }
                    // A cancel reaches handlers that run long (the fetcher may not call the
                    // backend while every slot is busy) at their next renewal.
                    if let control = reply.control {
                        if control.cancelled { jobCancelled() }
                    } else if let control = try? await (backend as? any QueueControlling)?.control(), control.cancelled {
                        jobCancelled()
                    }
                    break
                } catch is CancellationError {
                    throw CancellationError()
                } catch {
                    metrics.recordBackendError()
                    failures += 1
                    let now = clock.now
                    guard now < lastLapse else {
                        logger.warning("""
                            lease renewal failed: \(error); tried \(failures) time(s) until the leases would have lapsed; \
                            the next beat finds out which are still held
                            """)
                        break
                    }
                    if failures == 1 {
                        logger.warning("lease renewal failed: \(error); retrying until the leases would lapse, in \(lastLapse - now)")
                    }
                    try await clock.sleep(for: min(pause, lastLapse - now))
                    pause = min(pause * 2, .seconds(1))
                }
            }
        }
    }
}

import Logging

/// The loops beside the items: recovery passes, the heartbeat record, the grace period.
extension Worker {
    /// Recovers expired leases and promotes due retries, at start and every recovery interval
    /// (the backend may leave a pass to another worker of the fleet).
    func maintenanceLoop() async throws {
        while true {
            do {
                let report = try await backend.maintain(maxAttempts: options.maxAttempts, interval: options.recoveryInterval,
                                                        session: session)
                if let report, report.requeued + report.deadLettered > 0 {
                    metrics.recordRecovery(report)
                    logger.notice("recovered expired leases: \(report.requeued) requeued, \(report.deadLettered) dead-lettered")
                    emit(.recovered(report))
                }
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                metrics.recordBackendError()
                logger.warning("recovery pass failed: \(error); retrying at the next pass")
            }
            try await clock.sleep(for: options.recoveryInterval)
        }
    }

    /// Writes this worker's heartbeat record at start and every heartbeat interval, for three
    /// intervals each time (a failure is counted and logged; the next beat tries again).
    func heartbeatRecordLoop(_ dispatcher: Dispatcher) async throws {
        guard let interval = options.heartbeatInterval else { return }
        let host = options.heartbeatHost ?? WorkerHeartbeat.defaultHost()
        let handlerName = options.handlerName ?? String(describing: type(of: handler))
        // The first record predates the first lease: refresh it after a second, then every interval.
        var pause = min(interval, .seconds(1))
        while true {
            let done = summary.withLock { ($0.completed, $0.retried + $0.deadLettered) }
            let counts = dispatcher.counts
            let beat = WorkerHeartbeat(session: session, host: host, handler: handlerName,
                                       startedAtMilliseconds: startedAtMilliseconds,
                                       inFlight: counts.running, held: counts.held,
                                       completed: done.0, failed: done.1, progress: currentProgress())
            do {
                try await (backend as? any WorkerRecords)?.heartbeat(beat, ttl: interval * 3)
            } catch is CancellationError {
                throw CancellationError()
            } catch let error as WorkQueueError where error.isPermanent {
                // Refused for good (say a missing ACL permission): the record is only for
                // operators, so the work goes on without it.
                logger.warning("the heartbeat record was refused: \(error); going on without one")
                return
            } catch {
                metrics.recordBackendError()
                logger.debug("writing the heartbeat record failed: \(error); retrying at the next beat")
            }
            try await clock.sleep(for: pause)
            pause = interval
        }
    }

    /// The progress the held leases' handlers reported, for the heartbeat record.
    func currentProgress() -> [WorkerHeartbeat.ItemProgress] {
        var entries: [WorkerHeartbeat.ItemProgress] = []
        for entry in dispatcher.progress() {
            guard entries.count < WorkerHeartbeat.maxProgressEntries else { break }
            guard let (fraction, note) = entry.progress.progress else { continue }
            entries.append(.init(item: WorkerHeartbeat.ItemProgress.label(entry.lease.item), fraction: fraction, note: note))
        }
        return entries
    }

    /// After a shutdown request, waits the grace period, then cancels every in-flight handler.
    func graceWatcher() async {
        await stopSignal.wait()
        guard !Task.isCancelled else { return }
        do {
            try await clock.sleep(for: options.shutdownGracePeriod)
        } catch {
            return
        }
        dispatcher.cancelAll(reason: .shutdown)
        // Cancelled handlers' items are released now; the rest may take this long.
        do {
            try await clock.sleep(for: options.shutdownSettleTimeout)
        } catch {
            return
        }
        deadline.fire()
    }
}

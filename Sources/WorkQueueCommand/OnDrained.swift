#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging
import Synchronization
import WorkQueue
import WorkQueueRedis
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `work --on-drained CMD`: the fan-in hook, run at most once per drain for the whole fleet.
///
/// Every worker that finds the queue drained asks shard 0 for the claim (`claim-on-drained`,
/// keyed by the `NAME:drained` value); the one that gets it records state `started` in
/// `NAME:on-drained` before it starts `/bin/sh -c CMD`, and `done` or `failed` (with the exit
/// status) after. A worker that dies mid-hook leaves `started`: nobody re-runs it, `status`
/// shows it, and the operator decides.
enum OnDrained {
    /// How the hook ended.
    struct Outcome: Equatable {
        /// Its exit status (0 when another worker has the claim), 128 + N when signal N killed
        /// it, -1 when it could not be started.
        var status: Int32
        /// Whether SIGTERM or SIGINT reached the worker while the hook ran (it was passed on to
        /// the hook's process group): the worker then exits 143 whatever the hook did.
        var stopped: Bool
    }

    /// Claims and, when this worker won the claim, runs the hook.
    static func run(_ command: String, queue name: String, queues: [RedisQueue], backend: any WorkQueueBackend,
                    session: String, logger: Logger) async throws -> Outcome {
        guard let first = queues.first else { return Outcome(status: 0, stopped: false) }
        var claim = try await first.claimOnDrained(session: session)
        if claim == .notDrained, try await backend.finishIfDrained(session: session) {
            // Shard 0's marker was withdrawn by a racing sharded drain check that then found
            // another shard busy: still drained is drained, and the check sets the marker anew.
            claim = try await first.claimOnDrained(session: session)
        }
        guard claim == .claimed else {
            logger.info("--on-drained: another worker has this drain's hook (\(name):on-drained)")
            return Outcome(status: 0, stopped: false)
        }
        let counts = try await backend.counts()
        let environment = Self.environment(queue: name, shards: queues.count, session: session, counts: counts)
        logger.notice("--on-drained: running the hook once for the fleet (\(name):on-drained says started)")
        let outcome = await Self.shell(command, environment: environment)
        let status = outcome.status
        let state = status == 0 ? "done" : outcome.stopped ? "stopped" : "failed"
        do {
            try await first.finishOnDrained(session: session, exitStatus: Int(status), stopped: outcome.stopped)
        } catch {
            logger.error("--on-drained: the hook exited \(status) but recording it in \(name):on-drained failed: \(error)")
        }
        if status == 0 {
            logger.notice("--on-drained: the hook exited 0 (\(name):on-drained says done)")
        } else if outcome.stopped {
            logger.notice("--on-drained: stopped by a signal, passed on to the hook, which exited \(status) (\(name):on-drained says \(state)); it is not re-run")
        } else {
            logger.error("--on-drained: the hook \(status < 0 ? "could not be started" : "exited \(status)") (\(name):on-drained says failed); it is not re-run")
        }
        return outcome
    }

    /// The hook's environment: the worker's own plus the queue and its final counts.
    static func environment(queue: String, shards: Int, session: String, counts: QueueCounts) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["WORKQUEUE_QUEUE"] = queue
        environment["WORKQUEUE_SHARDS"] = String(shards)
        environment["WORKQUEUE_SESSION"] = session
        environment["WORKQUEUE_COMPLETED"] = String(counts.completed ?? 0)
        environment["WORKQUEUE_DEAD"] = String(counts.dead)
        return environment
    }

    /// The last SIGTERM or SIGINT caught while a hook runs (0: none), for the waiting loop
    /// to pass on to the hook's process group.
    private static let received = Atomic<Int32>(0)

    /// Runs `/bin/sh -c command` with stdin, stdout and stderr inherited and waits for it.
    ///
    /// The hook starts as a process of its own would: every signal at its default action
    /// (SwiftNIO ignores SIGPIPE process-wide, and the service group left SIGTERM and SIGINT
    /// ignored; ignored dispositions are inherited), an empty signal mask, in a process group
    /// of its own (`POSIX_SPAWN_SETSIGDEF`, `POSIX_SPAWN_SETSIGMASK`, `POSIX_SPAWN_SETPGROUP`).
    /// While it runs, the worker catches SIGTERM and SIGINT (the service group's handling has
    /// ended) and passes each on to that group; the previous dispositions come back after.
    static func shell(_ command: String, environment: [String: String]) async -> Outcome {
        let arguments: [UnsafeMutablePointer<CChar>?] = (["/bin/sh", "-c", command] as [String]).map { strdup($0) } + [nil]
        let variables: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer {
            posix_spawnattr_destroy(&attributes)
            for pointer in arguments { free(pointer) }
            for pointer in variables { free(pointer) }
        }
        var defaults = sigset_t()
        sigfillset(&defaults)
        sigdelset(&defaults, SIGKILL)
        sigdelset(&defaults, SIGSTOP)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &mask)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP))

        // Caught from before the spawn, so that none is lost in between.
        _ = received.exchange(0, ordering: .relaxed)
        let handler: @convention(c) (Int32) -> Void = { number in OnDrained.received.store(number, ordering: .relaxed) }
        let previous = [SIGTERM, SIGINT].map { ($0, signal($0, handler)) }
        var forwarded: sigset_t = sigset_t()
        sigemptyset(&forwarded)
        sigaddset(&forwarded, SIGTERM)
        sigaddset(&forwarded, SIGINT)
        defer { for (number, action) in previous { signal(number, action) } }

        var pid: pid_t = 0
        let spawned = arguments.withUnsafeBufferPointer { argv in
            variables.withUnsafeBufferPointer { envp in
                guard let argv = argv.baseAddress, let envp = envp.baseAddress else { return Int32(-1) }
                return posix_spawn(&pid, "/bin/sh", nil, &attributes, argv, envp)
            }
        }
        guard spawned == 0 else { return Outcome(status: -1, stopped: Self.pendingStop(&forwarded) != 0) }
        var status: Int32 = 0
        var stopped = false
        while true {
            // A signal reaches the handler on a thread that has it unblocked; one blocked on
            // every thread (the dispatch threads block them) waits pending: take it here.
            let number = Swift.max(received.exchange(0, ordering: .relaxed), Self.pendingStop(&forwarded))
            if number != 0 {
                stopped = true
                kill(-pid, number)
            }
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid { break }
            if reaped < 0 && errno != EINTR { return Outcome(status: -1, stopped: stopped) }
            try? await Task.sleep(for: .milliseconds(20))
        }
        if Self.pendingStop(&forwarded) != 0 || received.exchange(0, ordering: .relaxed) != 0 { stopped = true }
        let killer = status & 0x7f
        return Outcome(status: killer == 0 ? (status >> 8) & 0xff : 128 + killer, stopped: stopped)
    }

    /// SIGTERM or SIGINT pending for the process and blocked on this thread, taken (0: none).
    private static func pendingStop(_ set: inout sigset_t) -> Int32 {
        var pending = sigset_t()
        guard sigpending(&pending) == 0 else { return 0 }
        guard sigismember(&pending, SIGTERM) == 1 || sigismember(&pending, SIGINT) == 1 else { return 0 }
        var blocked = sigset_t()
        pthread_sigmask(SIG_SETMASK, nil, &blocked)
        guard sigismember(&blocked, SIGTERM) == 1 || sigismember(&blocked, SIGINT) == 1 else { return 0 }
        var zero = timespec(tv_sec: 0, tv_nsec: 0)
        let number = sigtimedwait(&set, nil, &zero)
        return number > 0 ? number : 0
    }
}

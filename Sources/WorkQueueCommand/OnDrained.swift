#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging
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
    /// Claims and, when this worker won the claim, runs the hook. Returns the hook's exit
    /// status (0 when another worker has the claim), -1 when it could not be started.
    static func run(_ command: String, queue name: String, queues: [RedisQueue], backend: any WorkQueueBackend,
                    session: String, logger: Logger) async throws -> Int32 {
        guard let first = queues.first else { return 0 }
        var claim = try await first.claimOnDrained(session: session)
        if claim == .notDrained, try await backend.finishIfDrained(session: session) {
            // Shard 0's marker was withdrawn by a racing sharded drain check that then found
            // another shard busy: still drained is drained, and the check sets the marker anew.
            claim = try await first.claimOnDrained(session: session)
        }
        guard claim == .claimed else {
            logger.info("--on-drained: another worker has this drain's hook (\(name):on-drained)")
            return 0
        }
        let counts = try await backend.counts()
        let environment = Self.environment(queue: name, shards: queues.count, session: session, counts: counts)
        logger.notice("--on-drained: running the hook once for the fleet (\(name):on-drained says started)")
        let status = await Self.shell(command, environment: environment)
        do {
            try await first.finishOnDrained(session: session, exitStatus: Int(status))
        } catch {
            logger.error("--on-drained: the hook exited \(status) but recording it in \(name):on-drained failed: \(error)")
        }
        if status == 0 {
            logger.notice("--on-drained: the hook exited 0 (\(name):on-drained says done)")
        } else {
            logger.error("--on-drained: the hook \(status < 0 ? "could not be started" : "exited \(status)") (\(name):on-drained says failed); it is not re-run")
        }
        return status
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

    /// Runs `/bin/sh -c command` with stdin, stdout and stderr inherited and waits for it.
    /// Returns its exit status, 128 + N when signal N killed it, -1 when it could not start.
    static func shell(_ command: String, environment: [String: String]) async -> Int32 {
        let arguments: [UnsafeMutablePointer<CChar>?] = (["/bin/sh", "-c", command] as [String]).map { strdup($0) } + [nil]
        let variables: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in arguments { free(pointer) }
            for pointer in variables { free(pointer) }
        }
        var pid: pid_t = 0
        let spawned = arguments.withUnsafeBufferPointer { argv in
            variables.withUnsafeBufferPointer { envp in
                guard let argv = argv.baseAddress, let envp = envp.baseAddress else { return Int32(-1) }
                return posix_spawn(&pid, "/bin/sh", nil, nil, argv, envp)
            }
        }
        guard spawned == 0 else { return -1 }
        var status: Int32 = 0
        while true {
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid { break }
            if reaped < 0 && errno != EINTR { return -1 }
            try? await Task.sleep(for: .milliseconds(20))
        }
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }
}

import Testing
import TestSupport
import WorkQueue
@testable import WorkQueueRedis

/// The `--on-drained` claim at the Redis level: one claim per `NAME:drained` value, whoever
/// asks and however often, a record that says started before the hook runs, and a new claim
/// for the next drain.
@Suite(.serialized) struct OnDrainedClaimTests {
    @Test func oneClaimPerDrain() async throws {
        try await LocalRedis.with { server in
            let queue = try await RedisQueue.connect(name: "job", configuration: server.configuration)
            defer { Task { await queue.close() } }
            #expect(try await queue.claimOnDrained(session: "w1") == .notDrained)
            #expect(try await queue.onDrainedRecord() == nil)
            #expect(try await queue.finishIfDrained(session: "w1"))
            #expect(try await queue.claimOnDrained(session: "w2") == .claimed)
            #expect(try await queue.claimOnDrained(session: "w1") == .taken)
            #expect(try await queue.claimOnDrained(session: "w2") == .taken)
            let started = try #require(try await queue.onDrainedRecord())
            #expect(started.state == "started" && started.session == "w2" && started.drain == "w1")
            #expect(started.startedMilliseconds != nil && started.finishedMilliseconds == nil)
            // Only the claiming session records the end.
            #expect(try await queue.finishOnDrained(session: "w1", exitStatus: 0) == false)
            #expect(try await queue.finishOnDrained(session: "w2", exitStatus: 9))
            let failed = try #require(try await queue.onDrainedRecord())
            #expect(failed.state == "failed" && failed.exitStatus == 9 && failed.finishedMilliseconds != nil)
            // The next drain (reopened, drained by another session) gets its own claim.
            #expect(try await queue.clearDrained())
            #expect(try await queue.finishIfDrained(session: "w3"))
            #expect(try await queue.claimOnDrained(session: "w3") == .claimed)
            #expect(try await queue.finishOnDrained(session: "w3", exitStatus: 0))
            #expect(try await queue.onDrainedRecord()?.state == "done")
        }
    }
}

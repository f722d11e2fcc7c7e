import Testing
import TestSupport
import WorkQueue
import WorkQueueContract
@_spi(Testing) import WorkQueueRedis

/// The Redis backend on a real redis-server, with real time: `advance` sleeps.
struct RedisFixture: ContractFixture {
    let queue: RedisQueue
    /// Another queue on the same server, with `resultsMax` 3.
    let bounded: RedisQueue

    var boundedResults: (any WorkQueueBackend & CompletionLog)? { bounded }

    var backend: any WorkQueueBackend & DeadLetterQueue { queue }
    /// Long enough that a lease taken at the start of a step is still alive at its end on a
    /// busy two-core machine (with the whole suite running in parallel a reply was seen to
    /// reach the test a second after the script ran), short enough to keep the suite fast.
    var shortLease: Duration { .seconds(2) }

    func advance(by duration: Duration) async throws { try await Task.sleep(for: duration) }

    func loseNextExchangeReply() -> Bool {
        queue.faultInjection.loseExchangeReply = 1
        return true
    }
}

/// The same contract the in-memory fake passes (Tests/WorkQueueTests), so the fake never lies.
@Test(arguments: BackendContract.cases(for: RedisFixture.self))
func redisContract(_ contractCase: ContractCase) async throws {
    try await LocalRedis.with { server in
        // The grace protects rediswq.py's two-step take; the contract's leases are all ours.
        let queue = try await RedisQueue.connect(name: "contract", configuration: server.configuration,
                                                 options: .init(recoveryGrace: .zero))
        let bounded: RedisQueue
        do {
            bounded = try await RedisQueue.connect(name: "bounded", configuration: server.configuration,
                                                   options: .init(resultsMax: 3, recoveryGrace: .zero))
        } catch {
            await queue.close()
            throw error
        }
        do {
            try await contractCase.run(RedisFixture(queue: queue, bounded: bounded))
        } catch {
            await queue.close()
            await bounded.close()
            throw error
        }
        await queue.close()
        await bounded.close()
    }
}

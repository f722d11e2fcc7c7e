import Testing
import TestSupport
import WorkQueue
@testable import WorkQueueRedis

/// The web dashboard's two scripts: `dashboard-snapshot` (one read-only call per refresh, every
/// part bounded) and `retry-one-dead`.
@Suite struct DashboardSnapshotTests {
    @Test func oneReadOnlyCallReadsCountsWorkersLeasesAndTheDeadPage() async throws {
        try await LocalRedis.with { server in
            let queue = try await BoundsTests.connect(server)
            defer { Task { await queue.close() } }
            _ = try await queue.enqueue(["a", "b", "c", "d", WorkItem(Array(repeating: 0x78, count: 300_000))])
            try await queue.heartbeat(WorkerHeartbeat(session: "s1", host: "pod-1", handler: "printer", startedAtMilliseconds: 1),
                                      ttl: .seconds(30))
            let leases = try await queue.lease(max: 2, session: "s1", duration: .seconds(30))
            let failed = try await queue.lease(max: 1, session: "s2", duration: .seconds(30))
            _ = try await queue.fail(try #require(failed.first), error: "boom <b>", disposition: .deadLetter)
            let before = try await Self.readOnlyCalls(server)

            var request = RedisQueue.DashboardRequest()
            request.previewBytes = 1
            let first = try await queue.dashboardSnapshot(request)
            #expect(try await Self.readOnlyCalls(server) == before + 1, "one EVALSHA_RO call")
            #expect(first.counts.pending == 2 && first.counts.processing == 2 && first.counts.leased == 2 && first.counts.dead == 1)
            #expect(first.counts.workers == 1 && first.workers.map(\.heartbeat.host) == ["pod-1"])
            #expect(first.leases.map(\.session) == ["s1", "s1"])
            #expect(first.leases.map(\.preview) == [Array("a".utf8), Array("b".utf8)], "previews cut to previewBytes")
            #expect(first.leases.allSatisfy { $0.millisecondsLeft > 25_000 && $0.size == 1 })
            #expect(first.deadPage?.map(\.bytes) == [Array("c".utf8)])
            #expect(first.deadDetails.isEmpty, "no digest asked for")

            // The dead page again only when its length changed; the details of the digests given.
            request.deadLengthSeen = 1
            request.deadDigests = [RedisQueue.digest(Array("c".utf8))]
            let second = try await queue.dashboardSnapshot(request)
            #expect(second.deadPage == nil)
            let detail = try #require(second.deadDetails[RedisQueue.digest(Array("c".utf8))])
            #expect(detail.attempts == 1 && detail.error == "boom <b>")

            // A lease item longer than the preview budget shows its size only; the lease list is bounded.
            _ = try await queue.lease(max: 2, session: "s3", duration: .seconds(60))
            request.leaseItemBudget = 1000
            request.maxLeases = 3
            let third = try await queue.dashboardSnapshot(request)
            #expect(third.leases.count == 3, "at most maxLeases")
            let s3 = try await queue.dashboardSnapshot({ var r = request; r.maxLeases = 10; return r }()).leases.filter { $0.session == "s3" }
            #expect(s3.contains { $0.size == 300_000 && $0.preview == nil }, "\(s3.map(\.size))")
            _ = leases
        }
    }

    @Test func theSnapshotReadsThePauseAndCancelMarksAndTheProgressOfEachWorker() async throws {
        try await LocalRedis.with { server in
            let queue = try await BoundsTests.connect(server)
            defer { Task { await queue.close() } }
            _ = try await queue.enqueue(["a", "b", "c"])
            let before = try await Self.readOnlyCalls(server)
            let plain = try await queue.dashboardSnapshot(RedisQueue.DashboardRequest())
            #expect(plain.control == QueueControl(paused: false, cancelled: false, cancelledItems: 0))
            #expect(plain.cancelledAtMilliseconds == nil)

            let leases = try await queue.lease(max: 1, session: "s1", duration: .seconds(30))
            try await queue.setPaused(true)
            let paused = try await queue.dashboardSnapshot(RedisQueue.DashboardRequest())
            #expect(paused.control == QueueControl(paused: true, cancelled: false, cancelledItems: 0))

            // The progress handlers reported, from the worker's heartbeat record (a note is user
            // text, kept as it is).
            let label = WorkerHeartbeat.ItemProgress.label(try #require(leases.first).item)
            try await queue.heartbeat(WorkerHeartbeat(session: "s1", host: "pod-1", handler: "countdown", startedAtMilliseconds: 1,
                                                      inFlight: 1, held: 1,
                                                      progress: [.init(item: label, fraction: 0.25, note: "step 1 of 4 <b>")]),
                                      ttl: .seconds(30))
            let cancelled = try await queue.cancel(max: 100)
            #expect(cancelled == 2)
            let snapshot = try await queue.dashboardSnapshot(RedisQueue.DashboardRequest())
            #expect(snapshot.control == QueueControl(paused: true, cancelled: true, cancelledItems: 2))
            #expect((snapshot.cancelledAtMilliseconds ?? 0) > 0 && (snapshot.cancelledAtMilliseconds ?? 0) <= snapshot.now)
            let progress = try #require(snapshot.workers.first?.heartbeat.progress)
            #expect(progress == [.init(item: "a", fraction: 0.25, note: "step 1 of 4 <b>")])
            #expect(snapshot.leases.map(\.preview) == [Array("a".utf8)])
            #expect(try await Self.readOnlyCalls(server) == before + 3, "one EVALSHA_RO call per snapshot")

            try await queue.clearCancelled()
            try await queue.setPaused(false)
            let resumed = try await queue.dashboardSnapshot(RedisQueue.DashboardRequest())
            #expect(resumed.control == QueueControl(paused: false, cancelled: false, cancelledItems: 2), "the items stay aside")
        }
    }

    @Test func theSnapshotCountsTheCompletionRecordsKeptAndDropped() async throws {
        try await LocalRedis.with { server in
            let queue = try await BoundsTests.connect(server, options: RedisQueue.Options(resultsMax: 2))
            defer { Task { await queue.close() } }
            #expect(try await queue.dashboardSnapshot(.init()).results.map { [$0.kept, $0.dropped] } == [0, 0])
            _ = try await queue.enqueue(["a", "b", "c"])
            for lease in try await queue.lease(max: 3, session: "s1", duration: .seconds(30)) {
                _ = try await queue.complete(lease, result: "done")
            }
            let snapshot = try await queue.dashboardSnapshot(.init())
            #expect(snapshot.results.map { [$0.kept, $0.dropped] } == [2, 1], "kept to --results-max, the rest counted")
            // An older version's hash in NAME:results: no count, and the snapshot still reads.
            try await server.cli("del", "q:results")
            try await server.cli("hset", "q:results", "x", "y")
            let old = try await queue.dashboardSnapshot(.init())
            #expect(old.results == nil)
            #expect(old.counts.completed == 3)
        }
    }

    @Test func retryingOneDeadLetterMovesThatOneUnlessTheQueueWasDrained() async throws {
        try await LocalRedis.with { server in
            let queue = try await BoundsTests.connect(server)
            defer { Task { await queue.close() } }
            try await server.cli("rpush", "q:dead", "x", "y", "x")
            try await server.cli("hset", "q:attempts", RedisQueue.digest(Array("y".utf8)), "5")
            #expect(try await queue.retryDeadLetter(Array("y".utf8), near: 1) == .moved)
            #expect(try await server.cli("lrange", "q:dead", "0", "-1") == "x\nx")
            #expect(try await server.cli("lrange", "q", "0", "-1") == "y")
            #expect(try await server.cli("hlen", "q:attempts") == "0")
            #expect(try await queue.retryDeadLetter(Array("zz".utf8), near: 0) == .notFound)
            // The scan is bounded: an item beyond index + margin is not found.
            try await server.cli("rpush", "q:dead", "far")
            #expect(try await queue.retryDeadLetter(Array("far".utf8), near: 0, margin: 2) == .notFound)
            try await server.cli("set", "q:drained", "s")
            #expect(try await queue.retryDeadLetter(Array("x".utf8), near: 0) == .drained)
            #expect(try await server.cli("llen", "q:dead") == "3")
        }
    }

    static func readOnlyCalls(_ server: LocalRedis) async throws -> Int {
        let stats = try await server.cli("info", "commandstats")
        guard let line = stats.split(whereSeparator: \.isNewline).first(where: { $0.hasPrefix("cmdstat_evalsha_ro:calls=") }) else { return 0 }
        return Int(line.dropFirst("cmdstat_evalsha_ro:calls=".count).prefix(while: \.isNumber)) ?? 0
    }
}

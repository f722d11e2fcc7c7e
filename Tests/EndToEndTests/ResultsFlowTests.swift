import Foundation
import Testing
import TestSupport

/// `workqueue results`: every completion record exported, with real worker processes.
@Suite struct ResultsFlowTests {
    /// One exported JSON line.
    struct Record: Decodable, Equatable {
        var id: String
        var time_ms: Int
        var item: String
        var result: String
        var attempt: Int
        var worker: String
        var shard: Int?
    }

    static func records(_ lines: [String]) throws -> [Record] {
        try lines.map { try JSONDecoder().decode(Record.self, from: Data($0.utf8)) }
    }

    static func position(_ id: String) -> [Int] { id.split(separator: "-").compactMap { Int($0) } }

    /// Exported in the order recorded: IDs increase (with shards too: merged by ID).
    static func expectOrdered(_ records: [Record], sourceLocation: SourceLocation = #_sourceLocation) {
        let positions = records.map { position($0.id) }
        #expect(zip(positions, positions.dropFirst()).allSatisfy { $0.lexicographicallyPrecedes($1) }, sourceLocation: sourceLocation)
    }

    @Test func twoWorkersEveryResultFollowedThenExportedAsCSVAndConsumed() async throws {
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            #expect(try await wq.run(["open", "--queue", "r", "--ttl-seconds", "60"]).termination == .exited(0))
            let follower = try wq.start(["results", "--queue", "r", "--follow"])
            // Equal items twice: two records.
            let items = (2...101).map(String.init) + ["12", "12"]
            #expect(try await wq.run(["push", "--queue", "r"] + items).termination == .exited(0))
            let workers = try (0..<2).map { _ in try wq.start(["work", "--queue", "r", "--handler", "factor"]) }
            #expect(try await wq.run(["close", "--queue", "r"]).termination == .exited(0))
            for worker in workers { #expect(try await worker.wait(timeout: .seconds(60)) == .exited(0), "\(worker.stderr)") }
            #expect(try await follower.wait(timeout: .seconds(30)) == .exited(0), "\(follower.stderr)")
            let followed = try Self.records(follower.stdoutLines)
            #expect(followed.map(\.item).sorted() == items.sorted(), "every completion, equal items twice")
            #expect(followed.allSatisfy { $0.result.hasPrefix($0.item + " = ") && $0.attempt == 1 && !$0.worker.isEmpty })
            let sessions = workers.compactMap { $0.stdoutLines.first { $0.hasPrefix("Worker with sessionID: ") } }
                .map { String($0.dropFirst("Worker with sessionID: ".count)) }
            #expect(Set(followed.map(\.worker)).isSubset(of: Set(sessions)), "each record names the worker that completed it")
            #expect(followed.allSatisfy { $0.time_ms > 1_700_000_000_000 && $0.shard == nil })
            Self.expectOrdered(followed)
            #expect(follower.stderr.contains("wrote \(items.count) records of r; none dropped"), "\(follower.stderr)")

            let (all, exported) = try await wq.run(["results", "--queue", "r"])
            #expect(exported == .exited(0), "\(all.stderr)")
            #expect(try Self.records(all.stdoutLines) == followed, "the same records, read again")

            let (csv, _) = try await wq.run(["results", "--queue", "r", "--csv"])
            #expect(csv.stdoutLines.first == "id,time_ms,attempt,worker,item,result")
            #expect(csv.stdoutLines.count == items.count + 1)
            #expect(csv.stdoutLines.dropFirst().first == "\(followed[0].id),\(followed[0].time_ms),1,\(followed[0].worker),"
                + "\(followed[0].item),\(followed[0].result)")

            let (consumed, done) = try await wq.run(["results", "--queue", "r", "--consume"])
            #expect(done == .exited(0), "\(consumed.stderr)")
            #expect(try Self.records(consumed.stdoutLines) == followed)
            #expect(consumed.stderr.contains("wrote and deleted \(items.count) records"))
            #expect(try await redis.cli("xlen", "r:results") == "0")
            let (again, _) = try await wq.run(["results", "--queue", "r"])
            #expect(again.stdout.isEmpty)
        }
    }

    @Test func theBoundKeepsTheMostRecentAndEveryReportSaysHowManyWereDropped() async throws {
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            let items = (2...31).map(String.init)
            #expect(try await wq.run(["push", "--queue", "b"] + items).termination == .exited(0))
            let (worker, worked) = try await wq.run(["work", "--queue", "b", "--handler", "factor", "--results-max", "10"])
            #expect(worked == .exited(0), "\(worker.stderr)")
            let (results, exported) = try await wq.run(["results", "--queue", "b"])
            #expect(exported == .exited(0))
            #expect(try Self.records(results.stdoutLines).map(\.item) == Array(items.suffix(10)), "the 10 most recent")
            #expect(results.stderr.contains("20 older records were dropped by the workers' --results-max"), "\(results.stderr)")
            let (status, _) = try await wq.run(["status", "--queue", "b", "--json"])
            let report = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
            #expect(report?["results"] as? Int == 10)
            #expect(report?["results_dropped"] as? Int == 20)
            let (table, _) = try await wq.run(["status", "--queue", "b"])
            #expect(table.stdout.contains("results    10 kept, 20 dropped by --results-max"), "\(table.stdout)")
        }
    }

    @Test func threeShardsMergedByID() async throws {
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            let items = (2...61).map(String.init)
            #expect(try await wq.run(["push", "--queue", "s", "--shards", "3"] + items).termination == .exited(0))
            let workers = try (0..<2).map { _ in
                try wq.start(["work", "--queue", "s", "--shards", "3", "--handler", "factor"])
            }
            for worker in workers { #expect(try await worker.wait(timeout: .seconds(60)) == .exited(0), "\(worker.stderr)") }
            let (results, exported) = try await wq.run(["results", "--queue", "s", "--shards", "3", "--consume"])
            #expect(exported == .exited(0), "\(results.stderr)")
            let records = try Self.records(results.stdoutLines)
            #expect(records.map(\.item).sorted() == items.sorted())
            #expect(Set(records.compactMap(\.shard)) == [0, 1, 2])
            let positions = records.map { Self.position($0.id) }
            #expect(zip(positions, positions.dropFirst()).allSatisfy { !$1.lexicographicallyPrecedes($0) }, "merged by ID")
            for index in 0..<3 { #expect(try await redis.cli("xlen", "{s:\(index)}:results") == "0") }
        }
    }

    @Test func anEarlierVersionsResultsHashStopsWithHowToMigrate() async throws {
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            try await redis.cli("hset", "old:results", "0123", "an old result")
            try await redis.cli("rpush", "old", "12")
            for command in [["results", "--queue", "old"], ["work", "--queue", "old", "--handler", "factor"]] {
                let (process, termination) = try await wq.run(command)
                #expect(termination == .exited(78), "\(command): \(process.stderr)")
                #expect(process.stderr.contains("RENAME 'old:results'"), "\(process.stderr)")
            }
            #expect(try await redis.cli("llen", "old") == "1", "nothing taken")
            #expect(try await redis.cli("hget", "old:results", "0123") == "an old result")
        }
    }
}

import Foundation
import Testing
import TestSupport

/// `push --wait-replicas N`: WAIT after each chunk, exit 1 saying so when fewer replicas have it.
@Suite struct ReplicaWaitTests {
    @Test func aPushNoReplicaConfirmedFailsAndOneAReplicaConfirmedSucceeds() async throws {
        try await LocalRedis.with { primary in
            let wq = try Workqueue(primary)
            // No replica: the items are on the primary, but the push says it is not safe.
            let (alone, aloneExit) = try await wq.run(["push", "--queue", "w", "--wait-replicas", "1", "--wait-seconds", "0.1", "a", "b"])
            #expect(aloneExit == .exited(1))
            #expect(alone.stderr.contains("only 0 of the 1 replica"), "\(alone.stderr)")
            #expect(alone.stderr.contains("--wait-replicas"), "\(alone.stderr)")
            #expect(try await primary.cli("llen", "w") == "2")

            // A replica that is in sync confirms: exit 0 (the variable works like the flag).
            let replica = try await LocalRedis(arguments: ["--replicaof", "127.0.0.1", "\(primary.port)"])
            var linked = false
            for _ in 0..<200 where !linked {
                let primaryInfo = try await primary.cli("info", "replication")
                let replicaInfo = try await replica.cli("info", "replication")
                linked = primaryInfo.contains("connected_slaves:1") && replicaInfo.contains("master_link_status:up")
                if !linked { try await Task.sleep(for: .milliseconds(50)) }
            }
            try #require(linked, "the replica did not sync within 10 s")
            let (synced, syncedExit) = try await wq.run(["push", "--queue", "w", "c"],
                                                        environment: ["WORKQUEUE_WAIT_REPLICAS": "1", "WORKQUEUE_WAIT_SECONDS": "5"])
            #expect(syncedExit == .exited(0), "\(synced.stderr)")
            #expect(synced.stdoutLines == ["Pushed 1 item to w"])
            #expect(try await replica.cli("llen", "w") == "3")

            await replica.stop()

            let (bad, badExit) = try await wq.run(["push", "--queue", "w", "--wait-replicas", "-1", "d"])
            #expect(badExit == .exited(64), "\(bad.stderr)")
        }
    }
}

import Logging
import Testing
import TestSupport
import WorkQueue
import WorkQueueRedis

/// The cluster client against a real 6-node cluster: slots as Redis computes them, pipelines
/// over many slots, ASK during a slot's migration and MOVED after it.
@Suite(.serialized) struct ClusterClientTests {
    @Test func routesBySlotFollowsAskAndMovedAndHashesLikeRedis() async throws {
        try await LocalRedisCluster.with { cluster in
            let seed = RedisConfiguration(host: "127.0.0.1", port: cluster.ports[0])
            let client = try await RedisClusterClient.connect(seeds: [seed], logger: Logger(label: "cluster-test"), budget: .seconds(10))
            do {
                #expect(client.slotMap.coveredSlots == HashSlot.count)
                #expect(client.slotMap.masters.count == 3)

                // CRC16 and hash tags agree with the server's CLUSTER KEYSLOT.
                let keys = (0..<300).map { "key-\($0)" }
                    + ["{job2}", "{job2}:processing", "foo{}{bar}", "foo{{bar}}zap", "foo{bar}{zap}", "ü{ñ}x", "{"]
                let slots = try await client.pipeline(keys.map { RESPCommand(["CLUSTER", "KEYSLOT", $0]) }, timeout: nil)
                #expect(slots.map(\.int) == keys.map { Optional(HashSlot.of($0)) })

                // A pipeline over many slots (every master): grouped by node, answered in order.
                let sets = try await client.pipeline(keys.map { RESPCommand(["SET", $0, "v-" + $0]) }, timeout: nil)
                #expect(sets.allSatisfy { $0.string == "OK" }, "\(sets.filter { $0.string != "OK" }.prefix(3))")
                let gets = try await client.pipeline(keys.map { RESPCommand(["GET", $0]) }, timeout: nil)
                #expect(gets.map(\.string) == keys.map { "v-" + $0 })
                for port in client.slotMap.masters.map(\.port) {
                    #expect(Int(try await cluster.cli(port: port, ["DBSIZE"])) ?? 0 > 0, "every master holds keys")
                }

                // ASK while the slot migrates: a new key goes to the importing node, the map stays.
                let slot = HashSlot.of("{job2}")
                let owner = try await cluster.masterPort(ofSlot: slot)
                let target = try #require(client.slotMap.masters.map(\.port).first { $0 != owner })
                let migration = try await cluster.beginMigration(slot: slot, to: target)
                #expect(try await client.send(RESPCommand(["SET", "{job2}:new", "fresh"])).string == "OK")
                #expect(try await client.send(RESPCommand(["GET", "{job2}:new"])).string == "fresh")
                #expect(try await client.send(RESPCommand(["GET", "{job2}"])).string == "v-{job2}")
                #expect(client.slotMap.master(ofSlot: slot)?.port == owner, "ASK leaves the map as it is")

                // MOVED once it has moved: followed, and the map learns the new owner.
                try await cluster.moveKeys(migration)
                try await cluster.finishMigration(migration)
                #expect(try await client.send(RESPCommand(["GET", "{job2}"])).string == "v-{job2}")
                #expect(try await client.send(RESPCommand(["GET", "{job2}:new"])).string == "fresh")
                #expect(client.slotMap.master(ofSlot: slot)?.port == target)

                // One command over two slots never reaches a node.
                await #expect(throws: RedisError.server("CROSSSLOT Keys in request don't hash to the same slot (command DEL)")) {
                    try await client.send(RESPCommand(["DEL", "key-1", "key-2"]))
                }

                // The queue over the cluster: after its master forgets the scripts (SCRIPT FLUSH),
                // the reload (keyless SCRIPT LOADs pipelined before the EVALSHA) reaches the same node.
                let queue = try await RedisQueue.connect(name: "{job2}:queue", deployment: .cluster(seeds: [seed]),
                                                         logger: Logger(label: "cluster-test"), connectBudget: .seconds(10))
                #expect(try await queue.enqueue([WorkItem("a"), WorkItem("b")]) == 2)
                try await cluster.cli(port: target, ["SCRIPT", "FLUSH"])
                let counts = try await queue.counts()
                #expect(counts.pending == 2)
                #expect(try await queue.lease(max: 1, session: "s", duration: .seconds(5)).map(\.item) == [WorkItem("a")])
                await queue.close()
                await #expect(throws: WorkQueueError.self) {
                    try await RedisQueue.connect(name: "job2", deployment: .cluster(seeds: [seed]), logger: Logger(label: "cluster-test"))
                }
                await client.close()
            } catch {
                await client.close()
                throw error
            }
        }
    }

    @Test func aServerNotInClusterModeIsRefusedClearly() async throws {
        try await LocalRedis.with { redis in
            let seed = RedisConfiguration(host: "127.0.0.1", port: redis.port)
            do {
                let client = try await RedisClusterClient.connect(seeds: [seed], logger: Logger(label: "cluster-test"), budget: .seconds(5))
                await client.close()
                Issue.record("connected to a server without cluster support")
            } catch let error as RedisError {
                // What is wrong, and the setting to change, by the library's name for it (the
                // command names its flags: CommandErrorTests).
                guard case .notAClusterNode = error else { Issue.record("got \(error)"); return }
                #expect(error.description.contains("not a Redis Cluster node"), "\(error)")
                #expect(error.description.contains("turn off cluster mode"), "\(error)")
            }
        }
    }
}

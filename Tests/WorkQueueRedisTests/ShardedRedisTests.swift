import Testing
import TestSupport
import WorkQueue
import WorkQueueContract
@testable import WorkQueueRedis

/// Three Redis queues `{contract:0..2}` on one server, worked as one.
struct ShardedRedisFixture: ContractFixture {
    let sharded: ShardedBackend<RedisQueue>

    var backend: any WorkQueueBackend & DeadLetterQueue { sharded }
    var shortLease: Duration { .seconds(2) }

    func advance(by duration: Duration) async throws { try await Task.sleep(for: duration) }
}

/// The contract Redis and the in-memory fake pass holds for a sharded Redis queue too.
@Test(arguments: BackendContract.cases)
func shardedRedisContract(_ contractCase: ContractCase) async throws {
    try await LocalRedis.with { server in
        let queues = try await RedisQueue.connect(names: try RedisQueue.shardNames("contract", count: 3),
                                                  configuration: server.configuration)
        for queue in queues { queue.recoveryGrace = .zero }
        do {
            try await contractCase.run(ShardedRedisFixture(sharded: try ShardedBackend(shards: queues)))
        } catch {
            for queue in queues { await queue.close() }
            throw error
        }
        for queue in queues { await queue.close() }
    }
}

@Suite struct ShardedRedisTests {
    @Test func shardNames() throws {
        #expect(try RedisQueue.shardNames("job2", count: 1) == ["job2"])
        #expect(try RedisQueue.shardNames("{job2}", count: 1) == ["{job2}"])
        #expect(try RedisQueue.shardNames("job2", count: 3) == ["{job2:0}", "{job2:1}", "{job2:2}"])
        #expect(try RedisQueue.shardNames("a", count: 1024).last == "{a:1023}")
        for bad in [0, -1, 1025] {
            #expect(throws: WorkQueueError.self) { try RedisQueue.shardNames("job2", count: bad) }
        }
        #expect(throws: WorkQueueError.self) { try RedisQueue.shardNames("{job2}", count: 3) }
        #expect(throws: WorkQueueError.self) { try RedisQueue.shardNames("", count: 1) }
    }

    /// Every key of shard i shares the hash tag `NAME:i`, and a tutorial worker's keys of a
    /// shard do too: each shard is one cluster slot.
    @Test func everyKeyOfAShardSharesItsHashTag() throws {
        for (index, name) in try RedisQueue.shardNames("job2", count: 3).enumerated() {
            let keys = RedisKeys(name)
            for (key, _) in keys.typed + [(keys.tutorialLease([1, 2, 3]), "string")] {
                #expect(Self.hashTag(key) == "job2:\(index)", "\(key)")
            }
        }
    }

    /// Redis Cluster's rule: the text between the first `{` and the first `}` after it, if not empty.
    static func hashTag(_ key: String) -> String? {
        guard let open = key.firstIndex(of: "{") else { return nil }
        let rest = key[key.index(after: open)...]
        guard let close = rest.firstIndex(of: "}"), close > rest.startIndex else { return nil }
        return String(rest[..<close])
    }

    /// The exit decision over Redis shards: an open mark on the last shard keeps it false, and
    /// the drained markers set on the first shards on the way are taken back.
    @Test func drainedOnlyWhenEveryShardIsAndMarkersAreWithdrawn() async throws {
        try await LocalRedis.with { server in
            let queues = try await RedisQueue.connect(names: try RedisQueue.shardNames("job", count: 3),
                                                      configuration: server.configuration)
            defer { Task { for queue in queues { await queue.close() } } }
            let sharded = try ShardedBackend(shards: queues)
            #expect(try await queues[2].open(producer: "p", ttl: .seconds(60), reopen: false) == .done(1))
            #expect(try await sharded.finishIfDrained(session: "w1") == false)
            for index in 0..<3 { #expect(try await server.cli("exists", "{job:\(index)}:drained") == "0", "shard \(index)") }
            // Another worker's marker is not ours to take back.
            try await server.cli("set", "{job:0}:drained", "w0")
            #expect(try await sharded.finishIfDrained(session: "w1") == false)
            #expect(try await server.cli("get", "{job:0}:drained") == "w0")
            #expect(try await server.cli("exists", "{job:1}:drained") == "0")
            #expect(try await queues[2].close(producer: "p"))
            #expect(try await sharded.finishIfDrained(session: "w1"))
            #expect(try await server.cli("get", "{job:2}:drained") == "w1")
        }
    }

    /// Items pushed to every shard are all leased and completed through the sharded backend;
    /// the counts of each shard and their sum agree.
    @Test func itemsOfEveryShardAreLeasedAndCounted() async throws {
        try await LocalRedis.with { server in
            let names = try RedisQueue.shardNames("job", count: 3)
            let queues = try await RedisQueue.connect(names: names, configuration: server.configuration)
            defer { Task { for queue in queues { await queue.close() } } }
            for (index, name) in names.enumerated() {
                try await server.cli(["rpush", name] + (0..<(index + 1) * 5).map { "\(name)-\($0)" })
            }
            let sharded = try ShardedBackend(shards: queues)
            #expect(try await sharded.counts().pending == 30)
            var done = 0
            for _ in 0..<20 where done < 30 {
                let leases = try await sharded.lease(max: 4, session: "s", duration: .seconds(30))
                for lease in leases {
                    let shard = try #require(sharded.shardIndex(of: lease))
                    #expect(lease.item.string.hasPrefix(names[shard]))
                    #expect(try await sharded.complete(lease, result: nil) == .settled)
                }
                done += leases.count
            }
            #expect(done == 30)
            let each = try await sharded.shardCounts()
            #expect(each.map(\.completed) == [5, 10, 15])
            #expect(try await sharded.counts().isDrained)
        }
    }
}

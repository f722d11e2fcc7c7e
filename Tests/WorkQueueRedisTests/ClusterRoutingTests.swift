import Foundation
import NIOCore
import Testing
import WorkQueue
@testable import WorkQueueRedis

/// The cluster client's pure parts: CRC16 and hash slots, redirect replies, the slot map read
/// from CLUSTER SHARDS / CLUSTER SLOTS, the routing rules, the keys of a command, seed lists.
/// No sockets (the cluster suite runs them against a real cluster).
@Suite struct ClusterRoutingTests {
    // MARK: CRC16 and slots

    @Test func crc16IsXmodem() {
        #expect(CRC16.xmodem(Array("123456789".utf8)) == 0x31C3)
        #expect(CRC16.xmodem([UInt8]()) == 0)
        #expect(CRC16.xmodem([0x00]) == 0)
        #expect(CRC16.xmodem([0xFF]) == 0x1EF0)
    }

    @Test(arguments: [
        // Redis' own examples (CLUSTER KEYSLOT docs) and the spec's hash-tag rules.
        ("somekey", 11058), ("foo{hash_tag}", 2515), ("foo", 12182), ("bar", 5061),
        ("{job2}", 15738), ("job2", 15738), ("job2:processing", 9511),
        ("foo{}{bar}", 8363),        // the first {} is empty: the whole key is hashed
        ("foo{{bar}}zap", 4015),     // the tag is "{bar"
        ("foo{bar}{zap}", 5061),     // only the first tag counts: "bar"
        ("{user1000}.following", 3443), ("", 0),
    ])
    func slotsMatchRedis(key: String, slot: Int) {
        #expect(HashSlot.of(key) == slot)
    }

    @Test func hashTags() {
        #expect(HashSlot.hashTag("{job2}") == "job2")
        #expect(HashSlot.hashTag("a{b}c:processing") == "b")
        #expect(HashSlot.hashTag("job2") == nil)
        #expect(HashSlot.hashTag("{}job2") == nil)
        #expect(HashSlot.hashTag("{job2") == nil)
        #expect(HashSlot.of("{job2}:processing") == HashSlot.of("{job2}:leased_by_session:" + String(repeating: "ab", count: 28)))
    }

    @Test func clusterNamesNeedAHashTag() {
        #expect(RedisQueue.clusterNameProblem("{job2}") == nil)
        #expect(RedisQueue.clusterNameProblem("team-a:{job2}") == nil)
        let problem = RedisQueue.clusterNameProblem("job2")
        #expect(problem?.contains("{job2}") == true, "\(problem ?? "")")
        #expect(problem?.contains("job2:processing") == true || problem?.contains("slot") == true)
        #expect(RedisQueue.clusterNameProblem("{}job2")?.contains("{job2}") == true)
    }

    // MARK: Redirects

    @Test func redirectsAreParsed() {
        let node = ClusterNodeAddress(host: "10.0.0.2", port: 7001)
        #expect(ClusterRedirect(reply: "MOVED 3999 10.0.0.2:7001") == .moved(slot: 3999, to: node))
        #expect(ClusterRedirect(reply: "ASK 3999 10.0.0.2:7001") == .ask(slot: 3999, to: node))
        #expect(ClusterRedirect(reply: "MOVED 3999 :7001", from: "10.0.0.2") == .moved(slot: 3999, to: node))
        #expect(ClusterRedirect(reply: "MOVED 3999 [::1]:7001") == .moved(slot: 3999, to: ClusterNodeAddress(host: "::1", port: 7001)))
        #expect(ClusterRedirect(reply: "TRYAGAIN Multiple keys request during rehashing of slot") == .tryAgain)
        #expect(ClusterRedirect(reply: "CLUSTERDOWN The cluster is down") == .clusterDown)
        #expect(ClusterRedirect(reply: "MOVED 99999 10.0.0.2:7001") == nil)
        #expect(ClusterRedirect(reply: "MOVED 1 nohost") == nil)
        #expect(ClusterRedirect(reply: "ERR MOVED 1 a:1") == nil)
        #expect(ClusterRedirect(.bulkString(string: "MOVED 1 a:1")) == nil, "only error replies redirect")
    }

    @Test func crossSlotAndRedirectErrorsArePermanentWithAHint() {
        let crossSlot = RedisError.server("CROSSSLOT Keys in request don't hash to the same slot")
        #expect(crossSlot.kind == .permanent)
        #expect(crossSlot.explained(queue: "job2").contains("{job2}"))
        let moved = RedisError.server("MOVED 3999 127.0.0.1:7001")
        #expect(moved.kind == .permanent)
        #expect(moved.explained(queue: "job2").contains("turn on cluster mode with a queue name that has a hash tag, e.g. {job2}"))
        #expect(RedisError.server("TRYAGAIN Multiple keys request during rehashing of slot").kind == .backOff)
        #expect(RedisError.server("CLUSTERDOWN The cluster is down").kind == .backOff)
        #expect(RedisError.cluster("redirected more than 5 times").kind == .transient)
    }

    // MARK: Slot map

    /// A CLUSTER SHARDS reply as Redis 7.0 sends it in RESP2.
    static func shardsReply(_ shards: [(slots: [Int], nodes: [(port: Int, role: String, health: String)])]) -> RESPValue {
        .array(shards.map { shard in
            .array([
                .bulkString(string: "slots"), .array(shard.slots.map { .integer($0) }),
                .bulkString(string: "nodes"),
                .array(shard.nodes.map { node in
                    .array([
                        .bulkString(string: "id"), .bulkString(string: "id\(node.port)"),
                        .bulkString(string: "port"), .integer(node.port),
                        .bulkString(string: "ip"), .bulkString(string: "127.0.0.1"),
                        .bulkString(string: "endpoint"), .bulkString(string: "127.0.0.1"),
                        .bulkString(string: "role"), .bulkString(string: node.role),
                        .bulkString(string: "replication-offset"), .integer(100),
                        .bulkString(string: "health"), .bulkString(string: node.health),
                    ])
                }),
            ])
        })
    }

    static func node(_ port: Int) -> ClusterNodeAddress { ClusterNodeAddress(host: "127.0.0.1", port: port) }

    @Test func slotMapFromClusterShards() throws {
        let reply = Self.shardsReply([
            ([0, 5460], [(7000, "master", "online"), (7003, "replica", "online")]),
            ([5461, 10922], [(7001, "master", "online"), (7004, "replica", "online")]),
            ([10923, 16000, 16001, 16383], [(7005, "replica", "online"), (7002, "master", "online")]),
        ])
        let map = try ClusterSlotMap.parse(shards: reply, answeredBy: Self.node(7000))
        #expect(map.coveredSlots == HashSlot.count)
        #expect(map.master(ofSlot: 0) == Self.node(7000))
        #expect(map.master(ofSlot: 5461) == Self.node(7001))
        #expect(map.master(ofSlot: 16383) == Self.node(7002))
        #expect(map.master(ofSlot: HashSlot.of("{job2}")) == Self.node(7002))
        #expect(Set(map.replicas) == [Self.node(7003), Self.node(7004), Self.node(7005)])
        #expect(map.allNodes.prefix(3).allSatisfy { map.masters.contains($0) })
    }

    @Test func aFailedMasterInAShardGivesWayToTheOnlineOne() throws {
        let reply = Self.shardsReply([([0, 16383], [(7000, "master", "failed"), (7003, "master", "online")])])
        let map = try ClusterSlotMap.parse(shards: reply, answeredBy: Self.node(7000))
        #expect(map.master(ofSlot: 42) == Self.node(7003))
        #expect(map.replicas == [Self.node(7000)])
    }

    @Test func unknownEndpointsUseTheAnsweringHost() throws {
        let reply: RESPValue = .array([.array([
            .bulkString(string: "slots"), .array([.integer(0), .integer(16383)]),
            .bulkString(string: "nodes"), .array([.array([
                .bulkString(string: "port"), .integer(7000), .bulkString(string: "endpoint"), .bulkString(string: "?"),
                .bulkString(string: "role"), .bulkString(string: "master"),
            ])]),
        ])])
        let map = try ClusterSlotMap.parse(shards: reply, answeredBy: ClusterNodeAddress(host: "redis-0.redis", port: 6379))
        #expect(map.master(ofSlot: 1) == ClusterNodeAddress(host: "redis-0.redis", port: 7000))
    }

    @Test func slotMapFromClusterSlots() throws {
        func nodeEntry(_ port: Int) -> RESPValue { .array([.bulkString(string: "127.0.0.1"), .integer(port), .bulkString(string: "id")]) }
        let reply: RESPValue = .array([
            .array([.integer(0), .integer(8191), nodeEntry(7000), nodeEntry(7002)]),
            .array([.integer(8192), .integer(16383), nodeEntry(7001)]),
        ])
        let map = try ClusterSlotMap.parse(slots: reply, answeredBy: Self.node(7000))
        #expect(map.master(ofSlot: 8191) == Self.node(7000))
        #expect(map.master(ofSlot: 8192) == Self.node(7001))
        #expect(map.replicas == [Self.node(7002)])
    }

    @Test func malformedTopologyRepliesThrow() {
        #expect(throws: RedisError.self) { try ClusterSlotMap.parse(shards: .integer(1), answeredBy: Self.node(1)) }
        #expect(throws: RedisError.self) {
            try ClusterSlotMap.parse(shards: .array([.array([.bulkString(string: "slots")])]), answeredBy: Self.node(1))
        }
        #expect(throws: RedisError.self) { try ClusterSlotMap.parse(slots: .array([.integer(1)]), answeredBy: Self.node(1)) }
    }

    // MARK: Routing rules

    static func router(limits: ClusterRouter.Limits = ClusterRouter.Limits()) -> ClusterRouter {
        let map = ClusterSlotMap(shards: [
            .init(master: node(7000), replicas: [node(7003)], slots: [0...8191]),
            .init(master: node(7001), replicas: [node(7004)], slots: [8192...16383]),
        ])
        return ClusterRouter(seeds: [node(7000), node(9999)], homeSlot: HashSlot.of("{job2}"), map: map, limits: limits)
    }

    @Test func commandsGoToTheirSlotsMasterAndKeylessOnesToTheHomeSlot() {
        let router = Self.router()
        #expect(router.start(.init(slot: 10)) == .send(to: Self.node(7000), asking: false))
        #expect(router.start(.init(slot: 9000)) == .send(to: Self.node(7001), asking: false))
        #expect(HashSlot.of("{job2}") >= 8192)
        #expect(router.start(.init(slot: nil)) == .send(to: Self.node(7001), asking: false))
        let empty = ClusterRouter(seeds: [Self.node(9999)])
        #expect(empty.start(.init(slot: 10)) == .retry(after: .zero, refresh: true))
        #expect(empty.target(forSlot: nil) == Self.node(9999))
        #expect(router.refreshSources == [Self.node(7000), Self.node(7001), Self.node(7003), Self.node(7004), Self.node(9999)])
    }

    @Test func movedUpdatesTheSlotAndWantsARefresh() {
        var router = Self.router()
        var attempt = ClusterRouter.Attempt(slot: 10)
        let step = router.next(after: .redirect(.moved(slot: 10, to: Self.node(7002))), &attempt)
        #expect(step == .send(to: Self.node(7002), asking: false))
        #expect(router.map.master(ofSlot: 10) == Self.node(7002))
        #expect(router.map.master(ofSlot: 11) == Self.node(7000), "only the moved slot changes")
        #expect(router.refreshWanted)
        #expect(attempt.redirects == 1)
        router.install(router.map)
        #expect(!router.refreshWanted)
    }

    @Test func askSendsOnceWithAskingAndLeavesTheMap() {
        var router = Self.router()
        var attempt = ClusterRouter.Attempt(slot: 10)
        let step = router.next(after: .redirect(.ask(slot: 10, to: Self.node(7001))), &attempt)
        #expect(step == .send(to: Self.node(7001), asking: true))
        #expect(router.map.master(ofSlot: 10) == Self.node(7000))
        #expect(!router.refreshWanted)
        // The next command of that slot still starts at the owner.
        #expect(router.start(.init(slot: 10)) == .send(to: Self.node(7000), asking: false))
    }

    @Test func redirectsAreBounded() {
        var router = Self.router(limits: .init(maxRedirects: 5))
        var attempt = ClusterRouter.Attempt(slot: 10)
        for hop in 1...5 {
            let step = router.next(after: .redirect(.moved(slot: 10, to: Self.node(7000 + hop % 2))), &attempt)
            #expect(step == .send(to: Self.node(7000 + hop % 2), asking: false))
        }
        guard case let .fail(error) = router.next(after: .redirect(.ask(slot: 10, to: Self.node(7001))), &attempt) else {
            Issue.record("a sixth redirect must fail")
            return
        }
        #expect(error.kind == .transient)
        #expect(error.description.contains("more than 5"))
    }

    @Test func tryAgainAndClusterDownBackOffBoundedlyThenDeliverTheReply() {
        var router = Self.router(limits: .init(maxRetries: 3, firstDelay: .milliseconds(50), maxDelay: .milliseconds(150)))
        var attempt = ClusterRouter.Attempt(slot: 10)
        #expect(router.next(after: .redirect(.tryAgain), &attempt) == .retry(after: .milliseconds(50), refresh: false))
        #expect(!router.refreshWanted)
        #expect(router.next(after: .redirect(.clusterDown), &attempt) == .retry(after: .milliseconds(100), refresh: true))
        #expect(router.refreshWanted)
        #expect(router.next(after: .redirect(.tryAgain), &attempt) == .retry(after: .milliseconds(150), refresh: false))
        #expect(router.next(after: .redirect(.tryAgain), &attempt) == .deliver)
    }

    @Test func anUnreachableNodeRefreshesAndRetriesBoundedly() {
        var router = Self.router(limits: .init(maxRetries: 2))
        var attempt = ClusterRouter.Attempt(slot: 10)
        let error = RedisError.connectFailed("refused")
        #expect(router.next(after: .unreachable(Self.node(7000), error), &attempt) == .retry(after: .milliseconds(50), refresh: true))
        #expect(router.refreshWanted)
        #expect(router.next(after: .unreachable(Self.node(7000), error), &attempt) == .retry(after: .milliseconds(100), refresh: true))
        #expect(router.next(after: .unreachable(Self.node(7000), error), &attempt) == .fail(error))
    }

    @Test func aLostConnectionFailsTheCommandAndWantsARefresh() {
        var router = Self.router()
        var attempt = ClusterRouter.Attempt(slot: 10)
        let error = RedisError.connectionClosed("127.0.0.1:7000")
        // The command may have run: never sent again by the client itself.
        #expect(router.next(after: .lost(Self.node(7000), error), &attempt) == .fail(error))
        #expect(router.refreshWanted)
    }

    @Test func noNodeForASlotIsBounded() {
        var router = ClusterRouter(seeds: [Self.node(9999)], limits: .init(maxRetries: 1))
        var attempt = ClusterRouter.Attempt(slot: 10)
        #expect(router.noNode(&attempt) == .retry(after: .milliseconds(50), refresh: true))
        guard case .fail = router.noNode(&attempt) else {
            Issue.record("the second refresh without a node must fail")
            return
        }
    }

    // MARK: Command keys

    @Test func commandKeysAreFoundWhereEachCommandHasThem() throws {
        let job = HashSlot.of("{job2}")
        #expect(try ClusterCommandKeys.slot(of: RESPCommand(["LLEN", "{job2}"])) == job)
        #expect(try ClusterCommandKeys.slot(of: RESPCommand(["EVALSHA", "abc", "2", "{job2}", "{job2}:processing", "job2"])) == job)
        #expect(try ClusterCommandKeys.slot(of: RESPCommand(["EVALSHA", "abc", "0", "x"])) == nil)
        #expect(try ClusterCommandKeys.slot(of: RESPCommand(["BLMOVE", "{job2}", "{job2}", "RIGHT", "RIGHT", "1.5"])) == job)
        #expect(try ClusterCommandKeys.slot(of: RESPCommand(["EXISTS", "{job2}:a", "{job2}:b"])) == job)
        #expect(try ClusterCommandKeys.slot(of: RESPCommand(["INFO", "memory"])) == nil)
        #expect(try ClusterCommandKeys.slot(of: RESPCommand(["SCRIPT", "LOAD", "return 1"])) == nil)
        #expect(try ClusterCommandKeys.slot(of: RESPCommand(["GET", "foo"])) == 12182)
        #expect(try ClusterCommandKeys.slot(of: RESPCommand(["PING"])) == nil)
        #expect(throws: RedisError.self) {
            try ClusterCommandKeys.slot(of: RESPCommand(["EVALSHA", "abc", "2", "job2", "job2:processing"]))
        }
        #expect(throws: RedisError.self) { try ClusterCommandKeys.slot(of: RESPCommand(["BLMOVE", "a", "b", "LEFT", "LEFT", "0"])) }
        // Binary keys and a hot-path command built argument by argument.
        var command = RESPCommand(capacity: 64)
        command.append("EVALSHA")
        command.append("sha")
        command.append(1)
        command.append(bytes: [0x7B, 0x00, 0xFF, 0x7D, 0x3A, 0x01])
        command.append(bytes: [UInt8](repeating: 0xAB, count: 5000))
        #expect(try ClusterCommandKeys.slot(of: command) == HashSlot.of([0x00, 0xFF]))
    }

    @Test func everyScriptCallOfTheQueueIsSingleSlot() throws {
        // The key lists RedisQueue passes, for a hash-tagged name: all in the name's slot.
        let keys = RedisKeys("{job2}")
        let slot = HashSlot.of("{job2}")
        for (key, _) in keys.typed { #expect(HashSlot.of(key) == slot, "\(key)") }
        #expect(HashSlot.of(keys.tutorialLease(Array("apple".utf8))) == slot)
    }

    /// Every key a script touches comes from KEYS (none built in Lua, e.g. by concatenation),
    /// so a cluster can route the call by its keys: each `redis.call` names its keys by the
    /// locals the key prelude binds to `KEYS[n]` (``RedisScript/keys``), for two-key commands
    /// both, and nothing else reads KEYS.
    @Test func scriptsTouchOnlyKeysTheyAreGiven() throws {
        let keyless: Set<String> = ["TIME"]
        let twoKeys: Set<String> = ["LMOVE", "RPOPLPUSH", "SMOVE", "RENAME", "COPY"]
        let call = /redis\.call\('([A-Za-z]+)'\s*(?:,([^)]*))?\)/
        // The shared budget routine takes its keys from its callers: every call of it must
        // pass them as named keys (`promote(budget, retry key, list key, now)`).
        let promote = /promote\((?:budget\(.*?\)|[A-Za-z_]+),\s*([^,\s]+),\s*([^,\s]+),/
        // So do the dead-letter functions (`dead_letter(dead, previews, ...)`, `dead_previews(dead,
        // previews, errors, attempts, ...)`) and `record_results(results, results_dropped, ...)`:
        // their callers pass named keys for each key parameter. (`settle` uses the exchange's
        // key locals by name: its calls are checked below with the script's own.)
        let functions: [(text: String, call: Regex<(Substring, Substring)>, keyArguments: Int)] = [
            (RedisScript.deadLetterFunction, /dead_letter\(([^)]*)\)/, 2),
            (RedisScript.deadPreviewsFunction, /dead_page\(([^)]*)\)/, 4),
            (RedisScript.resultsFunction, /record_results\(([^)]*)\)/, 2),
        ]
        for script in RedisScript.all {
            var calls = 0
            let names = Set(script.keys.map(\.row.lua) + script.given)
            let prelude = RedisScript.keyPrelude(script.keys.map(\.row.lua) + script.given)
            #expect(script.source.contains(prelude), "\(script.name): no key prelude")
            #expect(script.source.components(separatedBy: "KEYS[").count - 1 == names.count,
                    "\(script.name) reads KEYS outside its prelude")
            let isKey = { (argument: Substring?) in argument.map { names.contains(String($0)) } ?? false }
            var source = script.source.replacingOccurrences(of: RedisScript.budgetPrelude, with: "")
            for function in functions {
                source = source.replacingOccurrences(of: function.text, with: "")
                for match in source.matches(of: function.call) {
                    calls += 1
                    let arguments = match.output.1.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                    for key in arguments.prefix(function.keyArguments) {
                        #expect(isKey(Substring(key)), "\(script.name): \(match.output.0)")
                    }
                }
            }
            for match in source.matches(of: promote) {
                for key in [match.output.1, match.output.2] {
                    #expect(isKey(key), "\(script.name): \(match.output.0)")
                }
            }
            #expect(source.contains("promote(") == (source.matches(of: promote).count > 0), "\(script.name): promote( not recognized")
            for match in source.matches(of: call) {
                calls += 1
                let command = String(match.output.1).uppercased()
                if keyless.contains(command) { continue }
                let arguments = (match.output.2.map(String.init) ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                // MEMORY USAGE key: the key comes second.
                #expect(isKey((command == "MEMORY" ? arguments.dropFirst().first : arguments.first).map { Substring($0) }),
                        "\(script.name): \(match.output.0)")
                if twoKeys.contains(command) {
                    #expect(isKey(arguments.dropFirst().first.map { Substring($0) }), "\(script.name): \(match.output.0)")
                }
            }
            #expect(calls > 0, "\(script.name) calls Redis")
            #expect(!script.source.contains("redis.pcall"), "\(script.name): pcall is not checked here")
        }
    }

    // MARK: Seeds

    @Test func seedListsInTheURL() throws {
        let deployment = try RedisDeployment.resolve(flag: "redis://u:p,w@10.0.0.1:7000,10.0.0.2:7001,[::1]:7002/0",
                                                     environment: [:], cluster: false)
        guard case let .cluster(seeds) = deployment else {
            Issue.record("several hosts make a cluster: \(deployment)")
            return
        }
        #expect(seeds.map(\.endpoint) == ["10.0.0.1:7000", "10.0.0.2:7001", "[::1]:7002"])
        #expect(seeds.allSatisfy { $0.username == "u" && $0.password == "p,w" })
        #expect(try RedisDeployment.resolve(flag: "redis://h:1", environment: [:], cluster: false)
            == .standalone(RedisConfiguration(host: "h", port: 1)))
        #expect(try RedisDeployment.resolve(flag: nil, environment: ["REDIS_URL": "redis://h:1"], cluster: true)
            == .cluster(seeds: [RedisConfiguration(host: "h", port: 1)]))
        #expect(throws: RedisError.self) { try RedisDeployment.resolve(flag: "redis://a:1,,b:2", environment: [:], cluster: false) }
        #expect(throws: RedisError.self) { try RedisDeployment.resolve(flag: "redis://a:1,b:x", environment: [:], cluster: false) }
    }
}

import Logging
import Synchronization
import Testing
import TestSupport
import WorkQueue
@_spi(Testing) @testable import WorkQueueRedis

/// Nothing lost, nothing stuck, at any size: every reply of the queue is bounded by bytes as
/// well as by count, no script gives up half way on a valid input, no script holds Redis for
/// long, and an item whose copy a `rediswq.py` worker removed still comes back.
@Suite struct BoundsTests {
    static let mebibyte = 1 << 20

    /// A queue whose client refuses any reply above `maxReplyBytes` (as the 512 MiB bound does
    /// for real, at a size a test can reach).
    static func connect(_ server: LocalRedis, _ name: String = "q", maxReplyBytes: Int? = nil,
                        commandTimeout: Duration = .seconds(10), options: RedisQueue.Options = .init()) async throws -> RedisQueue {
        var configuration = server.configuration
        configuration.commandTimeout = commandTimeout
        if let maxReplyBytes { configuration.maxReplyBytes = maxReplyBytes }
        return try await RedisQueue.connect(name: name, configuration: configuration, options: options)
    }

    /// `count` distinct items of `size` bytes each.
    static func bigItems(_ count: Int, size: Int) -> [WorkItem] {
        (0..<count).map { index in WorkItem(Array(repeating: UInt8(ascii: "a") &+ UInt8(index % 26), count: size - 8) + Array("\(100_000_000 + index)".utf8.suffix(8))) }
    }

    /// Script calls that Redis logged as slower than `milliseconds` since the last reset.
    static func slowScripts(_ server: LocalRedis) async throws -> String {
        let log = try await server.cli("slowlog", "get", "20")
        return log.split(whereSeparator: \.isNewline).filter { $0.lowercased().contains("evalsha") }.joined(separator: "\n")
    }

    /// Script calls (`EVALSHA`) Redis has run since its start or the last `CONFIG RESETSTAT`.
    static func scriptCalls(_ server: LocalRedis) async throws -> Int {
        let stats = try await server.cli("info", "commandstats")
        guard let line = stats.split(whereSeparator: \.isNewline).first(where: { $0.hasPrefix("cmdstat_evalsha:calls=") }),
              let calls = Int(line.dropFirst("cmdstat_evalsha:calls=".count).prefix(while: \.isNumber))
        else { return 0 }
        return calls
    }

    /// Watches for script calls over `milliseconds`. The bound is set far above what the rule
    /// under test gives (a few ms) and far below what breaking it gives (seconds), so that a
    /// loaded machine, which stretches every call, does not turn it into a flake.
    static func watchSlowCalls(_ server: LocalRedis, over milliseconds: Int = 250) async throws {
        try await server.cli("config", "set", "slowlog-log-slower-than", "\(milliseconds * 1000)")
        try await server.cli("slowlog", "reset")
    }

    // MARK: Defect 1: replies bounded by bytes

    @Test func aTakeStopsAtItsByteBudgetAndStillTakesEveryItem() async throws {
        try await LocalRedis.with { server in
            let queue = try await Self.connect(server)
            try await queue.enqueue(Self.bigItems(6, size: 3 * Self.mebibyte) + ["small"])
            var taken: [Lease] = []
            for _ in 0..<20 where taken.count < 7 {
                let batch = try await queue.lease(max: 7, session: "a", duration: .seconds(30))
                let bytes = batch.reduce(0) { $0 + $1.item.bytes.count }
                #expect(!batch.isEmpty)
                #expect(batch.count <= 3, "a take of 3 MiB items stops at the 8 MiB budget")
                #expect(bytes < RedisQueue.defaultReplyByteBudget + 3 * Self.mebibyte)
                taken += batch
            }
            #expect(taken.count == 7)
            #expect(taken.last?.item == "small")
            await queue.close()
        }
    }

    @Test func bigItemsAreTakenRecoveredListedAndScannedWithinTheReplyBound() async throws {
        try await LocalRedis.with { server in
            // 12 items of 256 KiB (3 MiB) with a 1 MiB bound on any reply (and a 512 KiB
            // budget for the items of one reply): the real 512 MiB bound, scaled down.
            var options = RedisQueue.Options()
            options.replyByteBudget = Self.mebibyte / 2
            let queue = try await Self.connect(server, maxReplyBytes: Self.mebibyte, options: options)
            let items = Self.bigItems(12, size: Self.mebibyte / 4)
            try await queue.enqueue(items)
            var taken: [Lease] = []
            for _ in 0..<20 where taken.count < 12 {
                taken += try await queue.exchange([], lease: 150, session: "dead", duration: .milliseconds(300)).leases
            }
            #expect(taken.count == 12)
            // The worker died holding them all: one recovery pass returns every one.
            try await Task.sleep(for: .milliseconds(400))
            let report = try await queue.recoverExpiredLeases(maxAttempts: 5)
            #expect(report.requeued == 12)
            #expect(try await queue.counts().pending == 12)

            // Items a rediswq.py worker took and died holding: the orphan scan reads them in pages.
            for _ in 0..<12 { try await server.cli("rpoplpush", "q", "q:processing") }
            let counts = try await queue.countsWithLeases()
            #expect(counts.processing == 12)
            #expect(counts.leased == 0)
            let held = try await queue.heldLeases(limit: 20)
            #expect(held.isEmpty, "no live lease of anyone")
            let orphans = try await queue.unheldItems()
            #expect(orphans.map(\.copies).reduce(0, +) == 12)

            // Dead letters of that size are listed in pages too.
            for _ in 0..<12 { try await server.cli("rpoplpush", "q:processing", "q:dead") }
            let dead = try await queue.deadLetters()
            #expect(dead.count == 12)
            #expect(Set(dead.map(\.item)) == Set(items))
            await queue.close()
        }
    }

    // MARK: Defect 2: a copy removed by a rediswq.py worker

    @Test func anExpiredLeaseWhoseCopyAnotherWorkerRemovedPutsTheItemBack() async throws {
        try await LocalRedis.with { server in
            let queue = try await Self.connect(server, "mix")
            try await queue.enqueue(["x", "x"])
            _ = try #require(try await queue.lease(max: 1, session: "ours", duration: .milliseconds(300)).first)
            // What rediswq.py does with the other copy: take, lease key, complete with LREM ... 0,
            // which removes its own copy alone: our lease has no entry in processing.
            #expect(try await server.cli("rpoplpush", "mix", "mix:processing") == "x")
            try await server.cli("setex", "mix:leased_by_session:" + SHA224.hex(Array("x".utf8)), "600", "tutorial")
            #expect(try await server.cli("lrem", "mix:processing", "0", "x") == "1", "the tutorial worker's copy alone")
            try await server.cli("del", "mix:leased_by_session:" + SHA224.hex(Array("x".utf8)))
            // Our worker dies; its lease expires.
            try await Task.sleep(for: .milliseconds(400))
            let report = try await queue.recoverExpiredLeases(maxAttempts: 5)
            #expect(report.requeued == 1, "at least once beats lost")
            #expect(try await server.cli("lrange", "mix", "0", "-1") == "x")
            #expect(try await queue.counts().processing == 0)
            await queue.close()
        }
    }

    // MARK: Defect 4: any number of settlements

    @Test func twentyThousandSettlementsInOneCallAllSettleInCallsOfAtMostSettlementsPerCall() async throws {
        try await LocalRedis.with { server in
            let queue = try await Self.connect(server)
            try await queue.enqueue((0..<20_000).map { WorkItem("item-\($0)") })
            var leases: [Lease] = []
            for _ in 0..<40 where leases.count < 20_000 {
                leases += try await queue.lease(max: 1000, session: "w", duration: .seconds(60))
            }
            #expect(leases.count == 20_000)
            try await server.cli("config", "resetstat")
            let result = try await queue.exchange(leases.map { .complete($0, result: "done") }, lease: 0, session: "w",
                                                  duration: .seconds(60))
            #expect(result.outcomes.count == 20_000)
            #expect(result.outcomes.allSatisfy { $0 == .settled })
            #expect(try await queue.counts().isDrained)
            #expect(try await server.cli("get", "q:completed") == "20000")
            #expect(try await server.cli("xlen", "q:results") == "20000")
            // At most settlementsPerCall (1000) settlements a script call (each call's Redis time
            // stays a few ms; the chaos suite's SLOWLOG check and scripts/bench time them, not
            // this test).
            #expect(try await Self.scriptCalls(server) >= 20_000 / RedisQueue.settlementsPerCall)
            await queue.close()
        }
    }

    // MARK: Defect 5: Redis time per call

    @Test func releasingAThousandItemsBehindALongProcessingListHoldsRedisBriefly() async throws {
        try await LocalRedis.with { server in
            let queue = try await Self.connect(server)
            try await queue.enqueue((0..<41_000).map { WorkItem("item-\($0)") })
            // Other workers hold 40,000 items; ours took the last 1,000 (its buffer).
            for _ in 0..<40 { _ = try await queue.lease(max: 1000, session: "other", duration: .seconds(60)) }
            let buffer = try await queue.lease(max: 1000, session: "w", duration: .seconds(60))
            #expect(buffer.count == 1000)
            try await Self.watchSlowCalls(server)
            // SIGTERM: the buffer goes back, last first, in one exchange.
            let result = try await queue.exchange(buffer.reversed().map { .release($0) }, lease: 0, session: "w",
                                                  duration: .seconds(60))
            #expect(result.outcomes.allSatisfy { $0 == .settled })
            #expect(try await queue.counts().pending == 1000)
            #expect(try await server.cli("lindex", "q", "0") == "item-40000", "back at the head, in order")
            let slow = try await Self.slowScripts(server)
            #expect(slow.isEmpty, "a script call over 250 ms: \(slow)")
            await queue.close()
        }
    }

    @Test func retryingAHundredThousandDeadLettersHoldsRedisBriefly() async throws {
        try await LocalRedis.with { server in
            let queue = try await Self.connect(server)
            for start in stride(from: 0, to: 100_000, by: 10_000) {
                try await server.cli(["rpush", "q:dead"] + (start..<start + 10_000).map { "dead-\($0)" })
            }
            try await server.cli("config", "resetstat")
            #expect(try await queue.retryDeadLetters() == 100_000)
            #expect(try await queue.counts().pending == 100_000)
            #expect(try await server.cli("lindex", "q", "0") == "dead-0", "oldest first")
            // A page of at most 1000 items a script call.
            #expect(try await Self.scriptCalls(server) >= 100_000 / 1000)
            await queue.close()
        }
    }

    // MARK: Lost replies and retried takes

    /// A worker's exchange record (`NAME:exchanges`, kept to answer a retried call) goes with
    /// its clean exit, heartbeats or not: with `--heartbeat-seconds 0` nothing else removes it.
    @Test(arguments: [true, false])
    func aCleanExitLeavesNoExchangeRecord(heartbeats: Bool) async throws {
        try await LocalRedis.with { server in
            let queue = try await Self.connect(server)
            try await queue.enqueue(["a", "b", "c"])
            var options = WorkerOptions()
            options.idlePollInterval = .milliseconds(5)
            if !heartbeats { options.heartbeatInterval = nil }
            let summary = try await Worker(backend: queue, handler: EchoHandler(), options: options).runUntilStopped()
            #expect(summary.completed == 3)
            #expect(try await server.cli("hlen", "q:exchanges") == "0")
            await queue.close()
        }
    }

    @Test func aRetryAfterALostReplyReportsTheSettlementsItAppliedAsSettled() async throws {
        try await LocalRedis.with { server in
            let queue = try await Self.connect(server)
            try await queue.enqueue(["a", "b", "c"])
            let leases = try await queue.lease(max: 2, session: "w", duration: .seconds(30))
            #expect(leases.count == 2)
            let settlements: [Settlement] = leases.map { .complete($0, result: nil) }
            queue.faultInjection = .init(dropConnectionAfterTake: true)
            await #expect(throws: (any Error).self) {
                _ = try await queue.exchange(settlements, lease: 1, session: "w", duration: .seconds(30))
            }
            queue.faultInjection = .init()
            let retried = try await queue.exchange(settlements, lease: 1, session: "w", duration: .seconds(30))
            #expect(retried.outcomes == [.settled, .settled], "applied by the call whose reply was lost")
            #expect(retried.leases.map(\.item) == ["c"], "the same take handed back, nothing more taken")
            #expect(try await server.cli("get", "q:completed") == "2")
            await queue.close()
        }
    }

    @Test func aLostReplyInTheMiddleOfAChunkedExchangeIsAnsweredWhole() async throws {
        try await LocalRedis.with { server in
            let queue = try await Self.connect(server)
            let perCall = RedisQueue.settlementsPerCall
            let total = 2 * perCall + 300
            try await queue.enqueue((0..<total).map { WorkItem("i\($0)") })
            var leases: [Lease] = []
            for _ in 0..<((total + 999) / 1000) { leases += try await queue.lease(max: 1000, session: "w", duration: .seconds(30)) }
            #expect(leases.count == total)
            // Settled in three script calls of at most settlementsPerCall; the second one's reply is lost.
            let settlements: [Settlement] = leases.map { .complete($0, result: nil) }
            queue.faultInjection = .init(loseExchangeReply: 2)
            await #expect(throws: (any Error).self) {
                _ = try await queue.exchange(settlements, lease: 0, session: "w", duration: .seconds(30))
            }
            #expect(try await server.cli("get", "q:completed") == "\(2 * perCall)")
            let retried = try await queue.exchange(settlements, lease: 0, session: "w", duration: .seconds(30))
            #expect(retried.outcomes.count == total)
            #expect(retried.outcomes.allSatisfy { $0 == .settled })
            #expect(try await server.cli("get", "q:completed") == "\(total)")
            // Another call is not mistaken for the retried one.
            try await queue.enqueue(["late"])
            let late = try #require(try await queue.lease(max: 1, session: "w", duration: .seconds(30)).first)
            #expect(try await queue.complete(late, result: nil) == .settled)
            #expect(try await queue.counts().isDrained)
            await queue.close()
        }
    }

    @Test func aRetriedTakeHandsItsLeasesBackExtended() async throws {
        try await LocalRedis.with { server in
            let queue = try await Self.connect(server)
            try await queue.enqueue(["a"])
            queue.faultInjection = .init(dropConnectionAfterTake: true)
            await #expect(throws: (any Error).self) {
                _ = try await queue.exchange([], lease: 1, session: "w", duration: .milliseconds(300))
            }
            queue.faultInjection = .init()
            try await Task.sleep(for: .milliseconds(400))
            // The retry comes after the first call's lease ran out: it gets a full lease again.
            let retried = try await queue.exchange([], lease: 1, session: "w", duration: .seconds(30))
            #expect(retried.leases.map(\.item) == ["a"])
            let report = try await queue.recoverExpiredLeases(maxAttempts: 5)
            #expect(report.requeued == 0, "the lease handed out is alive")
            #expect(try await queue.renew(retried.leases, duration: .seconds(30)) == [true])
            await queue.close()
        }
    }

    // MARK: Defect 6: renewal rides out a stall shorter than two thirds of the lease

    @Test func aStallOfMoreThanHalfTheLeaseCostsNoDuplicate() async throws {
        try await LocalRedis.with { server in
            // The recipe at a tenth of its scale: a 3 s lease renewed every second, a reply
            // timeout of 1.5 s, and a stall of 1.8 s (60% of the lease) that starts just before
            // the second renewal: that renewal times out, and a worker that waited for the
            // next beat to try again would find its lease lapsed.
            let queue = try await Self.connect(server, commandTimeout: .milliseconds(1_500))
            try await queue.enqueue(["a"])
            let handler = SlowHandler()
            var options = WorkerOptions()
            options.leaseDuration = .seconds(3)
            options.recoveryInterval = .milliseconds(200)
            options.heartbeatInterval = nil
            options.backendRetryBudget = .seconds(10)
            let worker = try Worker(backend: queue, handler: handler, options: options)
            let run = Task { try await worker.runUntilStopped() }
            try await Task.sleep(for: .milliseconds(1_900))
            try await server.cli("client", "pause", "1800", "all")
            let summary = try await run.value
            #expect(handler.runs.withLock { $0 } == 1, "the item ran once")
            #expect(summary.leaseLost == 0)
            #expect(summary.completed == 1)
            await queue.close()
        }
    }
}

// MARK: Issue 26, defect 4: every script that moves items is bounded

/// Every script in the registry (`RedisScript.all`) declares its bound; every one declared
/// `budgeted` is driven here with huge items (40 of 256 KiB, against a 1 MiB budget) and with
/// thousands of small ones, and one call may move at most what its bound allows: counted by
/// the items each call moved (state before and after one call) and by script calls, not by
/// wall time. A script added to the registry without a bound, or budgeted without a driver
/// here, fails.
@Suite struct ScriptBoundTests {
    typealias Driver = @Sendable (LocalRedis) async throws -> Void
    static let kibibytes256 = 256 << 10
    static let budget = 1 << 20
    /// The most items of 256 KiB one budgeted call may move: the budget, plus the one that crosses it.
    static let mostHuge = budget / kibibytes256 + 1

    /// The drivers of the scripts that move items (budgeted, or moving what they are given),
    /// by script name.
    static let drivers: [String: Driver] = [
        "exchange": exchange,
        "expired-leases": expiredLeases,
        "requeue-expired": requeueExpired,
        "retry-dead": retryDead,
        "retry-one-dead": retryOneDead,
        "recover-orphan": recoverOrphan,
        "guarded-push": guardedPush,
        "push-with-options": pushWithOptions,
        "cancel": cancel,
        "restore-cancelled": restoreCancelled,
    ]

    /// Commands that read items out of a key or move them between keys: a script declared
    /// `noItems` uses none, one declared `itemsItIsGiven` reads none out of a key.
    static let movingCommands = ["LMOVE", "RPOPLPUSH", "LPOP", "RPOP", "LRANGE", "LINDEX", "SORT", "HVALS", "HGETALL"]
    static let writingCommands = ["RPUSH", "LPUSH", "LINSERT", "LSET"]

    @Test func everyRegisteredScriptDeclaresABoundAndEveryBudgetedOneIsDriven() {
        for script in RedisScript.all {
            let bound = script.bound
            let source = script.source.uppercased()
            let quoted = { (command: String) in source.contains("'\(command)'") }
            switch bound {
            case .noItems:
                for command in Self.movingCommands + Self.writingCommands {
                    #expect(!quoted(command), "\(script.name) is declared noItems but calls \(command)")
                }
            case .itemsItIsGiven:
                for command in Self.movingCommands {
                    #expect(!quoted(command), "\(script.name) is declared itemsItIsGiven but reads items with \(command)")
                }
                #expect(Self.drivers[script.name] != nil, "no driver in ScriptBoundTests for script \(script.name)")
            case .budgeted:
                #expect(script.source.hasPrefix(RedisScript.budgetPrelude), "\(script.name) does not go through the shared budget")
                let body = script.source.dropFirst(RedisScript.budgetPrelude.count)
                #expect(body.contains("promote(") || (body.contains("room(") && body.contains("spend(")),
                        "\(script.name) is declared budgeted but never calls room/spend or promote")
                #expect(Self.probes[script.name] != nil, "no probe for budgeted script \(script.name)")
                #expect(Self.drivers[script.name] != nil, "no driver in ScriptBoundTests for budgeted script \(script.name)")
            case .pagedElsewhere:
                break
            }
        }
        #expect(Set(Self.drivers.keys).isSubset(of: Set(RedisScript.all.map(\.name))))
    }

    @Test(arguments: ["exchange", "expired-leases", "requeue-expired", "retry-dead", "retry-one-dead", "recover-orphan",
                      "guarded-push", "push-with-options", "cancel", "restore-cancelled"])
    func aBudgetedScriptMovesAtMostItsBoundPerCall(_ name: String) async throws {
        let driver = try #require(Self.drivers[name])
        try await LocalRedis.with { server in
            try await BoundsTests.watchSlowCalls(server)
            try await driver(server)
            let slow = try await Self.slowCalls(server)
            #expect(slow.isEmpty, "script calls over 250 ms: \(slow)")
        }
    }

    // MARK: One test for every budgeted script

    /// One call of a budgeted script, prepared: `prepare` puts `items` where the script takes
    /// items from and returns that one call, made with a count of at most 1000 and the byte
    /// budget ``budget``.
    struct Probe: Sendable {
        let prepare: @Sendable (LocalRedis, RedisQueue, [WorkItem]) async throws -> @Sendable () async throws -> Void
    }

    /// A probe for every script declared ``RedisScript/Bound/budgeted(_:)``, by name: a budgeted
    /// script registered without one fails ``everyBudgetedScriptMovesAtMostItsBudgetInOneCall()``.
    static let probes: [String: Probe] = [
        "exchange": Probe { _, queue, items in
            try await scheduleDueRetries(queue, items)
            return { _ = try await queue.exchange([], lease: 1000, session: "w", duration: .seconds(60)) }
        },
        "expired-leases": Probe { _, queue, items in
            try await scheduleDueRetries(queue, items)
            return { _ = try await queue.run(.expiredLeases, args: ["w", "0", "1000", RESPArgument(budget)]) }
        },
        "requeue-expired": Probe { _, queue, items in
            try await queue.enqueue(items)
            var leases: [Lease] = []
            for _ in 0..<100 where leases.count < items.count {
                leases += try await queue.lease(max: 1000, session: "gone", duration: .milliseconds(20))
            }
            try await Task.sleep(for: .milliseconds(50))
            var args: [RESPArgument] = [RESPArgument(5), RESPArgument(RedisQueue.expiredLeaseError), RESPArgument(budget)]
            for lease in leases.prefix(1000) {
                args.append(RESPArgument(lease.token))
                args.append(RESPArgument(SHA224.hex(lease.item.bytes)))
            }
            let given = args
            return { _ = try await queue.run(.requeueExpired, args: given) }
        },
        "retry-dead": Probe { server, queue, items in
            try await queue.enqueue(items)
            try await server.cli("eval", "while redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT') do end", "2", "q", "q:dead")
            let hashes = items.prefix(1000).map { RESPArgument(SHA224.hex($0.bytes)) }
            return { _ = try await queue.run(.retryDead, args: [RESPArgument(hashes.count), "0", RESPArgument(budget)] + hashes) }
        },
        "cancel": Probe { _, queue, items in
            try await queue.enqueue(items)
            return { _ = try await queue.run(.cancel, args: [RESPArgument(1000), RESPArgument(budget), "1"]) }
        },
        "restore-cancelled": Probe { server, queue, items in
            try await queue.enqueue(items)
            try await server.cli("eval", "while redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT') do end", "2", "q", "q:cancelled")
            return { _ = try await queue.run(.restoreCancelled, args: [RESPArgument(1000), RESPArgument(budget), "0", "", "0"]) }
        },
    ]

    /// Commands that move one item between keys, or push or pop one: what a budgeted call
    /// does per item it moves (a promotion is a push, a take a move: at most two per item).
    static let perItemCommands = ["lmove", "rpoplpush", "rpush", "lpush", "lpop", "rpop"]

    /// Every registered script declared budgeted, driven with huge items (40 of 256 KiB against
    /// a budget of 1 MiB) and with many small ones (3,000, against a count of 1,000): its one
    /// call (one `EVALSHA`) moves at least one item and at most the budget's worth, counted by
    /// the commands Redis ran for it (`INFO commandstats` counts those a script calls), not by
    /// time.
    @Test func everyBudgetedScriptMovesAtMostItsBudgetInOneCall() async throws {
        let budgeted = RedisScript.all.filter { if case .budgeted = $0.bound { true } else { false } }
        #expect(budgeted.count >= 6)
        try await LocalRedis.with { server in
            for script in budgeted {
                guard let probe = Self.probes[script.name] else {
                    Issue.record("no probe in ScriptBoundTests.probes for budgeted script \(script.name)")
                    continue
                }
                for (items, most) in [(BoundsTests.bigItems(40, size: Self.kibibytes256), Self.mostHuge), (Self.smallItems(3000, "s"), 1000)] {
                    try await server.cli("flushall")
                    let queue = try await Self.connect(server)
                    let call = try await probe.prepare(server, queue, items)
                    try await server.cli("config", "resetstat")
                    try await call()
                    let stats = try await Self.commandCalls(server)
                    let size = items[0].bytes.count
                    #expect(stats["evalsha"] == 1, "\(script.name): \(stats["evalsha"] ?? 0) calls")
                    let moves = Self.perItemCommands.reduce(0) { $0 + stats[$1, default: 0] }
                    #expect(moves >= 1 && moves <= 2 * most,
                            "\(script.name) moved \(moves) items of \(size) bytes in one call (at most \(2 * most) commands)")
                    await queue.close()
                }
            }
        }
    }

    /// `INFO commandstats` as command -> calls.
    static func commandCalls(_ server: LocalRedis) async throws -> [String: Int] {
        var calls: [String: Int] = [:]
        for line in try await server.cli("info", "commandstats").split(whereSeparator: \.isNewline) {
            guard line.hasPrefix("cmdstat_"), let colon = line.firstIndex(of: ":") else { continue }
            let name = String(line[line.index(line.startIndex, offsetBy: 8)..<colon])
            let value = line[colon...].dropFirst("calls=".count + 1).prefix(while: \.isNumber)
            calls[name] = Int(value)
        }
        return calls
    }

    /// The script calls SLOWLOG holds, as `<script name> <ms>`.
    static func slowCalls(_ server: LocalRedis) async throws -> [String] {
        let lines = try await server.cli("slowlog", "get", "100").split(whereSeparator: \.isNewline).map(String.init)
        let names = Dictionary(RedisScript.all.map { ($0.sha1, $0.name) }, uniquingKeysWith: { first, _ in first })
        return lines.indices.compactMap { index in
            guard lines[index].uppercased() == "EVALSHA", index > 0, index + 1 < lines.count,
                  let micros = Int(lines[index - 1]) else { return nil }
            return "\(names[lines[index + 1]] ?? lines[index + 1]) \(micros / 1000) ms"
        }
    }

    static func connect(_ server: LocalRedis, maxItemBytes: Int? = nil) async throws -> RedisQueue {
        var options = RedisQueue.Options()
        options.replyByteBudget = budget
        if let maxItemBytes { options.maxItemBytes = maxItemBytes }
        return try await BoundsTests.connect(server, options: options)
    }

    static func int(_ server: LocalRedis, _ arguments: String...) async throws -> Int {
        Int(try await server.cli(arguments).trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }

    /// Leases `items` and fails each with a retry due at once: they wait in `NAME:retry`.
    static func scheduleDueRetries(_ queue: RedisQueue, _ items: [WorkItem]) async throws {
        try await queue.enqueue(items)
        var leases: [Lease] = []
        for _ in 0..<100 where leases.count < items.count {
            leases += try await queue.lease(max: 1000, session: "setup", duration: .seconds(60))
        }
        let outcomes = try await queue.exchange(leases.map { .fail($0, error: "again", disposition: .retry(after: .zero)) },
                                                lease: 0, session: "setup", duration: .seconds(60)).outcomes
        #expect(outcomes.count == items.count && outcomes.allSatisfy { $0 == .settled })
        try await Task.sleep(for: .milliseconds(5))
    }

    static func smallItems(_ count: Int, _ tag: String) -> [WorkItem] { (0..<count).map { WorkItem("\(tag)-\($0)") } }

    /// The take's promotion of due retries, the take of oversize items, and settlements.
    static let exchange: Driver = { server in
        let queue = try await connect(server)
        // Huge due retries: one take promotes and takes at most its budget.
        try await scheduleDueRetries(queue, BoundsTests.bigItems(40, size: kibibytes256))
        #expect(try await int(server, "zcard", "q:retry") == 40)
        var taken = try await queue.exchange([], lease: 1000, session: "w", duration: .seconds(60)).leases
        let promoted = try await 40 - int(server, "zcard", "q:retry")
        #expect(promoted >= 1 && promoted <= mostHuge, "one take promoted \(promoted) items of 256 KiB")
        #expect(taken.count >= 1 && taken.count <= mostHuge)
        // Every one still comes, call by call.
        for _ in 0..<100 where taken.count < 40 {
            taken += try await queue.exchange([], lease: 1000, session: "w", duration: .seconds(60)).leases
        }
        #expect(taken.count == 40)
        // Settling them: each call carries at most the budget of items (after one).
        try await server.cli("config", "resetstat")
        let outcomes = try await queue.exchange(taken.map { .release($0) }, lease: 0, session: "w", duration: .seconds(60)).outcomes
        #expect(outcomes.allSatisfy { $0 == .settled })
        #expect(try await BoundsTests.scriptCalls(server) >= (40 + mostHuge - 1) / mostHuge)
        try await server.cli("del", "q")

        // Oversize items (256 KiB over a 64 KiB limit): one take dead-letters at most its budget.
        let limited = try await connect(server, maxItemBytes: 64 << 10)
        try await queue.enqueue(BoundsTests.bigItems(20, size: kibibytes256) + ["small"])
        let first = try await limited.exchange([], lease: 1000, session: "w", duration: .seconds(60))
        let dead = try await int(server, "llen", "q:dead")
        #expect(dead >= 1 && dead <= mostHuge, "one take dead-lettered \(dead) items of 256 KiB")
        #expect(first.leases.isEmpty)
        #expect(try await int(server, "llen", "q:processing") == 0, "no copy of a dead-lettered item stays in processing")
        var rest: [Lease] = []
        for _ in 0..<100 where rest.isEmpty {
            rest += try await limited.exchange([], lease: 1000, session: "w", duration: .seconds(60)).leases
        }
        #expect(rest.map(\.item) == ["small"])
        #expect(try await int(server, "llen", "q:dead") == 20)
        _ = try await queue.exchange(rest.map { .complete($0, result: nil) }, lease: 0, session: "w", duration: .seconds(60))
        await limited.close()

        // Thousands of small due retries: at most the take's count a call.
        try await scheduleDueRetries(queue, smallItems(3000, "s"))
        let small = try await queue.exchange([], lease: 1000, session: "w", duration: .seconds(60)).leases
        let left = try await int(server, "zcard", "q:retry")
        #expect(small.count == 1000)
        #expect(left == 2000, "one take promoted \(3000 - left) small items for a take of 1000")
        await queue.close()
    }

    /// Recovery's promotion of due retries.
    static let expiredLeases: Driver = { server in
        let queue = try await connect(server)
        try await scheduleDueRetries(queue, BoundsTests.bigItems(40, size: kibibytes256))
        try await server.cli("config", "resetstat")
        #expect(try await queue.promoteDueRetries() == 40)
        let calls = try await BoundsTests.scriptCalls(server)
        #expect(calls >= (40 + mostHuge - 1) / mostHuge, "40 items of 256 KiB promoted in \(calls) calls")
        try await server.cli("del", "q")
        try await scheduleDueRetries(queue, smallItems(3000, "s"))
        try await server.cli("config", "resetstat")
        #expect(try await queue.promoteDueRetries() == 3000)
        #expect(try await BoundsTests.scriptCalls(server) >= 3)
        #expect(try await int(server, "llen", "q") == 3000)
        await queue.close()
    }

    /// Recovery's requeue of expired leases: one call given every lease handles at most its budget.
    static let requeueExpired: Driver = { server in
        let queue = try await connect(server)
        for (items, most) in [(BoundsTests.bigItems(40, size: kibibytes256), mostHuge), (smallItems(3000, "s"), 1000)] {
            try await queue.enqueue(items)
            var leases: [Lease] = []
            for _ in 0..<100 where leases.count < items.count {
                leases += try await queue.lease(max: 1000, session: "dead", duration: .milliseconds(50))
            }
            try await Task.sleep(for: .milliseconds(100))
            let given = Array(leases.prefix(1000))
            var args: [RESPArgument] = [RESPArgument(5), RESPArgument(RedisQueue.expiredLeaseError), RESPArgument(budget)]
            for lease in given {
                args.append(RESPArgument(lease.token))
                args.append(RESPArgument(SHA224.hex(lease.item.bytes)))
            }
            let reply = try await queue.run(.requeueExpired,
                                            args: args)
            let counts = reply.array?.compactMap(\.int) ?? []
            #expect(counts.count == 3)
            let moved = counts.first ?? -1
            #expect(moved >= 1 && moved <= most, "one call requeued \(moved) items")
            #expect(counts.last == moved, "every lease handled was requeued")
            // The rest, through the runner's path.
            let report = try await queue.recoverExpiredLeases(maxAttempts: 5)
            #expect(report.requeued == items.count - moved)
            #expect(try await int(server, "llen", "q") == items.count)
            #expect(try await int(server, "llen", "q:processing") == 0)
            try await server.cli("del", "q")
        }
        await queue.close()
    }

    /// `dead retry`: one call given every dead letter moves at most its budget.
    static let retryDead: Driver = { server in
        let queue = try await connect(server)
        for (items, most) in [(BoundsTests.bigItems(40, size: kibibytes256), mostHuge), (smallItems(3000, "s"), 1000)] {
            try await queue.enqueue(items)
            try await server.cli("eval", "while redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT') do end", "2", "q", "q:dead")
            let reply = try await queue.run(.retryDead,
                                            args: [RESPArgument(items.count), "0", RESPArgument(budget)]
                                                + items.prefix(1000).map { RESPArgument(SHA224.hex($0.bytes)) })
            let moved = reply.int ?? -1
            #expect(moved >= 1 && moved <= most, "one call moved \(moved) dead letters")
            #expect(try await queue.retryDeadLetters() == items.count - moved)
            #expect(try await int(server, "llen", "q") == items.count)
            #expect(try await int(server, "llen", "q:dead") == 0)
            try await server.cli("del", "q")
        }
        await queue.close()
    }

    /// A page of a cancel: pending items, then scheduled retries, within one budget.
    static let cancel: Driver = { server in
        let queue = try await connect(server)
        let big = BoundsTests.bigItems(12, size: kibibytes256)
        for (pending, scheduled, most) in [(big, [WorkItem](), mostHuge), (smallItems(3000, "s"), [], 1000),
                                           ([], big, mostHuge)] {
            if !scheduled.isEmpty {
                // Scheduled retries, as a failure writes them: `<16 hex digits>:<item>`.
                try await queue.enqueue(scheduled)
                try await server.cli("eval", """
                    local i = 0
                    while true do
                      local item = redis.call('LPOP', KEYS[1])
                      if not item then break end
                      redis.call('ZADD', KEYS[2], 1, string.format('%016x:', i) .. item)
                      i = i + 1
                    end
                    """, "2", "q", "q:retry")
            }
            if !pending.isEmpty { try await queue.enqueue(pending) }
            let total = pending.count + scheduled.count
            let reply = try await queue.run(.cancel,
                                            args: [RESPArgument(1000), RESPArgument(budget), "1"])
            let moved = reply.array?.first?.int ?? -1
            #expect(moved >= 1 && moved <= most, "one cancel call moved \(moved) items")
            #expect(try await int(server, "llen", "q:cancelled") == moved)
            #expect(try await int(server, "llen", "q") + int(server, "zcard", "q:retry") == total - moved)
            try await server.cli("del", "q", "q:retry", "q:cancelled", "q:control")
        }
        await queue.close()
    }

    /// A page of a restore: items aside back to pending, within the budget.
    static let restoreCancelled: Driver = { server in
        let queue = try await connect(server)
        for (items, most) in [(BoundsTests.bigItems(40, size: kibibytes256), mostHuge), (smallItems(3000, "s"), 1000)] {
            try await queue.enqueue(items)
            try await server.cli("eval", "while redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT') do end", "2", "q", "q:cancelled")
            let reply = try await queue.run(.restoreCancelled,
                                            args: [RESPArgument(1000), RESPArgument(budget), "0", "", "0"])
            let moved = reply.array?.first?.int ?? -1
            #expect(moved >= 1 && moved <= most, "one restore call moved \(moved) items")
            #expect(try await int(server, "llen", "q") == moved)
            #expect(try await int(server, "llen", "q:cancelled") == items.count - moved)
            try await server.cli("del", "q", "q:cancelled")
        }
        await queue.close()
    }

    /// The dashboard's retry of one dead letter: one call moves the one item it is given,
    /// however many and however big the others.
    static let retryOneDead: Driver = { server in
        let queue = try await connect(server)
        let huge = BoundsTests.bigItems(1, size: kibibytes256)[0]
        try await queue.enqueue(smallItems(1500, "a") + [huge] + smallItems(1500, "b") + BoundsTests.bigItems(8, size: kibibytes256))
        try await server.cli("eval", "while redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT') do end", "2", "q", "q:dead")
        #expect(try await queue.retryDeadLetter(huge.bytes, near: 1500) == .moved)
        #expect(try await int(server, "llen", "q") == 1)
        #expect(try await int(server, "llen", "q:dead") == 3008)
        #expect(try await queue.retryDeadLetter(Array("a-7".utf8), near: 7) == .moved)
        #expect(try await int(server, "llen", "q") == 2)
        await queue.close()
    }

    /// Recovery of an item a `rediswq.py` worker left in processing: one call moves one copy.
    static let recoverOrphan: Driver = { server in
        let queue = try await connect(server)
        let huge = BoundsTests.bigItems(1, size: kibibytes256)[0]
        try await queue.enqueue([huge, huge] + smallItems(3000, "s"))
        try await server.cli("eval", "while redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT') do end", "2", "q", "q:processing")
        let k = queue.keys
        for item in [huge, WorkItem("s-9")] {
            let hash = SHA224.hex(item.bytes)
            let reply = try await queue.run(.recoverOrphan, given: [k.tutorialLeasePrefix + hash],
                                            args: [RESPArgument(item.bytes), RESPArgument(hash), RESPArgument(5),
                                                   RESPArgument(RedisQueue.expiredLeaseError), RESPArgument(0)])
            #expect(reply.int == 1)
        }
        #expect(try await int(server, "llen", "q") == 2, "one copy each")
        #expect(try await int(server, "llen", "q:processing") == 3000)
        await queue.close()
    }

    /// A producer's guarded push: one call moves the items it is given, no more.
    static let guardedPush: Driver = { server in
        let queue = try await connect(server)
        for (items, count) in [(BoundsTests.bigItems(4, size: kibibytes256), 4), (smallItems(3000, "s"), 3004)] {
            let reply = try await queue.run(.guardedPush, args: items.map { RESPArgument($0.bytes) })
            #expect(reply.int == count)
        }
        await queue.close()
    }
}

extension ScriptBoundTests {
    /// A producer's push with options: one call moves the items it is given, no more (the
    /// producer sends at most 1000 a call), and prunes at most 1000 ended uniqueness windows
    /// however many there are.
    static let pushWithOptions: Driver = { server in
        let queue = try await connect(server)
        // 3000 ended windows: one call prunes 1000 of them.
        try await server.cli("eval", "for i = 1, 3000 do redis.call('ZADD', KEYS[1], 1, 'old-' .. i) end", "1", "q:unique")
        let small = smallItems(3000, "s")
        for (items, count) in [(BoundsTests.bigItems(4, size: kibibytes256), 4), (Array(small[..<1000]), 1004)] {
            let report = try await queue.push(items, options: EnqueueOptions(uniqueWindow: .seconds(60)))
            #expect(report?.pending == count)
        }
        #expect(try await int(server, "zcard", "q:unique") == 1000 + 1004, "two calls pruned 2000 ended windows")
        for part in [small[1000..<2000], small[2000...]] {
            _ = try await queue.push(Array(part), options: EnqueueOptions(uniqueWindow: .seconds(60)))
        }
        #expect(try await int(server, "zcard", "q:unique") == 3004, "the third call pruned the rest")
        let delayed = try await queue.push(smallItems(1000, "d"), options: EnqueueOptions(delay: .seconds(60)))
        #expect(delayed == EnqueueReport(pushed: 1000, skipped: 0, pending: 3004))
        #expect(try await int(server, "zcard", "q:retry") == 1000)
        await queue.close()
    }
}

/// A handler that returns its item.
struct EchoHandler: WorkHandler {
    func handle(_ item: WorkItem, context: WorkContext) async throws -> String? { item.string }
}

/// A handler that counts its runs and takes 5 s per item.
final class SlowHandler: WorkHandler {
    let runs = Mutex(0)
    func handle(_ item: WorkItem, context: WorkContext) async throws -> String? {
        runs.withLock { $0 += 1 }
        try await Task.sleep(for: .seconds(5))
        return nil
    }
}

/// The idle poll when Redis refuses writes: a worker waiting for work must not spin.
@Suite struct IdlePollTests {
    @Test func anIdleWorkerDoesNotSpinWhileRedisAnswersOOM() async throws {
        try await LocalRedis.with { server in
            let queue = try await RedisQueue.connect(name: "q", configuration: server.configuration)
            // An item another worker holds: the queue is not drained, nothing is pending.
            try await queue.enqueue(["held"])
            _ = try await queue.lease(max: 1, session: "other", duration: .seconds(60))
            // Every write is refused from now on (BLMOVE, which the idle wait uses, included).
            try await server.cli("config", "set", "maxmemory-policy", "noeviction")
            try await server.cli("config", "set", "maxmemory", "1")
            try await server.cli("config", "resetstat")
            var options = WorkerOptions()
            options.heartbeatInterval = nil
            options.recoveryInterval = .seconds(60)
            options.idlePollInterval = .milliseconds(50)
            let worker = try Worker(backend: queue, handler: SlowHandler(), options: options)
            let run = Task { try await worker.runUntilStopped() }
            try await Task.sleep(for: .seconds(1))
            worker.shutdown()
            _ = try await run.value
            try await server.cli("config", "set", "maxmemory", "0")
            let stats = try await server.cli("info", "commandstats")
            let calls = stats.split(whereSeparator: \.isNewline).filter { $0.hasPrefix("cmdstat_blmove") || $0.hasPrefix("cmdstat_evalsha") }
                .flatMap { line in
                    // Calls that ran and calls refused (OOM) alike.
                    line.split(separator: ",").filter { $0.contains("calls=") && !$0.contains("failed") }
                        .compactMap { $0.split(separator: "=").last.flatMap { Int($0) } }
                }
                .reduce(0, +)
            // One wait and one look per 50 ms poll is about 40 calls in a second; a spin makes thousands.
            #expect(calls < 200, "\(calls) calls in one second: \(stats)")
            await queue.close()
        }
    }
}

/// The page rule every byte-bounded call shares: at most `most` elements and `budget` bytes,
/// always at least one element.
@Suite struct PageRuleTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let sizes: [Int], start: Int, most: Int, budget: Int, end: Int, bytes: Int
        var testDescription: String { "\(sizes) from \(start), most \(most), budget \(budget)" }
    }

    @Test(arguments: [
        Case(sizes: [1, 1, 1, 1], start: 0, most: 10, budget: 3, end: 3, bytes: 3),
        Case(sizes: [1, 1, 1, 1], start: 0, most: 2, budget: 100, end: 2, bytes: 2),
        Case(sizes: [5, 1], start: 0, most: 10, budget: 3, end: 1, bytes: 5),  // one over the budget: still one
        Case(sizes: [1, 5, 1], start: 0, most: 10, budget: 3, end: 1, bytes: 1),  // the next would cross it
        Case(sizes: [1, 5, 1], start: 1, most: 10, budget: 3, end: 2, bytes: 5),
        Case(sizes: [2, 2], start: 2, most: 10, budget: 3, end: 2, bytes: 0),  // nothing left
        Case(sizes: [0, 0, 0], start: 0, most: 10, budget: 1, end: 3, bytes: 0),
    ])
    func page(_ c: Case) {
        let result = RedisQueue.page(from: c.start, count: c.sizes.count, most: c.most, budget: c.budget) { c.sizes[$0] }
        #expect(result.end == c.end)
        #expect(result.bytes == c.bytes)
    }
}

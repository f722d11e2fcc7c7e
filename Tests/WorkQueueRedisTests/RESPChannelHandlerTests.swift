import NIOCore
import NIOEmbedded
import Synchronization
import Testing
@testable import WorkQueueRedis

/// The connection's state machine and channel handler on an `EmbeddedChannel`: no network,
/// time advanced by hand.
@Suite struct RESPChannelHandlerTests {
    final class Outcome: Sendable {
        let result = Mutex<Result<[RESPValue], any Error>?>(nil)
        var replies: [RESPValue]? { result.withLock { try? $0?.get() } }
        var error: RedisError? {
            result.withLock { result in
                guard case let .failure(error)? = result else { return nil }
                return error as? RedisError
            }
        }
        var isDone: Bool { result.withLock { $0 != nil } }
    }

    struct Harness {
        let channel = EmbeddedChannel()
        let handler = RESPChannelHandler(endpoint: "test:6379")

        init() throws {
            try channel.pipeline.syncOperations.addHandler(handler)
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 6379)).wait()
        }

        var loop: EmbeddedEventLoop { channel.embeddedEventLoop }

        func send(_ commands: [[String]], timeout: Duration = .seconds(10)) -> Outcome {
            let promise = loop.makePromise(of: [RESPValue].self)
            let outcome = Outcome()
            promise.futureResult.whenComplete { result in outcome.result.withLock { $0 = result } }
            handler.send(RedisRequest(commands: commands.map { RESPCommand($0) }, waiter: .promise(promise), timeout: timeout))
            return outcome
        }

        /// Everything written so far, as text.
        func written() throws -> String {
            var text = ""
            while let buffer = try channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: buffer) }
            return text
        }

        func reply(_ text: String) throws {
            try channel.writeInbound(ByteBuffer(string: text))
        }
    }

    @Test func pipelinedRepliesGoToTheirRequestsInOrder() throws {
        let harness = try Harness()
        let first = harness.send([["SET", "k", "v"], ["GET", "k"]])
        let second = harness.send([["INCR", "n"]])
        #expect(try harness.written() == "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n")
        try harness.reply("+OK\r\n")
        #expect(!first.isDone)
        try harness.reply("$1\r\nv\r\n:7\r\n")
        #expect(first.replies == [.simpleString("OK"), .bulkString(string: "v")])
        #expect(second.replies == [.integer(7)])
        #expect(harness.handler.pendingCount == 0)
        #expect(harness.channel.isActive)
    }

    @Test func aReplySplitAtEveryByteDecodesTheSame() throws {
        let wire = "+OK\r\n*3\r\n$5\r\nhello\r\n$-1\r\n*1\r\n:-12\r\n-ERR no\r\n"
        let expected: [RESPValue] = [.simpleString("OK"),
                                     .array([.bulkString(string: "hello"), .bulkString(nil), .array([.integer(-12)])]),
                                     .error("ERR no")]
        let bytes = Array(wire.utf8)
        // Byte by byte.
        do {
            let harness = try Harness()
            let outcome = harness.send([["A"], ["B"], ["C"]])
            for (index, byte) in bytes.enumerated() {
                #expect(!outcome.isDone, "done early at byte \(index)")
                try harness.channel.writeInbound(ByteBuffer(bytes: [byte]))
            }
            #expect(outcome.replies == expected)
        }
        // In two parts, split at every position.
        for split in 0...bytes.count {
            let harness = try Harness()
            let outcome = harness.send([["A"], ["B"], ["C"]])
            try harness.channel.writeInbound(ByteBuffer(bytes: bytes[..<split]))
            try harness.channel.writeInbound(ByteBuffer(bytes: bytes[split...]))
            #expect(outcome.replies == expected, "split at \(split)")
        }
    }

    @Test func aReplyNobodyAskedForClosesTheConnection() throws {
        let harness = try Harness()
        try harness.reply("+OK\r\n")
        #expect(!harness.channel.isActive)
        let late = harness.send([["PING"]])
        #expect(late.error == .connectionClosed("test:6379"))
    }

    @Test func aProtocolErrorFailsEverythingPendingAndCloses() throws {
        let harness = try Harness()
        let first = harness.send([["GET", "a"]])
        let second = harness.send([["GET", "b"], ["GET", "c"]])
        try harness.reply("$1\r\nx\r\n?bad\r\n")
        #expect(first.replies == [.bulkString(string: "x")])
        guard case .protocolError? = second.error else {
            Issue.record("expected a protocol error, got \(String(describing: second.result.withLock { $0 }))")
            return
        }
        #expect(!harness.channel.isActive)
    }

    @Test func closingFailsPendingWithConnectionClosed() throws {
        let harness = try Harness()
        let first = harness.send([["GET", "a"]])
        let second = harness.send([["GET", "b"]])
        try harness.channel.close().wait()
        #expect(first.error == .connectionClosed("test:6379"))
        #expect(second.error == .connectionClosed("test:6379"))
    }

    @Test func aRequestAfterCloseFailsAtOnce() throws {
        let harness = try Harness()
        try harness.channel.close().wait()
        let outcome = harness.send([["GET", "a"]])
        #expect(outcome.error == .connectionClosed("test:6379"))
    }

    @Test func theOldestRequestsDeadlineFailsEverythingOnceAndCloses() throws {
        let harness = try Harness()
        let first = harness.send([["GET", "a"]], timeout: .seconds(1))
        harness.loop.advanceTime(by: .milliseconds(500))
        let second = harness.send([["SET", "b", "1"]], timeout: .seconds(1))
        harness.loop.advanceTime(by: .milliseconds(499))
        #expect(!first.isDone && !second.isDone)
        harness.loop.advanceTime(by: .milliseconds(1))
        let expected = RedisError.timedOut(endpoint: "test:6379", command: "GET", after: .seconds(1))
        #expect(first.error == expected)
        #expect(second.error == expected)
        #expect(!harness.channel.isActive)
        // Nothing fires again.
        harness.loop.advanceTime(by: .seconds(5))
        #expect(first.error == expected)
    }

    @Test func theDeadlineMovesOnToTheNextRequestWhenTheOldestIsAnswered() throws {
        let harness = try Harness()
        let first = harness.send([["GET", "a"]], timeout: .seconds(1))
        harness.loop.advanceTime(by: .milliseconds(600))
        let second = harness.send([["SET", "b", "1"]], timeout: .seconds(1))
        try harness.reply("+a\r\n")
        #expect(first.replies == [.simpleString("a")])
        // The first deadline (1.0 s) passes: the second (due at 1.6 s) is not due yet.
        harness.loop.advanceTime(by: .milliseconds(400))
        #expect(!second.isDone)
        #expect(harness.channel.isActive)
        harness.loop.advanceTime(by: .milliseconds(599))
        #expect(!second.isDone)
        harness.loop.advanceTime(by: .milliseconds(1))
        #expect(second.error == .timedOut(endpoint: "test:6379", command: "SET", after: .seconds(1)))
        #expect(!harness.channel.isActive)
    }

    @Test func aShorterDeadlineOnAnIdleConnectionRearmsEarlier() throws {
        let harness = try Harness()
        let slow = harness.send([["BLMOVE"]], timeout: .seconds(60))
        try harness.reply("$-1\r\n")
        #expect(slow.replies == [.bulkString(nil)])
        let quick = harness.send([["GET", "a"]], timeout: .seconds(1))
        harness.loop.advanceTime(by: .seconds(1))
        #expect(quick.error == .timedOut(endpoint: "test:6379", command: "GET", after: .seconds(1)))
    }

    @Test func stateMachineAlone() {
        var machine = RedisConnectionStateMachine<Int>(endpoint: "e:1", active: true)
        let now = NIODeadline.uptimeNanoseconds(1_000)
        let request = { (waiter: Int, count: Int) in
            RedisConnectionStateMachine<Int>.Request(waiter: waiter, count: count, deadline: now + .seconds(1),
                                                     timeout: .seconds(1), command: { "CMD\(waiter)" })
        }
        guard case .write(armTimer: now + .seconds(1)) = machine.send(request(1, 2)) else { Issue.record("first send"); return }
        guard case .write(armTimer: nil) = machine.send(request(2, 1)) else { Issue.record("second send"); return }
        guard case .none = machine.receive(.integer(1)) else { Issue.record("partial"); return }
        guard case let .succeed(1, replies, _) = machine.receive(.integer(2)) else { Issue.record("complete"); return }
        #expect(replies == [.integer(1), .integer(2)])
        guard case let .failAllAndClose(waiters, .timedOut(_, "CMD2", _)) = machine.timerFired(now: now + .seconds(2)) else {
            Issue.record("timeout"); return
        }
        #expect(waiters == [2])
        guard case .fail(3, .connectionClosed("e:1")) = machine.send(request(3, 1)) else { Issue.record("after close"); return }
        #expect(machine.channelInactive().isEmpty)
    }
}

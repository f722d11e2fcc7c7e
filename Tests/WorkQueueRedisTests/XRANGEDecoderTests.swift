import NIOCore
import NIOEmbedded
import Testing
import TestSupport
import WorkQueue
@testable import WorkQueueRedis

/// The `XRANGE` reply decoder of `workqueue results` (issue 30, item 5): the reply's wire bytes,
/// checked by ``RESPParser/nextToken()``, go straight into records. Held to the generic reading
/// (``RESPParser/next()`` then ``XRANGEDecoder/completionRecords(_:)-(RESPValue)``): the same
/// records for every reply, however the bytes are split into reads, and the same errors.
@Suite struct XRANGEDecoderTests {
    typealias RNG = SeededGenerator

    static func bytes(_ rng: inout RNG, max: Int) -> [UInt8] {
        let count = Int.random(in: 0...max, using: &rng)
        switch Int.random(in: 0..<4, using: &rng) {
        case 0: return (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) } // any bytes, not UTF-8 mostly
        case 1: return Array(String(repeating: "é\r\n\"\\", count: count / 6 + 1).utf8) // UTF-8 with CR LF and escapes
        default: return (0..<count).map { _ in UInt8.random(in: 32...126, using: &rng) }
        }
    }

    /// A field value: mostly a bulk string, sometimes anything else RESP has.
    static func value(_ rng: inout RNG, _ payload: [UInt8]) -> RESPValue {
        switch Int.random(in: 0..<20, using: &rng) {
        case 0: return .simpleString(String(decoding: payload.filter { $0 != 13 && $0 != 10 }, as: UTF8.self))
        case 1: return .integer(Int.random(in: -5...Int.max, using: &rng))
        case 2: return .bulkString(nil)
        case 3: return .array(nil)
        case 4: return .array([.integer(1), .array([.bulkString(bytes: payload)]), .error("E")])
        case 5: return .error("ERR x")
        case 6: return .bulkString(string: String(Int.random(in: Int.min...Int.max, using: &rng)))
        case 7: return .bulkString(string: "+" + String(Int.random(in: 0...9, using: &rng)))
        case 8: return .bulkString(string: "000000000000000000007") // 21 digits: not an integer to RESP
        default: return .bulkString(bytes: payload)
        }
    }

    /// An `XRANGE` reply: mostly well formed entries, some with odd fields, duplicates, missing
    /// fields or an odd count, and now and then an entry of the wrong shape.
    static func reply(_ rng: inout RNG, entries: Int, maxBytes: Int) -> RESPValue {
        if Int.random(in: 0..<40, using: &rng) == 0 { return [.array(nil), .integer(3), .bulkString(string: "x")].randomElement(using: &rng) ?? .array(nil) }
        return .array((0..<entries).map { index in
            let id: RESPValue = switch Int.random(in: 0..<30, using: &rng) {
            case 0: .simpleString("\(index)-0")
            case 1: .bulkString(bytes: bytes(&rng, max: 8))
            case 2: .integer(index) // not an ID: an error from both
            default: .bulkString(string: "1764000000\(Int.random(in: 100...999, using: &rng))-\(index)")
            }
            var names: [[UInt8]] = [Array("item".utf8), Array("result".utf8), Array("attempt".utf8), Array("worker".utf8)]
            if Bool.random(using: &rng) { names.shuffle(using: &rng) }
            let extras: [String] = ["i", "r", "a", "w", "x", "", "é"]
            if Int.random(in: 0..<5, using: &rng) == 0 { names.append(Array((extras.randomElement(using: &rng) ?? "x").utf8)) }
            if Int.random(in: 0..<8, using: &rng) == 0 { names.removeFirst() }
            var fields: [RESPValue] = []
            for name in names {
                fields.append(Int.random(in: 0..<25, using: &rng) == 0 ? .simpleString(String(decoding: name, as: UTF8.self)) : .bulkString(bytes: name))
                let payload: [UInt8] = switch name.first {
                case UInt8(ascii: "a"): Array(String(Int.random(in: 1...9, using: &rng)).utf8)
                default: bytes(&rng, max: maxBytes)
                }
                fields.append(value(&rng, payload))
            }
            if Int.random(in: 0..<10, using: &rng) == 0 { fields.append(.bulkString(string: "dangling")) }
            let entry: RESPValue = .array([id, .array(fields)])
            switch Int.random(in: 0..<60, using: &rng) {
            case 0: return .array([id])
            case 1: return .array([id, .array(fields), .integer(0)])
            case 2: return .array([id, .array(nil)])
            case 3: return .bulkString(string: "entry")
            default: return entry
            }
        })
    }

    /// Decoded by the generic reading: the records or the error's presence.
    static func generic(_ wire: [UInt8]) throws -> [CompletionRecord]? {
        var parser = RESPParser()
        parser.feed(wire)
        let value = try #require(try parser.next())
        #expect(parser.bufferedByteCount == 0)
        return try? XRANGEDecoder.completionRecords(value)
    }

    /// Decoded from the wire bytes fed in `reads`: the records or nil for a decoding error.
    static func token(_ wire: [UInt8], reads: [Range<Int>]) throws -> [CompletionRecord]? {
        var parser = RESPParser()
        var reply: RESPValue?
        for (number, range) in reads.enumerated() {
            parser.feed(ByteBuffer(bytes: wire[range]))
            reply = try parser.nextToken()
            if number < reads.count - 1 { #expect(reply == nil, "complete only with its last byte") }
        }
        guard case let .bulkString(bytes?) = reply else {
            Issue.record("no token: \(String(describing: reply))")
            return nil
        }
        #expect(Array(bytes.readableBytesView) == wire, "the token is the reply's wire form")
        #expect(parser.bufferedByteCount == 0)
        return try? XRANGEDecoder.completionRecords(bytes)
    }

    static func randomReads(_ count: Int, _ rng: inout RNG) -> [Range<Int>] {
        var reads: [Range<Int>] = []
        var offset = 0
        while offset < count {
            let size = Int.random(in: 1...Swift.max(1, Swift.min(count - offset, Int.random(in: 1...3, using: &rng) == 1 ? 7 : 4096)), using: &rng)
            reads.append(offset..<offset + size)
            offset += size
        }
        return reads
    }

    @Test func randomRepliesInRandomReadsDecodeAsTheGenericReadingDoes() throws {
        let seed = UInt64.random(in: 0...UInt64.max)
        var rng = RNG(state: seed)
        var decoded = 0
        for _ in 0..<400 {
            let reply = Self.reply(&rng, entries: Int.random(in: 0...12, using: &rng), maxBytes: 64)
            let wire = RESPEncoder.encode(reply)
            let expected = try Self.generic(wire)
            let actual = try Self.token(wire, reads: Self.randomReads(wire.count, &rng))
            #expect(actual == expected, "seed \(seed): \(reply)")
            if actual != expected { return }
            if expected != nil { decoded += 1 }
        }
        #expect(decoded > 200, "most replies are well formed (seed \(seed))")
    }

    @Test func aReplySplitAtEveryByteBoundaryDecodesTheSame() throws {
        var rng = RNG(state: 30)
        let reply = RESPValue.array((0..<3).map { index in
            .array([.bulkString(string: "1764000000123-\(index)"), .array([
                .bulkString(string: "item"), .bulkString(bytes: [0xFF, 0x00, 13, 10, UInt8(index)]),
                .bulkString(string: "result"), .bulkString(bytes: Self.bytes(&rng, max: 30) + [0xC3]),
                .bulkString(string: "attempt"), .bulkString(string: "\(index + 1)"),
                .bulkString(string: "worker"), .bulkString(string: "pod-\(index):é"),
            ])])
        })
        let wire = RESPEncoder.encode(reply)
        let expected = try #require(try Self.generic(wire))
        #expect(expected.count == 3 && expected[2].attempt == 3 && expected[0].item.bytes == [0xFF, 0x00, 13, 10, 0])
        for split in 1..<wire.count {
            #expect(try Self.token(wire, reads: [0..<split, split..<wire.count]) == expected, "split at \(split)")
        }
        #expect(try Self.token(wire, reads: (0..<wire.count).map { $0..<$0 + 1 }) == expected, "a byte a read")
    }

    /// An 8 MiB item in 1 KiB reads: the scan examines headers and terminators only (linear
    /// time), and the record holds the whole item.
    @Test func aHugeValueInSmallReadsIsScannedOnce() throws {
        let size = 8 * 1024 * 1024
        var item = [UInt8](repeating: UInt8(ascii: "x"), count: size)
        item[size / 2] = 0xFF
        let reply = RESPValue.array([.array([.bulkString(string: "1-1"), .array([
            .bulkString(string: "item"), .bulkString(bytes: item), .bulkString(string: "result"), .bulkString(string: "r"),
        ])])])
        let wire = RESPEncoder.encode(reply)
        var parser = RESPParser()
        var token: RESPValue?
        for start in stride(from: 0, to: wire.count, by: 1024) {
            #expect(token == nil)
            parser.feed(ByteBuffer(bytes: wire[start..<Swift.min(wire.count, start + 1024)]))
            token = try parser.nextToken()
        }
        #expect(parser.scannedByteCount < 200, "scanned \(parser.scannedByteCount) of \(wire.count) bytes")
        guard case let .bulkString(bytes?) = token else { Issue.record("no token"); return }
        let records = try XRANGEDecoder.completionRecords(bytes)
        #expect(records.count == 1 && records[0].item.bytes == item && records[0].result == "r" && records[0].attempt == 1)
    }

    /// Bad RESP is refused by the token scan exactly as by the generic parser: the same error,
    /// however it arrives, and then every call rethrows it.
    static let badRESP = [
        "?x\r\n", ":12a\r\n", "$-2\r\n", "$536870913\r\n", "*-5\r\n", "$3\r\nabcX\r\n", "+OK\rX", "+OK\n",
        "*1\r\n*2\r\n$3\r\nabc\r\n:1x\r\n", "*2\r\n$1\r\nab\r\n", "*16777217\r\n", "*1\r\n$3\r\nab",
        "*1\r\n" + String(repeating: "*1\r\n", count: 40) + ":1\r\n", "+" + String(repeating: "a", count: 70_000) + "\r\n",
        ":123456789012345678901\r\n",
        // Digits then a CR without LF, where the quick digit path reads the line.
        ":12\rX\r\n", "*1\r\n$3\rXabc\r\n", "*2\nabc",
    ]

    @Test(arguments: badRESP.indices)
    func badRESPIsRefusedAlike(index: Int) {
        let input = Self.badRESP[index]
        let wire = Array(input.utf8)
        var generic = RESPParser()
        generic.feed(wire)
        let expected = Result { () throws(RESPParseError) in try generic.next() }
        for reads in [[0..<wire.count], (0..<wire.count).map { $0..<$0 + 1 }] {
            var parser = RESPParser()
            var outcome: Result<RESPValue?, RESPParseError> = .success(nil)
            for range in reads {
                parser.feed(wire[range])
                outcome = Result { () throws(RESPParseError) in try parser.nextToken() }
                if case .failure = outcome { break }
            }
            switch (outcome, expected) {
            case let (.failure(error), .failure(reference)):
                #expect(error == reference, "\(input.prefix(40))")
                #expect(throws: reference) { try parser.nextToken() }
            case (.success(nil), .success(nil)):
                break // incomplete for both
            default:
                Issue.record("token \(outcome) against generic \(expected) for \(input.prefix(40))")
            }
        }
    }

    /// Random garbage, read value by value: each token is exactly what the generic parser reads
    /// there (an error reply as the same `.error`), and a failure is the same failure.
    @Test func garbageReadsAlikeAndNeverCrashesOrHangs() {
        let seed = UInt64.random(in: 0...UInt64.max)
        var rng = RNG(state: seed)
        let alphabet = Array("+-:$*\r\n0123456789-ab".utf8)
        for _ in 0..<3000 {
            let bytes = (0..<Int.random(in: 0...64, using: &rng)).map { _ in
                Bool.random(using: &rng) ? alphabet[Int.random(in: 0..<alphabet.count, using: &rng)] : UInt8.random(in: 0...255, using: &rng)
            }
            var generic = RESPParser()
            var tokens = RESPParser()
            generic.feed(bytes)
            tokens.feed(bytes)
            for _ in 0..<100 {
                let reference = Result { () throws(RESPParseError) in try generic.next() }
                let token = Result { () throws(RESPParseError) in try tokens.nextToken() }
                switch (token, reference) {
                case (.success(nil), .success(nil)):
                    break
                case let (.success(.error(a)?), .success(.error(b)?)):
                    #expect(a == b, "seed \(seed)")
                    continue
                case let (.success(.bulkString(wire?)?), .success(value?)):
                    var again = RESPParser()
                    again.feed(wire)
                    #expect((try? again.next()) == value, "seed \(seed)")
                    _ = try? XRANGEDecoder.completionRecords(wire) // any shape: an error, never a crash
                    continue
                case let (.failure(a), .failure(b)):
                    #expect(a == b, "seed \(seed)")
                default:
                    Issue.record("seed \(seed): token \(token) against generic \(reference)")
                }
                break
            }
        }
    }

    /// The decoder itself takes any bytes: cut-short, corrupted and absurd replies are errors
    /// that say what is wrong, never a crash.
    @Test func theDecoderRefusesMalformedBytesWithAClearError() throws {
        var rng = RNG(state: UInt64.random(in: 0...UInt64.max))
        let wire = RESPEncoder.encode(Self.reply(&rng, entries: 5, maxBytes: 40))
        for cut in 0..<wire.count {
            #expect(throws: XRANGEDecoder.Malformed.self) { try XRANGEDecoder.completionRecords(ByteBuffer(bytes: wire[..<cut])) }
        }
        for _ in 0..<2000 {
            var corrupted = wire
            corrupted[Int.random(in: 0..<corrupted.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            _ = try? XRANGEDecoder.completionRecords(ByteBuffer(bytes: corrupted))
        }
        let cases: [(String, String)] = [
            ("*-1\r\n", "not an array of entries"),
            ("*1\r\n:5\r\n", "entry 0 is not an array of an ID and its fields"),
            ("*1\r\n*2\r\n:5\r\n*0\r\n", "entry 0 has no ID"),
            ("*1\r\n*2\r\n$3\r\n1-1\r\n$-1\r\n", "entry 1-1 has no array of fields"),
            ("*2\r\n*2\r\n$3\r\n1-1\r\n*0\r\n", "the reply ends early"),
            ("*1\r\n*2\r\n$9\r\n1-1\r\n*0\r\n", "a bulk string is cut short or not followed by CRLF"),
            ("*0\r\n:1\r\n", "4 bytes after the reply"),
            ("*99999999\r\n*2\r\n", "the reply ends early"),
            ("*1\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\na\r\n*999999999\r\n", "the reply ends early"),
        ]
        for (input, message) in cases {
            #expect(throws: XRANGEDecoder.Malformed.self, "\(input)") { try XRANGEDecoder.completionRecords(ByteBuffer(string: input)) }
            do {
                _ = try XRANGEDecoder.completionRecords(ByteBuffer(string: input))
            } catch {
                #expect(error.description == message, "\(input)")
            }
        }
    }

    /// On a connection, a command marked ``RESPCommand/wantsToken`` gets its reply undecoded,
    /// the commands around it in the same pipeline get theirs as values, and an error reply
    /// stays an error.
    @Test func aTokenCommandInAPipelineGetsItsReplyUndecoded() throws {
        let channel = EmbeddedChannel()
        let handler = RESPChannelHandler(endpoint: "test:6379")
        try channel.pipeline.syncOperations.addHandler(handler)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 6379)).wait()
        var xrange = RESPCommand(["XRANGE", "q:results", "-", "+"])
        xrange.wantsToken = true
        let loop = channel.embeddedEventLoop
        var outcomes: [EventLoopFuture<[RESPValue]>] = []
        for commands in [[RESPCommand(["GET", "a"]), xrange, RESPCommand(["GET", "b"])], [xrange], [RESPCommand(["INCR", "n"])]] {
            let promise = loop.makePromise(of: [RESPValue].self)
            handler.send(RedisRequest(commands: commands, waiter: .promise(promise), timeout: .seconds(10)))
            outcomes.append(promise.futureResult)
        }
        let entries = "*1\r\n*2\r\n$3\r\n1-1\r\n*4\r\n$4\r\nitem\r\n$1\r\nx\r\n$7\r\nattempt\r\n:2\r\n"
        for piece in ["$1\r\na\r\n*1\r\n*2\r\n$3", "\r\n1-1\r\n*4\r\n$4\r\nitem\r\n$1\r\nx\r\n$7\r\nattempt\r\n:2\r\n$-1\r\n",
                      "-WRONGTYPE Operation against a key\r\n", ":7\r\n"] {
            try channel.writeInbound(ByteBuffer(string: piece))
        }
        let first = try outcomes[0].wait()
        #expect(first.count == 3 && first[0] == .bulkString(string: "a") && first[2] == .bulkString(nil))
        #expect(first[1] == .bulkString(string: entries), "the XRANGE reply as its wire bytes")
        if case let .bulkString(wire?) = first[1] {
            #expect(try XRANGEDecoder.completionRecords(wire) == [CompletionRecord(id: "1-1", item: "x", result: "", attempt: 2, worker: "")])
        }
        #expect(try outcomes[1].wait() == [.error("WRONGTYPE Operation against a key")])
        #expect(try outcomes[2].wait() == [.integer(7)], "after the token replies, values again")
        _ = try? channel.finish()
    }

    /// Against a real Redis: records with binary items, results that are not UTF-8 and large
    /// values, written by XADD, read by ``RedisQueue/completions(after:limit:)`` exactly as the
    /// generic reading of the same `XRANGE` reads them, page by page.
    @Test func completionsFromRedisMatchTheGenericReading() async throws {
        try await LocalRedis.with { redis in
            let queue = try await RedisQueue.connect(name: "x", configuration: RedisConfiguration(url: redis.url))
            let client = try await RedisClient.connect(RedisConfiguration(url: redis.url), logger: .init(label: "test"))
            var rng = RNG(state: 5)
            for index in 0..<300 {
                var command: [RESPArgument] = ["XADD", "x:results", "*",
                                               "item", RESPArgument(Self.bytes(&rng, max: index == 7 ? 300_000 : 80)),
                                               "result", RESPArgument(Self.bytes(&rng, max: 200))]
                if index % 3 != 0 { command += ["attempt", RESPArgument(index % 5 + 1)] }
                command += ["worker", RESPArgument("w-\(index % 4)")]
                _ = try await client.send(command)
            }
            var after: String?
            var pages = 0
            while pages < 100 {
                let records = try await queue.completions(after: after, limit: 64)
                let reference = try XRANGEDecoder.completionRecords(
                    try await client.send(["XRANGE", "x:results", RESPArgument(after.map { "(" + $0 } ?? "-"), "+", "COUNT", "64"]))
                #expect(records == reference)
                guard let last = records.last else { break }
                after = last.id
                pages += 1
            }
            #expect(pages == 5)
            #expect(try await queue.completions(after: nil, limit: 1000).count == 300)
            await client.close()
            await queue.close()
        }
    }
}

import NIOCore
import Testing
import TestSupport
@testable import WorkQueueRedis

@Suite struct RESPParserTests {
    func parseAll(_ text: String) throws -> [RESPValue] {
        var parser = RESPParser()
        parser.feed(Array(text.utf8))
        return try parser.drain()
    }

    @Test func everyType() throws {
        let values = try parseAll("+OK\r\n-ERR bad\r\n:-42\r\n$3\r\nabc\r\n$-1\r\n$0\r\n\r\n*2\r\n:1\r\n*1\r\n+x\r\n*-1\r\n*0\r\n")
        #expect(values == [.simpleString("OK"), .error("ERR bad"), .integer(-42), .bulkString(string: "abc"),
                           .bulkString(nil), .bulkString(bytes: []), .array([.integer(1), .array([.simpleString("x")])]),
                           .array(nil), .array([])])
    }

    @Test func incompleteWaits() throws {
        var parser = RESPParser()
        parser.feed(Array("$5\r\nhel".utf8))
        #expect(try parser.next() == nil)
        parser.feed(Array("lo\r\n".utf8))
        #expect(try parser.next() == .bulkString(string: "hello"))
    }

    @Test(arguments: [
        ("?x\r\n", RESPParseError.invalidTypeByte(UInt8(ascii: "?"))),
        (":12a\r\n", .invalidInteger("12a")),
        ("$-2\r\n", .invalidLength(-2)),
        ("$536870913\r\n", .invalidLength(536_870_913)),
        ("*-5\r\n", .invalidLength(-5)),
        ("$3\r\nabcX\r\n", .missingCRLF),
        ("+OK\rX", .missingCRLF),
        ("+OK\n", .missingCRLF),
    ])
    func rejects(input: String, expected: RESPParseError) {
        #expect(throws: expected) { try parseAll(input) }
    }

    @Test func rejectsLongLineAndDeepNesting() {
        #expect(throws: RESPParseError.lineTooLong) { try parseAll("+" + String(repeating: "a", count: 70_000)) }
        #expect(throws: RESPParseError.nestingTooDeep) { try parseAll(String(repeating: "*1\r\n", count: 40) + ":1\r\n") }
    }

    @Test func commandEncoding() {
        #expect(RESPEncoder.encodeCommand(["GET", RESPArgument([0, 255])]) == Array("*2\r\n$3\r\nGET\r\n$2\r\n".utf8) + [0, 255, 13, 10])
    }

    typealias SeededRNG = SeededGenerator

    func randomValue(_ rng: inout SeededRNG, depth: Int) -> RESPValue {
        let line = String((0..<Int.random(in: 0...8, using: &rng)).map { _ in Character(Unicode.Scalar(UInt8.random(in: 32...126, using: &rng))) })
        switch Int.random(in: 0..<(depth > 3 ? 6 : 8), using: &rng) {
        case 0: return .simpleString(line)
        case 1: return .error(line)
        case 2: return .integer(Int.random(in: Int.min...Int.max, using: &rng))
        case 3: return .bulkString(nil)
        case 4, 5: return .bulkString(bytes: (0..<Int.random(in: 0...40, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) })
        case 6: return .array(nil)
        default: return .array((0..<Int.random(in: 0...5, using: &rng)).map { _ in randomValue(&rng, depth: depth + 1) })
        }
    }

    @Test func randomValuesInRandomSplitsRoundTrip() throws {
        let seed = UInt64.random(in: 0...UInt64.max)
        var rng = SeededRNG(state: seed)
        for _ in 0..<300 {
            let values = (0..<Int.random(in: 1...6, using: &rng)).map { _ in randomValue(&rng, depth: 0) }
            let wire = values.flatMap { RESPEncoder.encode($0) }
            var parser = RESPParser()
            var decoded: [RESPValue] = []
            var offset = 0
            while offset < wire.count {
                let size = Int.random(in: 1...max(1, wire.count - offset), using: &rng)
                if Bool.random(using: &rng) {
                    parser.feed(wire[offset..<offset + size])
                } else {
                    parser.feed(ByteBuffer(bytes: wire[offset..<offset + size]))
                }
                offset += size
                decoded += try parser.drain()
            }
            #expect(decoded == values, "seed \(seed)")
            if decoded != values { return }
        }
    }

    @Test func garbageNeverCrashesOrHangs() {
        let seed = UInt64.random(in: 0...UInt64.max)
        var rng = SeededRNG(state: seed)
        let alphabet = Array("+-:$*\r\n0123456789-ab".utf8)
        for _ in 0..<2000 {
            var parser = RESPParser()
            let bytes = (0..<Int.random(in: 0...64, using: &rng)).map { _ in
                Bool.random(using: &rng) ? alphabet[Int.random(in: 0..<alphabet.count, using: &rng)] : UInt8.random(in: 0...255, using: &rng)
            }
            parser.feed(bytes)
            var steps = 0
            while steps < 100, let _ = try? parser.next() { steps += 1 }
            #expect(steps < 100, "seed \(seed)")
        }
    }

    @Test func commandBuilderMatchesTheArgumentEncoding() throws {
        var command = RESPCommand(capacity: 8)
        command.append("EVALSHA")
        command.append(bytes: [0, 255])
        command.append(-42)
        command.append(Int.min)
        command.append(ByteBuffer(string: "buf"))
        let expected = RESPEncoder.encodeCommand(["EVALSHA", RESPArgument([0, 255]), RESPArgument(-42), RESPArgument(Int.min), "buf"])
        #expect(Array(command.encoded.readableBytesView) == expected)
        #expect(command.count == 5)
        #expect(command.name == "EVALSHA")
        #expect(RESPCommand(["get", "k"]).name == "GET")
        #expect(Array(RESPCommand(["GET", "k"]).encoded.readableBytesView) == Array("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n".utf8))
        #expect(Array(RESPCommand(capacity: 0).encoded.readableBytesView) == Array("*0\r\n".utf8))
        // More than 9 arguments: the header grows into its reserved room.
        let many = RESPCommand((0..<12).map { String($0) })
        #expect(Array(many.encoded.readableBytesView) == RESPEncoder.encodeCommand((0..<12).map { RESPArgument($0) }))
        // A command decodes as the array of its arguments.
        var parser = RESPParser()
        parser.feed(many.encoded)
        #expect(try parser.next() == .array((0..<12).map { .bulkString(string: String($0)) }))
    }

    /// The builder writes each argument in one pass into the buffer's memory (the worker's
    /// per-item path): every kind of argument, empty ones, payloads larger than the capacity
    /// asked for, and headers of 1 to 4 digits must still match the reference encoding.
    @Test func commandBuilderWritesEveryArgumentKindInOnePass() throws {
        var command = RESPCommand(capacity: 0)
        var expected: [RESPArgument] = []
        let large = [UInt8](repeating: 0x61, count: 70_000)
        for index in 0..<1_200 {
            switch index % 8 {
            case 0:
                command.append("")
                expected.append("")
            case 1:
                command.append("token-\(index)-é")
                expected.append(RESPArgument("token-\(index)-é"))
            case 2:
                // Not contiguous: written element by element.
                command.append(bytes: [UInt8(index % 256), 13, 10].reversed())
                expected.append(RESPArgument([10, 13, UInt8(index % 256)]))
            case 3:
                command.append("xx-\(index)-yy".dropFirst(3).dropLast(3))
                expected.append(RESPArgument(String(index)))
            case 4:
                command.append(index - 600)
                expected.append(RESPArgument(index - 600))
            case 5:
                var buffer = ByteBuffer(string: "skip-\(index)")
                buffer.moveReaderIndex(forwardBy: 5)
                command.append(buffer)
                expected.append(RESPArgument(String(index)))
            case 6:
                command.append(bytes: index == 6 ? large : [])
                expected.append(RESPArgument(index == 6 ? large : []))
            default:
                command.append(RESPArgument([0, 255, UInt8(index % 256)]))
                expected.append(RESPArgument([0, 255, UInt8(index % 256)]))
            }
            if [1, 9, 10, 99, 100, 999, 1_000].contains(command.count) {
                // Compared as a Bool: the bytes run to megabytes, too many to print on a failure.
                let same = Array(command.encoded.readableBytesView) == RESPEncoder.encodeCommand(expected)
                #expect(same, "the encoding differs from the reference at \(command.count) arguments")
            }
        }
        let same = Array(command.encoded.readableBytesView) == RESPEncoder.encodeCommand(expected)
        #expect(same, "the encoding of 1,200 arguments differs from the reference")
        #expect(command.count == 1_200)
        #expect(command.name == "")
        var named = RESPCommand(capacity: 0)
        named.append("évalsha")
        named.append(bytes: large)
        #expect(named.name == "ÉVALSHA")
        var parser = RESPParser()
        parser.feed(command.encoded)
        #expect(try parser.next()?.array?.count == 1_200)
    }

    @Test func accessors() {
        #expect(RESPValue.bulkString(string: "-17").int == -17)
        #expect(RESPValue.bulkString(string: "+5").int == 5)
        #expect(RESPValue.bulkString(string: "5x").int == nil)
        #expect(RESPValue.bulkString(string: "99999999999999999999").int == nil)
        #expect(RESPValue.simpleString("OK").bytes == Array("OK".utf8))
        #expect(RESPValue.bulkString(string: "é").string == "é")
        #expect(RESPValue.bulkString(nil).isNull && RESPValue.array(nil).isNull)
        #expect(RESPValue.bulkString(bytes: [1, 2]).byteBuffer == ByteBuffer(bytes: [1, 2]))
        #expect(RESPValue.integer(3).bytes == nil)
    }

    /// An 8 MiB bulk string in 1 KiB reads: the parser examines only headers and terminators,
    /// not the payload again on every read (which would be ~32 GiB of scanning).
    @Test func aLargeBulkStringInSmallReadsIsParsedInLinearTime() throws {
        let size = 8 * 1024 * 1024
        var wire = ByteBuffer(string: "*2\r\n$\(size)\r\n")
        wire.writeRepeatingByte(UInt8(ascii: "x"), count: size)
        wire.writeString("\r\n+OK\r\n")
        let total = wire.readableBytes
        var parser = RESPParser()
        var values: [RESPValue] = []
        while wire.readableBytes > 0, let chunk = wire.readSlice(length: min(1024, wire.readableBytes)) {
            parser.feed(chunk)
            values += try parser.drain()
        }
        #expect(values.count == 1)
        #expect(values.first?.array?.first?.byteBuffer?.readableBytes == size)
        #expect(values.first?.array?.last == .simpleString("OK"))
        #expect(parser.scannedByteCount < 64, "scanned \(parser.scannedByteCount) of \(total) bytes")
        #expect(parser.bufferedByteCount == 0)
    }

    @Test func aLongLineInSmallReadsIsScannedOnce() throws {
        var parser = RESPParser()
        let line = "+" + String(repeating: "a", count: 60_000) + "\r\n"
        for byte in line.utf8 { parser.feed(CollectionOfOne(byte)); _ = try parser.next() }
        #expect(parser.scannedByteCount <= line.utf8.count)
    }

    @Test func capsBufferedBytes() {
        var parser = RESPParser(maxBufferedBytes: 1000)
        parser.feed(Array("$5000\r\n".utf8))
        #expect(throws: Never.self) { try parser.next() }
        parser.feed([UInt8](repeating: 65, count: 1200))
        #expect(throws: RESPParseError.tooMuchBuffered(1000)) { try parser.next() }
        // The error sticks.
        #expect(throws: RESPParseError.tooMuchBuffered(1000)) { try parser.next() }
        // Many small elements of one array count too.
        var arrays = RESPParser(maxBufferedBytes: 1000)
        arrays.feed(Array("*1000\r\n".utf8))
        #expect(throws: RESPParseError.tooMuchBuffered(1000)) {
            for _ in 0..<300 {
                arrays.feed(Array(":1\r\n".utf8))
                _ = try arrays.next()
            }
        }
    }

    @Test func bulkStringsAreSlicesOfTheRead() throws {
        var parser = RESPParser()
        let read = ByteBuffer(string: "$3\r\nabc\r\n")
        parser.feed(read)
        let value = try parser.next()
        let slice = try #require(value?.byteBuffer)
        let shared = slice.withUnsafeReadableBytes { s in read.withUnsafeReadableBytes { r in s.baseAddress == r.baseAddress.map { $0 + 4 } } }
        #expect(shared)
    }
}

import Testing
@testable import WorkQueueRedis

@Suite struct RESPParserTests {
    func parseAll(_ text: String) throws -> [RESPValue] {
        var parser = RESPParser()
        parser.feed(Array(text.utf8))
        return try parser.drain()
    }

    @Test func everyType() throws {
        let values = try parseAll("+OK\r\n-ERR bad\r\n:-42\r\n$3\r\nabc\r\n$-1\r\n$0\r\n\r\n*2\r\n:1\r\n*1\r\n+x\r\n*-1\r\n*0\r\n")
        #expect(values == [.simpleString("OK"), .error("ERR bad"), .integer(-42), .bulkString(Array("abc".utf8)),
                           .bulkString(nil), .bulkString([]), .array([.integer(1), .array([.simpleString("x")])]),
                           .array(nil), .array([])])
    }

    @Test func incompleteWaits() throws {
        var parser = RESPParser()
        parser.feed(Array("$5\r\nhel".utf8))
        #expect(try parser.next() == nil)
        parser.feed(Array("lo\r\n".utf8))
        #expect(try parser.next() == .bulkString(Array("hello".utf8)))
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

    struct SeededRNG: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    func randomValue(_ rng: inout SeededRNG, depth: Int) -> RESPValue {
        let line = String((0..<Int.random(in: 0...8, using: &rng)).map { _ in Character(Unicode.Scalar(UInt8.random(in: 32...126, using: &rng))) })
        switch Int.random(in: 0..<(depth > 3 ? 6 : 8), using: &rng) {
        case 0: return .simpleString(line)
        case 1: return .error(line)
        case 2: return .integer(Int.random(in: Int.min...Int.max, using: &rng))
        case 3: return .bulkString(nil)
        case 4, 5: return .bulkString((0..<Int.random(in: 0...40, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) })
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
                parser.feed(wire[offset..<offset + size])
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
}

import NIOCore

/// The keys of an encoded command, for routing it to its slot's node. Knows the key positions
/// of the commands this package sends (and the common ones); any other command's first
/// argument is taken as its key.
package enum ClusterCommandKeys {
    /// Commands without keys: sent to the home slot's master.
    private static let keyless: Set<String> = [
        "ASKING", "AUTH", "CLIENT", "CLUSTER", "COMMAND", "CONFIG", "DBSIZE", "ECHO", "FLUSHALL", "FLUSHDB", "HELLO",
        "INFO", "LASTSAVE", "PING", "QUIT", "READONLY", "READWRITE", "ROLE", "SCRIPT", "SELECT", "TIME", "WAIT", "WAITAOF",
        "ACL", "FUNCTION", "MEMORY", "SLOWLOG", "LATENCY", "MULTI", "EXEC", "DISCARD",
    ]
    /// Commands whose every argument is a key.
    private static let allKeys: Set<String> = ["DEL", "UNLINK", "EXISTS", "TOUCH", "MGET", "WATCH"]
    /// Commands with two keys, the first two arguments.
    private static let twoKeys: Set<String> = ["LMOVE", "BLMOVE", "RPOPLPUSH", "BRPOPLPUSH", "SMOVE", "RENAME", "RENAMENX", "COPY"]
    /// Scripts and functions: numkeys, then the keys.
    private static let scripted: Set<String> = ["EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO"]

    /// The slot of `command`'s keys: nil for a keyless command. Keys in several slots throw
    /// the server's own `CROSSSLOT` error (no node could run the command).
    package static func slot(of command: RESPCommand) throws(RedisError) -> Int? {
        let arguments = Arguments(command.encoded)
        guard let nameRange = arguments.range(0) else { return nil }
        let name = String(decoding: arguments.buffer.readableBytesView[nameRange], as: UTF8.self).uppercased()
        if keyless.contains(name) { return nil }
        var keys: [Range<Int>] = []
        if scripted.contains(name) {
            guard let countRange = arguments.range(2),
                  let count = Int(String(decoding: arguments.buffer.readableBytesView[countRange], as: UTF8.self)), count > 0 else {
                return nil
            }
            for index in 3..<(3 + count) {
                guard let range = arguments.range(index) else { break }
                keys.append(range)
            }
        } else if allKeys.contains(name) {
            var index = 1
            while let range = arguments.range(index) {
                keys.append(range)
                index += 1
            }
        } else if twoKeys.contains(name) {
            keys = [arguments.range(1), arguments.range(2)].compactMap { $0 }
        } else if name == "BLPOP" || name == "BRPOP" {
            var index = 1
            while let range = arguments.range(index), arguments.range(index + 1) != nil {
                keys.append(range)
                index += 1
            }
        } else if let range = arguments.range(1) {
            keys = [range]
        }
        var slot: Int?
        let view = arguments.buffer.readableBytesView
        for range in keys {
            let keySlot = HashSlot.of(view[range])
            if let slot, slot != keySlot {
                throw .server("CROSSSLOT Keys in request don't hash to the same slot (command \(name))")
            }
            slot = keySlot
        }
        return slot
    }

    /// The arguments of an encoded command (`*N\r\n` then `$len\r\n<bytes>\r\n` each), found by
    /// walking the buffer; ranges are indices of the buffer's `readableBytesView`.
    private struct Arguments {
        let buffer: ByteBuffer
        private var ranges: [Range<Int>] = []

        init(_ buffer: ByteBuffer) {
            self.buffer = buffer
            let view = buffer.readableBytesView
            var index = view.startIndex
            guard index < view.endIndex, view[index] == UInt8(ascii: "*") else { return }
            guard let (count, afterCount) = Self.number(view, from: view.index(after: index)) else { return }
            index = afterCount
            ranges.reserveCapacity(min(count, 64))
            for _ in 0..<count {
                guard index < view.endIndex, view[index] == UInt8(ascii: "$"),
                      let (length, start) = Self.number(view, from: view.index(after: index)),
                      start + length <= view.endIndex else { return }
                ranges.append(start..<(start + length))
                index = start + length + 2
            }
        }

        /// The range of argument `index`, if there is one.
        func range(_ index: Int) -> Range<Int>? {
            index < ranges.count ? ranges[index] : nil
        }

        /// A decimal number ending in CRLF, and the index after the CRLF.
        private static func number(_ view: ByteBufferView, from start: Int) -> (Int, Int)? {
            var value = 0
            var index = start
            while index < view.endIndex, view[index] != UInt8(ascii: "\r") {
                let digit = Int(view[index]) - Int(UInt8(ascii: "0"))
                guard (0...9).contains(digit), value < Int.max / 16 else { return nil }
                value = value * 10 + digit
                index += 1
            }
            guard index > start, index < view.endIndex else { return nil }
            return (value, index + 2)
        }
    }
}

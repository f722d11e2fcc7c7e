import WorkQueueSeam

/// A heartbeat record as stored in `NAME:worker-info`: one flat JSON object per session, e.g.
/// `{"host":"job-x7k2p","handler":"printer","started_ms":1764000000000,"in_flight":1,"held":3,`
/// `"completed":120,"failed":0,"ttl_ms":15000}` (the session is the hash field), plus
/// `"progress"` when handlers reported progress: one line per lease, `<fraction>\t<item>\t<note>`
/// (fraction 0 to 1, item escaped, note without tabs or line breaks). Readable with
/// `redis-cli hgetall NAME:worker-info`; fields a reader does not know are skipped.
enum HeartbeatRecord {
    /// The record of `heartbeat`, living `ttlMilliseconds`.
    static func encode(_ heartbeat: WorkerHeartbeat, ttlMilliseconds: Int) -> String {
        var text = "{\"host\":"
        JSONString.append(heartbeat.host, to: &text)
        text += ",\"handler\":"
        JSONString.append(heartbeat.handler, to: &text)
        text += ",\"started_ms\":\(heartbeat.startedAtMilliseconds),\"in_flight\":\(heartbeat.inFlight)"
        text += ",\"held\":\(heartbeat.held),\"completed\":\(heartbeat.completed),\"failed\":\(heartbeat.failed)"
        if !heartbeat.progress.isEmpty {
            text += ",\"progress\":"
            // Tabs and line breaks would split the entry: they become spaces.
            func oneField(_ text: String) -> String {
                String(text.map { $0 == "\t" || $0 == "\n" || $0 == "\r" ? " " : $0 })
            }
            let lines = heartbeat.progress.prefix(WorkerHeartbeat.maxProgressEntries).map { entry in
                "\(entry.fraction)\t\(oneField(entry.item))\t\(oneField(entry.note))"
            }
            JSONString.append(lines.joined(separator: "\n"), to: &text)
        }
        text += ",\"ttl_ms\":\(ttlMilliseconds)}"
        return text
    }

    /// The heartbeat of `session` and the TTL it was written with, from its record; nil when
    /// the record is not a JSON object of strings and integers.
    static func decode(_ bytes: [UInt8], session: String) -> (heartbeat: WorkerHeartbeat, ttlMilliseconds: Int)? {
        guard let fields = parseFlatObject(bytes) else { return nil }
        func int(_ key: String) -> Int64 {
            if case let .integer(value)? = fields[key] { return value }
            return 0
        }
        func string(_ key: String) -> String {
            if case let .string(value)? = fields[key] { return value }
            return ""
        }
        let heartbeat = WorkerHeartbeat(session: session, host: string("host"), handler: string("handler"),
                                        startedAtMilliseconds: int("started_ms"), inFlight: Int(int("in_flight")),
                                        held: Int(int("held")), completed: Int(int("completed")), failed: Int(int("failed")),
                                        progress: progress(string("progress")))
        return (heartbeat, Int(int("ttl_ms")))
    }

    /// The progress entries of a record's `progress` field (lines that do not parse are skipped).
    static func progress(_ text: String) -> [WorkerHeartbeat.ItemProgress] {
        guard !text.isEmpty else { return [] }
        return text.split(separator: "\n").compactMap { line in
            let parts = line.split(separator: "\t", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3, let fraction = Double(parts[0]) else { return nil }
            return WorkerHeartbeat.ItemProgress(item: String(parts[1]), fraction: fraction, note: String(parts[2]))
        }
    }

    enum Value: Equatable {
        case string(String)
        case integer(Int64)
    }

    /// Parses `{"key": "string" | integer, ...}`; nil for anything else (nesting, floats,
    /// booleans, bad escapes).
    static func parseFlatObject(_ bytes: [UInt8]) -> [String: Value]? {
        var index = 0
        func skipSpace() {
            while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
        }
        func expect(_ byte: UInt8) -> Bool {
            skipSpace()
            guard index < bytes.count, bytes[index] == byte else { return false }
            index += 1
            return true
        }
        func hexValue(_ count: Int) -> UInt32? {
            guard index + count <= bytes.count else { return nil }
            var value: UInt32 = 0
            for byte in bytes[index..<index + count] {
                let digit: UInt32
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
                default: return nil
                }
                value = value * 16 + digit
            }
            index += count
            return value
        }
        func string() -> String? {
            guard expect(UInt8(ascii: "\"")) else { return nil }
            var scalars = String.UnicodeScalarView()
            var raw: [UInt8] = []
            func flush() {
                scalars.append(contentsOf: String(decoding: raw, as: UTF8.self).unicodeScalars)
                raw = []
            }
            while index < bytes.count {
                let byte = bytes[index]
                index += 1
                switch byte {
                case UInt8(ascii: "\""):
                    flush()
                    return String(scalars)
                case UInt8(ascii: "\\"):
                    guard index < bytes.count else { return nil }
                    let escape = bytes[index]
                    index += 1
                    flush()
                    switch escape {
                    case UInt8(ascii: "\""): scalars.append("\"")
                    case UInt8(ascii: "\\"): scalars.append("\\")
                    case UInt8(ascii: "/"): scalars.append("/")
                    case UInt8(ascii: "b"): scalars.append("\u{8}")
                    case UInt8(ascii: "f"): scalars.append("\u{C}")
                    case UInt8(ascii: "n"): scalars.append("\n")
                    case UInt8(ascii: "r"): scalars.append("\r")
                    case UInt8(ascii: "t"): scalars.append("\t")
                    case UInt8(ascii: "u"):
                        guard var code = hexValue(4) else { return nil }
                        if (0xD800..<0xDC00).contains(code), index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"),
                           bytes[index + 1] == UInt8(ascii: "u") {
                            index += 2
                            guard let low = hexValue(4), (0xDC00..<0xE000).contains(low) else { return nil }
                            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        }
                        scalars.append(Unicode.Scalar(code) ?? "\u{FFFD}")
                    default: return nil
                    }
                default:
                    raw.append(byte)
                }
            }
            return nil
        }
        func integer() -> Int64? {
            skipSpace()
            let start = index
            if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            return Int64(String(decoding: bytes[start..<index], as: UTF8.self))
        }
        guard expect(UInt8(ascii: "{")) else { return nil }
        var fields: [String: Value] = [:]
        if expect(UInt8(ascii: "}")) { return fields }
        while true {
            guard let key = string(), expect(UInt8(ascii: ":")) else { return nil }
            skipSpace()
            guard index < bytes.count else { return nil }
            if bytes[index] == UInt8(ascii: "\"") {
                guard let value = string() else { return nil }
                fields[key] = .string(value)
            } else {
                guard let value = integer() else { return nil }
                fields[key] = .integer(value)
            }
            if expect(UInt8(ascii: ",")) { continue }
            guard expect(UInt8(ascii: "}")) else { return nil }
            skipSpace()
            return index == bytes.count ? fields : nil
        }
    }
}

import NIOCore
import WorkQueueSeam

/// The completion records: `NAME:results`, a stream with one entry per completion whose
/// handler returned a result (fields item, result, attempt, worker), written by the exchange
/// script and trimmed there to ``resultsMax`` (what the trim drops is counted in
/// `NAME:results:dropped`).
extension RedisQueue: CompletionLog {
    /// At most `limit` (1 to 1000) records after the record `after` (nil: the oldest), oldest
    /// first, with one `XRANGE`. The reply is decoded straight from its wire bytes into records
    /// (`XRANGEDecoder`), without a generic value tree.
    public func completions(after: String?, limit: Int) async throws -> [CompletionRecord] {
        let (wire, fields) = try await completionFields(after: after, limit: limit)
        return wire.withUnsafeReadableBytes { bytes in fields.map { XRANGEDecoder.record($0, in: bytes) } }
    }

    /// ``completions(after:limit:)`` undecoded: the `XRANGE` reply's wire bytes and where each
    /// record's fields are in them (what ``CompletionPage`` holds: nothing copied).
    package func completionFields(after: String?, limit: Int) async throws -> (ByteBuffer, [XRANGEDecoder.RecordFields]) {
        var command = RESPCommand(capacity: keys.results.utf8.count + 64)
        command.append("XRANGE")
        command.append(keys.results)
        if let after { command.append("(" + after) } else { command.append("-") }
        command.append("+")
        command.append("COUNT")
        command.append(Swift.min(Swift.max(limit, 1), 1000))
        command.wantsToken = true
        let reply = try await checked(client.send(command), "XRANGE")
        guard case let .bulkString(wire?) = reply else { throw RedisError.unexpectedReply("XRANGE \(keys.results) -> \(reply)") }
        do {
            return (wire, try XRANGEDecoder.recordFields(wire))
        } catch {
            throw RedisError.unexpectedReply("XRANGE \(keys.results): \(error)")
        }
    }

    /// Deletes records by ID (`XDEL`, 1000 per command).
    @discardableResult
    public func deleteCompletions(_ ids: [String]) async throws -> Int {
        var deleted = 0
        for start in stride(from: 0, to: ids.count, by: 1000) {
            let chunk = ids[start..<Swift.min(ids.count, start + 1000)]
            let reply = try await checked(client.send(["XDEL", RESPArgument(keys.results)] + chunk.map { RESPArgument($0) }), "XDEL")
            deleted += reply.int ?? 0
        }
        return deleted
    }

    /// `XLEN NAME:results` and `NAME:results:dropped`.
    public func completionCounts() async throws -> (kept: Int, dropped: Int) {
        let replies = try await client.pipeline([["XLEN", RESPArgument(keys.results)], ["GET", RESPArgument(keys.resultsDropped)]])
        guard replies.count == 2 else { throw RedisError.unexpectedReply("XLEN, GET -> \(replies)") }
        let kept = try await checked(replies[0], "XLEN").int ?? 0
        let dropped = try await checked(replies[1], "GET").int ?? 0
        return (kept, dropped)
    }

    /// The latest result recorded for each item (nil: none, e.g. not completed yet, a handler
    /// that returned nil, or dropped by ``resultsMax``), in the order of `items`. Reads the
    /// whole of `NAME:results`, a page of 1000 records at a time: for many results, read
    /// ``completions(after:limit:)`` instead.
    /// Items match by their exact bytes (a typed lookup,
    /// `QueueProducer.result(_:for:)`, matches by canonical JSON instead).
    public func results(for items: [WorkItem]) async throws -> [String?] {
        try await results(for: items.map(\.bytes)) { $0.bytes }
    }

    /// The latest result of each of `wanted`, a record matching the key `key` makes of its
    /// item (nil: the record matches none), in the order of `wanted`; reads as
    /// ``results(for:)``.
    package func results<Key: Hashable & Sendable>(for wanted: [Key], key: @Sendable (WorkItem) -> Key?) async throws -> [String?] {
        let keys = Set(wanted)
        var latest: [Key: String] = [:]
        var after: String?
        while true {
            let page = try await completions(after: after, limit: 1000)
            for record in page {
                if let matched = key(record.item), keys.contains(matched) { latest[matched] = record.result }
            }
            guard let last = page.last, page.count == 1000 else { break }
            after = last.id
        }
        return wanted.map { latest[$0] }
    }

    /// `reply`, or the error it holds: WRONGTYPE names the key (an earlier version's hash in
    /// `NAME:results` says how to migrate).
    private func checked(_ reply: RESPValue, _ command: String) async throws -> RESPValue {
        guard case let .error(message) = reply else { return reply }
        if message.contains("WRONGTYPE") { try await validateKeyTypes() }
        throw await classified(RedisError.server(message))
    }
}

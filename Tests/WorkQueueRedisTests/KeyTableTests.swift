import Foundation
import Testing
@testable import WorkQueueRedis

/// The key table (`QueueKey`) is the one declaration of the queue's keys: docs/redis.md shows the
/// same keys in the same order with the same types, every script names its keys from it, and
/// its names are what `RedisKeys` and the key-type check use.
@Suite struct KeyTableTests {
    /// The rows of the table under `## Redis keys` in docs/redis.md: key and type columns.
    static func documentedRows() throws -> [(key: String, type: String)] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/redis.md")
        let text = try String(contentsOf: url, encoding: .utf8)
        let section = try #require(text.range(of: "\n## Redis keys\n"), "docs/redis.md has no ## Redis keys section")
        var rows: [(String, String)] = []
        var inTable = false
        for line in text[section.upperBound...].split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("| key |") { inTable = true; continue }
            guard inTable else { continue }
            if line.hasPrefix("|---") { continue }
            guard line.hasPrefix("|") else { break }
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count > 3 else { continue }
            rows.append((cells[1].replacingOccurrences(of: "`", with: ""), cells[2]))
        }
        return rows
    }

    /// What docs/redis.md must show for each key of the table, in order.
    static var expectedRows: [(key: String, type: String)] {
        QueueKey.allCases.map { key in
            let row = key.row
            return ("NAME" + row.suffix + (key.isPerItem ? "<sha224>" : ""), row.type.documented + (row.expires ? ", TTL" : ""))
        }
    }

    @Test func docsShowTheSwiftTableInItsOrder() throws {
        let documented = try Self.documentedRows()
        let expected = Self.expectedRows
        #expect(documented.map(\.key) == expected.map(\.key), "docs/redis.md's key column differs from QueueKey")
        for (doc, swift) in zip(documented, expected) where doc.key == swift.key {
            #expect(doc.type == swift.type, "\(doc.key): docs/redis.md says \(doc.type), QueueKey says \(swift.type)")
        }
    }

    @Test func everyKeyHasItsOwnLuaNameAndSuffix() {
        let rows = QueueKey.allCases.map(\.row)
        #expect(Set(rows.map(\.lua)).count == rows.count)
        #expect(Set(rows.map(\.suffix)).count == rows.count)
        for row in rows { #expect(row.lua.wholeMatch(of: /[a-z][a-z_]*/) != nil, "\(row.lua) is not a Lua name") }
    }

    @Test func keysAreNamedFromTheTable() {
        let keys = RedisKeys("job2")
        for key in QueueKey.allCases { #expect(keys[key] == "job2" + key.row.suffix) }
        #expect(keys.typed.map(\.key) == QueueKey.fixed.map { "job2" + $0.row.suffix })
        #expect(keys.pending == "job2" && keys.processing == "job2:processing")
    }

    /// A script's KEYS come from its declaration, and its text binds them by name.
    @Test func everyScriptBindsItsDeclaredKeysByName() {
        let keys = RedisKeys("job2")
        for script in RedisScript.all {
            #expect(keys.of(script) == script.keys.map { keys[$0] }, "\(script.name)")
            #expect(Set(script.keys).count == script.keys.count, "\(script.name) declares a key twice")
            let names = script.keys.map(\.row.lua) + script.given
            #expect(script.source.contains(RedisScript.keyPrelude(names)), "\(script.name)")
        }
        #expect(RedisScript.keyPrelude(["pending", "processing"]) == "local pending, processing = KEYS[1], KEYS[2]\n")
    }

    /// Every script's name is unique, and the registry holds each once.
    @Test func theRegistryHoldsEachScriptOnce() {
        #expect(Set(RedisScript.all.map(\.name)).count == RedisScript.all.count)
        #expect(Set(RedisScript.all.map(\.sha1)).count == RedisScript.all.count)
    }
}

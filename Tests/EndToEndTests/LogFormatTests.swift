import Foundation
import Testing
import TestSupport

/// `--log-format json`: every stderr line is one JSON object with the level, the message, the
/// session and, for an item, the item (escaped) and the attempt; stdout keeps the tutorial's
/// lines.
@Suite struct LogFormatTests {
    @Test func jsonLogsAreOneObjectPerLineWithSessionItemAndAttempt() async throws {
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            // An item with a quote, a tab and an invalid byte: escaped in the JSON, which still parses.
            try await redis.cli("rpush", "jq", "12", "bad\"\titem")
            let (worker, status) = try await wq.run(["work", "--queue", "jq", "--handler", "factor", "--max-attempts", "2",
                                                     "--retry-base-seconds", "0.05", "--log-format", "json"])
            #expect(status == .exited(0), "\(worker.stderr)")
            #expect(worker.stdoutLines.contains("12 = 2 * 2 * 3"))
            #expect(worker.stdoutLines.last == "Queue empty, exiting")
            let lines = worker.stderr.split(separator: "\n").map(String.init)
            try #require(!lines.isEmpty)
            var objects: [[String: Any]] = []
            for line in lines {
                let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                #expect(object != nil, "not a JSON object: \(line)")
                if let object { objects.append(object) }
            }
            #expect(objects.allSatisfy { $0["level"] is String && $0["message"] is String && $0["time"] is String })
            let failures = objects.filter { ($0["message"] as? String)?.contains("failed") == true }
            try #require(failures.count == 2, "\(worker.stderr)")
            #expect(failures.map { $0["attempt"] as? String } == ["1", "2"])
            #expect(failures.allSatisfy { $0["item"] as? String == "bad\"\\x09item" }, "\(failures)")
            #expect(failures.allSatisfy { ($0["session"] as? String)?.count == 36 })
            #expect(failures.last?["level"] as? String == "error")
        }
    }

    @Test func anUnknownLogFormatIsABadFlag() async throws {
        try await LocalRedis.with { redis in
            let (process, status) = try await Workqueue(redis).run(["status", "--queue", "q", "--log-format", "xml"])
            #expect(status == .exited(64))
            #expect(process.stderr.contains("--log-format 'xml' is invalid: expected text or json"), "\(process.stderr)")
        }
    }
}

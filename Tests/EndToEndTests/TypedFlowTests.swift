import Foundation
import Testing
import TestSupport

/// The typed `wordcount` handler in the bundled `workqueue` on a real Redis: JSON results
/// stored, a malformed item dead-lettered on its first attempt with the coding path shown.
@Suite struct TypedFlowTests {
    @Test func aMalformedTypedItemIsDeadLetteredOnItsFirstAttemptWithTheCodingPath() async throws {
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            let good = #"{"text": "to be or not", "min": 3}"#
            let bad = #"{"text": "to be", "min": "three"}"#
            let (push, pushed) = try await wq.run(["push", "--queue", "wc", good, bad])
            #expect(pushed == .exited(0), "\(push.stderr)")
            let (worker, termination) = try await wq.run(
                ["work", "--queue", "wc", "--handler", "wordcount", "--max-attempts", "3", "--retry-base-seconds", "5"])
            #expect(termination == .exited(0), "\(worker.stderr)")

            let (dead, _) = try await wq.run(["dead", "--queue", "wc", "list"])
            #expect(dead.stdoutLines == [
                "\(bad)\tattempts=1\tunprocessable item: the item does not decode as Input at $.min: expected Int; "
                    + "Expected to decode Int but found a string instead.",
            ])
            let (results, _) = try await wq.run(["results", "--queue", "wc"])
            #expect(results.stdoutLines.count == 1)
            #expect(results.stdoutLines.first?.contains(#""result":"{\"words\":1}""#) == true, "\(results.stdoutLines)")
            #expect(try await redis.cli("get", "wc:completed") == "1")
        }
    }
}

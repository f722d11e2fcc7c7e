import Foundation
import Testing
import WorkQueue
import WorkQueueRedis

/// The one place that decides whether a Redis error is worth retrying.
@Suite struct ErrorKindTests {
    @Test(arguments: [
        ("NOPERM User worker has no permissions to run the 'evalsha' command", RedisErrorKind.permanent),
        ("ERR The user executing the script can't run this command or subcommand script: abc, on @user_script:80.", .permanent),
        ("WRONGTYPE Operation against a key holding the wrong kind of value", .permanent),
        ("ERR Error running script (call to f_abc): @user_script:1: oops", .permanent),
        ("ERR user_script:1: Script attempted to access nonexistent global variable 'x' script: abc, on @user_script:1.", .permanent),
        ("ERR unknown command 'BLMOVE', with args beginning with: ", .permanent),
        ("WRONGPASS invalid username-password pair or user is disabled.", .permanent),
        ("READONLY You can't write against a read only replica.", .reconnect),
        ("LOADING Redis is loading the dataset in memory", .reconnect),
        ("OOM command not allowed when used memory > 'maxmemory'.", .backOff),
        ("ERR max number of clients reached", .transient),
    ])
    func classification(message: String, expected: RedisErrorKind) {
        #expect(RedisError.server(message).kind == expected)
        #expect(RedisError.server(message).isPermanent == (expected == .permanent))
    }

    @Test func transportErrorsAreTransient() {
        #expect(RedisError.connectionClosed("127.0.0.1:6379").kind == .transient)
        #expect(RedisError.timedOut(endpoint: "e", command: "EVALSHA", after: .seconds(10)).kind == .transient)
    }

    @Test func hintsSayWhatToDo() {
        let noperm = RedisError.server("NOPERM User worker has no permissions to run the 'lrem' command").explained(queue: "job2")
        #expect(noperm.contains("ACL SETUSER worker on >PASSWORD resetkeys ~job2 ~job2:* resetchannels -@all"))
        #expect(noperm.contains("+evalsha") && noperm.contains("+script|load") && noperm.contains("+lrem"))
        #expect(RedisError.server("OOM command not allowed when used memory > 'maxmemory'.").description.contains("maxmemory"))
    }

    /// The README documents the same rule the hint prints.
    @Test func theReadmeDocumentsTheRule() throws {
        let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/redis.md")
        let text = try String(contentsOf: readme, encoding: .utf8)
        #expect(text.contains(RedisError.aclRule(queue: "NAME")))
    }
}

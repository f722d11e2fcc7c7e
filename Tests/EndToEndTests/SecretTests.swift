import Foundation
import Testing
import TestSupport

/// The Redis password from a file: used by every command, never shown, never stored.
@Suite struct SecretTests {
    static let password = "Zq9-very-secret-PW"

    func expectNoSecret(_ process: ChildProcess, _ secrets: [String] = [password], sourceLocation: SourceLocation = #_sourceLocation) {
        for secret in secrets {
            #expect(!process.stdout.contains(secret), "stdout shows the password: \(process.stdout)", sourceLocation: sourceLocation)
            #expect(!process.stderr.contains(secret), "stderr shows the password: \(process.stderr)", sourceLocation: sourceLocation)
        }
    }

    @Test func thePasswordFileWorksForEveryCommandAndThePasswordIsNeverShownOrStored() async throws {
        let redis = try await LocalRedis(arguments: ["--requirepass", Self.password],
                                         cliAuthentication: ["-a", Self.password, "--no-auth-warning"])
        defer { Task { await redis.stop() } }
        let wq = try Workqueue(redis)
        let file = wq.directory.path + "/redis-password"
        try (Self.password + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let wrongFile = wq.directory.path + "/wrong-password"
        try "Wrong-guess-PW\n".write(toFile: wrongFile, atomically: true, encoding: .utf8)

        let (push, pushed) = try await wq.run(["push", "--queue", "sec", "apple", "banana"], environment: ["REDIS_PASSWORD_FILE": file])
        #expect(pushed == .exited(0), "\(push.stderr)")
        expectNoSecret(push)
        let (status, statusCode) = try await wq.run(["status", "--queue", "sec", "--redis-password-file", file, "--log-level", "trace"])
        #expect(statusCode == .exited(0), "\(status.stderr)")
        expectNoSecret(status)
        let worker = try wq.start(["work", "--queue", "sec", "--handler", "printer", "--option", "delay=0.5", "--log-level", "trace"],
                                  environment: ["REDIS_PASSWORD_FILE": file])
        #expect(try await worker.waitForStdout(containing: "Working on apple"), "\(worker.stderr)")
        let clients = try await redis.cli("CLIENT", "LIST")
        #expect(!clients.contains(Self.password))
        #expect(try await worker.wait() == .exited(0), "\(worker.stderr)")
        expectNoSecret(worker)

        // A failing login: says so, shows neither password.
        let (refused, refusedCode) = try await wq.run(["status", "--queue", "sec", "--connect-timeout", "1"],
                                                      environment: ["REDIS_PASSWORD_FILE": wrongFile])
        #expect(refusedCode == .exited(78))
        #expect(refused.stderr.contains("WRONGPASS") || refused.stderr.contains("invalid username-password"), "\(refused.stderr)")
        expectNoSecret(refused, [Self.password, "Wrong-guess-PW"])
        // A bad URL with a password in it: the error redacts it.
        let (badURL, badCode) = try await wq.run(["status", "--queue", "sec", "--redis", "redis://:\(Self.password)@127.0.0.1:notaport"])
        #expect(badCode != .exited(0))
        #expect(badURL.stderr.contains("port"), "\(badURL.stderr)")
        expectNoSecret(badURL)
        // A missing file: the error names it and the variable.
        let (missing, missingCode) = try await wq.run(["status", "--queue", "sec"],
                                                      environment: ["REDIS_PASSWORD_FILE": wq.directory.path + "/nope"])
        #expect(missingCode == .exited(78))
        #expect(missing.stderr.contains(wq.directory.path + "/nope") && missing.stderr.contains("REDIS_PASSWORD_FILE"), "\(missing.stderr)")

        // Nothing in Redis holds the password: no key name, no value.
        let keys = try await redis.cli("--scan").split(separator: "\n").map(String.init)
        #expect(!keys.isEmpty)
        for key in keys {
            #expect(!key.contains(Self.password))
            let type = try await redis.cli("TYPE", key)
            let value: String = switch type {
            case "list": try await redis.cli("LRANGE", key, "0", "-1")
            case "hash": try await redis.cli("HGETALL", key)
            case "zset": try await redis.cli("ZRANGE", key, "0", "-1", "WITHSCORES")
            case "string": try await redis.cli("GET", key)
            default: ""
            }
            #expect(!value.contains(Self.password), "\(key) holds the password")
        }
    }
}

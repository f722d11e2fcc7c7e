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

    /// Defect 7: a URL whose shape the command cannot parse (a scheme other than exactly
    /// redis:// or rediss://, none at all, a bad seed list, an `@` in the password), given by a
    /// flag or a variable, is refused (exit 64) with an error naming the problem, and its
    /// password is in neither stdout nor stderr; nor is one in a value given to the wrong flag.
    @Test func aPasswordInAURLOfAnyShapeIsNeverPrinted() async throws {
        let redis = try await LocalRedis()
        defer { Task { await redis.stop() } }
        let wq = try Workqueue(redis)
        let secret = Self.password
        let status = ["status", "--queue", "sec", "--log-level", "trace"]
        let cases: [(arguments: [String], environment: [String: String], problem: String)] = [
            (status + ["--redis", "Redis://:\(secret)@127.0.0.1:\(redis.port)"], [:],
             "the scheme must be redis:// (or rediss:// for TLS), in lower case, not Redis://"),
            (status + ["--redis", "REDISS://user:\(secret)@127.0.0.1:\(redis.port)"], [:], "in lower case, not REDISS://"),
            (status + ["--redis", "redis:/:\(secret)@127.0.0.1:\(redis.port)"], [:], "the scheme must be redis://"),
            (status, ["REDIS_URL": "tcp://user:\(secret)@127.0.0.1:\(redis.port)"], "not tcp://"),
            (status, ["REDIS_URL": ":\(secret)@127.0.0.1:\(redis.port)"], "and this URL has none"),
            (status + ["--redis", "user:\(secret)@127.0.0.1:\(redis.port)"], [:], "and this URL has none"),
            (status + ["--redis", "redis://:p@\(secret)@127.0.0.1:notaport"], [:], "the port (not shown)"),
            // A password without its '@host' stands where the port would.
            (status + ["--redis", "redis://:\(secret)"], [:], "a password needs an '@host' after it"),
            (status + ["--redis", "redis://:\(secret) with spaces@127.0.0.1/x"], [:], "database 'x'"),
            (["push", "--queue", "sec", "a"], ["REDIS_URL": "redis://:\(secret)%40x@127.0.0.1:0"], "port '0'"),
            // Cluster seed lists, by flag and by variable.
            (status + ["--cluster", "--redis", "redis://:\(secret)@127.0.0.1:1,,127.0.0.1:2"], [:],
             "an empty host in the list of cluster nodes"),
            (status + ["--redis", "tcp://:\(secret)@127.0.0.1:1,127.0.0.1:2"], [:], "not tcp://"),
            (status, ["WORKQUEUE_CLUSTER": "1", "REDIS_URL": "Redis://u:\(secret)@127.0.0.1:1,127.0.0.1:2"], "in lower case"),
            (status, ["WORKQUEUE_CLUSTER": "true", "REDIS_URL": ":\(secret)@127.0.0.1:1"], "and this URL has none"),
            // Kubernetes' service variables.
            (status, ["REDIS_URL": "", "REDIS_SERVICE_HOST": "127.0.0.1", "REDIS_SERVICE_PORT": "u:\(secret)@1"], "REDIS_SERVICE_PORT"),
            // A URL given where another value belongs: echoed by the check of that value.
            (status + ["--shards", "redis://:\(secret)@127.0.0.1:1"], [:], "--shards"),
            (status, ["WORKQUEUE_SHARDS": "redis://:\(secret)@127.0.0.1:1"], "WORKQUEUE_SHARDS"),
            (status, ["WORKQUEUE_CLUSTER": "redis://:\(secret)@127.0.0.1:1"], "WORKQUEUE_CLUSTER"),
            (["work", "--queue", "sec", "--handler", "noop", "--metrics-push", "http://user:\(secret)@127.0.0.1:9091"], [:],
             "--metrics-push"),
        ]
        for (arguments, environment, problem) in cases {
            let (process, termination) = try await wq.run(arguments, environment: environment)
            #expect(termination == .exited(64), "\(environment) \(process.stderr)")
            #expect(process.stderr.contains(problem), "\(environment) \(process.stderr)")
            #expect(process.stderr.contains("***"), "\(environment) \(process.stderr)")
            expectNoSecret(process)
        }
    }
}

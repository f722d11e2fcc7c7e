import Testing
@testable import WorkQueueRedis

/// Defect 7, "a password printed": whatever the shape of a URL, a message never shows what
/// could be its credentials (anything before its last `@`, but a username).
@Suite struct RedactionTests {
    /// One value and its redacted form; `secrets` must appear in neither.
    struct Case: Sendable, CustomTestStringConvertible {
        let value: String
        let redacted: String
        var secrets = ["s3cret"]
        var testDescription: String { value }
    }

    static let values: [Case] = [
        Case(value: "redis://bob:s3cret@h:1/0", redacted: "redis://bob:***@h:1/0"),
        Case(value: "redis://:s3cret@h:1", redacted: "redis://:***@h:1"),
        Case(value: "redis://s3cret@h", redacted: "redis://***@h"),
        Case(value: "rediss://bob:s3cret@db.example:6380/2", redacted: "rediss://bob:***@db.example:6380/2"),
        // A scheme that is not exactly redis:// or rediss://.
        Case(value: "Redis://:s3cret@h:6379", redacted: "Redis://:***@h:6379"),
        Case(value: "REDISS://u:s3cret@h", redacted: "REDISS://u:***@h"),
        Case(value: "redis:/:s3cret@h:1", redacted: "redis:/:***@h:1"),
        Case(value: "tcp://user:s3cret@h", redacted: "tcp://user:***@h"),
        Case(value: "http://user:s3cret@pushgateway:9091", redacted: "http://user:***@pushgateway:9091"),
        Case(value: "redis//:s3cret@h", redacted: "redis//:***@h"),
        Case(value: "redis:s3cret@h", redacted: "redis:***@h"),
        // No scheme at all.
        Case(value: ":s3cret@h:1", redacted: ":***@h:1"),
        Case(value: "s3cret@h:1", redacted: "***@h:1"),
        Case(value: "user:s3cret@h:1", redacted: "user:***@h:1"),
        Case(value: " redis://:s3cret@h", redacted: " redis:***@h"),
        // The password holds an @, a /, a space, a :, percent-encoding, or is not ASCII.
        Case(value: "redis://:s3@cret@h:1", redacted: "redis://:***@h:1", secrets: ["s3@cret", "cret"]),
        Case(value: "redis://u:s3cret@@h", redacted: "redis://u:***@h"),
        Case(value: "redis://:s3/cret@h/2", redacted: "redis://:***@h/2", secrets: ["s3/cret", "cret"]),
        Case(value: "redis://:s3 cret@h", redacted: "redis://:***@h", secrets: ["s3 cret", "cret"]),
        Case(value: "redis://us:er:s3cret@h", redacted: "redis://us:***@h", secrets: ["er:s3cret"]),
        Case(value: "redis://:s3cret%40x@h", redacted: "redis://:***@h", secrets: ["s3cret%40x", "s3cret@x"]),
        Case(value: "redis://:pässwörd-s3cret@h", redacted: "redis://:***@h", secrets: ["pässwörd"]),
        Case(value: "redis://:s3cret@", redacted: "redis://:***@"),
        // Cluster seed lists, with credentials once or per node.
        Case(value: "redis://:s3cret@h1:1,h2:2", redacted: "redis://:***@h1:1,h2:2"),
        Case(value: "redis://:s3cret@h1:1,,h2:2", redacted: "redis://:***@h1:1,,h2:2"),
        Case(value: "redis://:s3cret@h1:1,:other@h2:2", redacted: "redis://:***@h2:2", secrets: ["s3cret", "other"]),
        // Nothing to hide.
        Case(value: "redis://h:1/0", redacted: "redis://h:1/0", secrets: []),
        Case(value: "", redacted: "", secrets: []),
        Case(value: "redis://[user:password@]host[:port][/db]", redacted: "redis://[user:password@]host[:port][/db]", secrets: []),
        Case(value: "redis://@h:1", redacted: "redis://@h:1", secrets: []),
        // ACL categories and a Lua error's script name.
        Case(value: "-@all", redacted: "-@all", secrets: []),
        Case(value: "+@read", redacted: "+@read", secrets: []),
        Case(value: "@user_script:1:", redacted: "@user_script:1:", secrets: []),
        Case(value: "x+@all", redacted: "***@all", secrets: []),
    ]

    @Test(arguments: values)
    func aValueIsRedactedWhateverItsShape(_ entry: Case) {
        let redacted = Redaction.redactingCredentials(entry.value)
        #expect(redacted == entry.redacted)
        for secret in entry.secrets { #expect(!redacted.contains(secret)) }
        #expect(Redaction.redactingCredentials(redacted) == redacted, "not idempotent")
        #expect(RedisConfiguration.redactURL(entry.value) == entry.redacted)
    }

    @Test(arguments: [
        ("invalid Redis URL 'tcp://u:s3cret@h': x", "invalid Redis URL 'tcp://u:***@h': x"),
        ("The value \"Redis://:s3cret@h\" is invalid", "The value \"Redis://:***@h\" is invalid"),
        ("Redis at user:s3cret@h:6379 closed", "Redis at user:***@h:6379 closed"),
        ("two: `:s3cret@a` and s3cret@b.", "two: `:***@a` and ***@b."),
        ("expected redis://[user:password@]host[:port][/db] (rediss:// for TLS)",
         "expected redis://[user:password@]host[:port][/db] (rediss:// for TLS)"),
        ("no URL here", "no URL here"),
        // The rule a missing permission prints must work as printed.
        (RedisError.aclRule(queue: "job"), RedisError.aclRule(queue: "job")),
    ])
    func everyWordOfAMessageIsRedacted(message: String, redacted: String) {
        #expect(Redaction.redactingCredentials(inMessage: message) == redacted)
    }

    /// A URL that cannot be parsed: the error shows no credential and names the problem.
    @Test(arguments: [
        ("Redis://:s3cret@h:6379", "the scheme must be redis:// (or rediss:// for TLS), in lower case, not Redis://"),
        ("REDISS://:s3cret@h:6379", "in lower case, not REDISS://"),
        ("redis:/:s3cret@h:1", "the scheme must be redis:// (or rediss:// for TLS), not redis:/"),
        ("tcp://user:s3cret@h", "the scheme must be redis:// (or rediss:// for TLS), not tcp://"),
        (":s3cret@h:1", "the scheme must be redis:// (or rediss:// for TLS), and this URL has none"),
        ("user:s3cret@h:1", "and this URL has none"),
        ("s3cret@h", "and this URL has none"),
        ("redis://:s3@cret@h:notaport", "the port (not shown) is not a number"),
        // A password without its '@host': it stands where the port would, and is not shown.
        ("redis://:s3cret", "a password needs an '@host' after it"),
        ("redis://user:s3cret", "the port (not shown)"),
        ("redis://h:99999", "the port '99999' is not a number from 1 to 65535"),
        ("redis://:s3cret@h/x", "database 'x'"),
        ("redis://:s3cret@", "the host is missing"),
    ])
    func aBadURLsErrorHidesThePasswordAndNamesTheProblem(url: String, problem: String) {
        do {
            _ = try RedisConfiguration(url: url)
            Issue.record("accepted \(url)")
        } catch {
            let message = "\(error)"
            #expect(!message.contains("s3cret") && !message.contains("cret@"), "\(message)")
            #expect(message.contains(problem), "\(message)")
        }
    }

    /// Seed lists (`--cluster`, or several hosts), from the flag or REDIS_URL.
    @Test(arguments: [
        ("redis://:s3cret@h1:1,,h2:2", "an empty host in the list of cluster nodes"),
        ("tcp://:s3cret@h1:1,h2:2", "the scheme must be redis://"),
        ("Redis://u:s3@cret@h1:1,h2:2", "in lower case"),
        ("redis://:s3cret@h1:1,h2:x", "the port (not shown)"),
        (":s3cret@h1:1,h2:2", "and this URL has none"),
    ])
    func aBadSeedListsErrorHidesThePassword(url: String, problem: String) {
        for (flag, environment) in [(url, [String: String]()), (nil, ["REDIS_URL": url])] {
            for cluster in [false, true] {
                do {
                    _ = try RedisDeployment.resolve(flag: flag, environment: environment, cluster: cluster)
                    Issue.record("accepted \(url)")
                } catch {
                    let message = "\(error)"
                    #expect(!message.contains("s3cret") && !message.contains("cret@"), "\(message)")
                    #expect(message.contains(problem), "\(message)")
                }
            }
        }
    }

    /// A host that holds credentials (a strange REDIS_SERVICE_HOST) is not shown in logs or
    /// messages either; nor is a strange REDIS_SERVICE_PORT.
    @Test func aHostOrPortWithCredentialsIsRedactedToo() throws {
        let configuration = try RedisConfiguration.resolve(flag: nil, environment: ["REDIS_SERVICE_HOST": "u:s3cret@h"])
        #expect(!configuration.endpoint.contains("s3cret"), "\(configuration.endpoint)")
        #expect(!configuration.redactedDescription.contains("s3cret"), "\(configuration.redactedDescription)")
        #expect(!"\(RedisDeployment.standalone(configuration))".contains("s3cret"))
        #expect(!"\(RedisDeployment.cluster(seeds: [configuration]))".contains("s3cret"))
        #expect(!"\(RedisError.connectionClosed(configuration.endpoint))".contains("s3cret"))
        do {
            _ = try RedisConfiguration.resolve(flag: nil, environment: ["REDIS_SERVICE_HOST": "h", "REDIS_SERVICE_PORT": "u:s3cret@1"])
            Issue.record("a bad port was accepted")
        } catch {
            #expect(!"\(error)".contains("s3cret"), "\(error)")
        }
    }
}

import ArgumentParser
import Foundation
import Testing
import WorkQueue
import WorkQueueRedis
@testable import WorkQueueCommand

/// The settings are declared once (``Catalog``): the README's tables, `--help`, the variables
/// read and the defaults all come from the declarations, and none of the contract's names move.
@Suite struct CatalogTests {
    /// The flags, variables and defaults users and manifests rely on (the contract: it may be
    /// extended, never renamed). Written out here on purpose, so that a renamed flag or
    /// variable, or a changed default, fails.
    static let contract: [(flag: String, variable: String, defaultText: String?)] = [
        ("--queue", "WORKQUEUE_QUEUE", nil), ("--shards", "WORKQUEUE_SHARDS", "1"),
        ("--redis", "REDIS_URL", "redis://redis:6379"), ("--cluster", "WORKQUEUE_CLUSTER", "off"),
        ("--redis-password-file", "REDIS_PASSWORD_FILE", nil), ("--tls-ca-file", "WORKQUEUE_TLS_CA_FILE", "system CA bundle"),
        ("--tls-cert-file", "WORKQUEUE_TLS_CERT_FILE", nil), ("--tls-key-file", "WORKQUEUE_TLS_KEY_FILE", nil),
        ("--connect-timeout", "WORKQUEUE_CONNECT_TIMEOUT", "30"), ("--log-level", "WORKQUEUE_LOG_LEVEL", "info"),
        ("--log-format", "WORKQUEUE_LOG_FORMAT", "text"), ("--handler", "WORKQUEUE_HANDLER", nil),
        ("--plugin", "WORKQUEUE_PLUGIN", nil), ("--symbol", "WORKQUEUE_SYMBOL", nil), ("--signature", "WORKQUEUE_SIGNATURE", nil),
        ("--option", "WORKQUEUE_OPTIONS", nil), ("--lease-seconds", "WORKQUEUE_LEASE_SECONDS", "30"),
        ("--concurrency", "WORKQUEUE_CONCURRENCY", "1"), ("--prefetch", "WORKQUEUE_PREFETCH", "adaptive"),
        ("--max-item-bytes", "WORKQUEUE_MAX_ITEM_BYTES", "4194304"), ("--max-attempts", "WORKQUEUE_MAX_ATTEMPTS", "5"),
        ("--retry-base-seconds", "WORKQUEUE_RETRY_BASE_SECONDS", "1"), ("--retry-max-seconds", "WORKQUEUE_RETRY_MAX_SECONDS", "300"),
        ("--grace-seconds", "WORKQUEUE_SHUTDOWN_GRACE_SECONDS", "20"), ("--recovery-seconds", "WORKQUEUE_RECOVERY_SECONDS", "5"),
        ("--backend-retry-seconds", "WORKQUEUE_BACKEND_RETRY_SECONDS", "30"),
        ("--require-noeviction", "WORKQUEUE_REQUIRE_NOEVICTION", "off"), ("--results-max", "WORKQUEUE_RESULTS_MAX", "10000"),
        ("--heartbeat-seconds", "WORKQUEUE_HEARTBEAT_SECONDS", "5"), ("--keep-running", "WORKQUEUE_KEEP_RUNNING", "off"),
        ("--metrics-port", "WORKQUEUE_METRICS_PORT", nil), ("--metrics-push", "WORKQUEUE_METRICS_PUSH", nil),
        ("--wait-replicas", "WORKQUEUE_WAIT_REPLICAS", "0, no wait"), ("--wait-seconds", "WORKQUEUE_WAIT_SECONDS", "5"),
        ("--serve", "WORKQUEUE_STATUS_PORT", nil),
    ]

    @Test func theContractsNamesAndDefaultsAreDeclared() {
        for entry in Self.contract {
            let setting = Catalog.all.first { $0.flag == entry.flag }
            #expect(setting != nil, "\(entry.flag) is not declared")
            #expect(setting?.variable == entry.variable, "\(entry.flag)")
            #expect(setting?.defaultText == entry.defaultText, "\(entry.flag)")
        }
    }

    /// Every flag of every command is declared in the catalog (``Catalog/byCommand``), and
    /// the catalog declares no flag a command lacks: the test walks ArgumentParser's own
    /// description of every subcommand (`--experimental-dump-help`), so a flag added with an
    /// inline name, default or range fails here.
    @Test func everyFlagOfEveryCommandIsInTheCatalog() throws {
        let dump: String
        do {
            _ = try RootCommand.parseAsRoot(["--experimental-dump-help"])
            Issue.record("--experimental-dump-help did not stop the parse")
            return
        } catch {
            dump = RootCommand.fullMessage(for: error)
        }
        let root = try #require(try JSONSerialization.jsonObject(with: Data(dump.utf8)) as? [String: Any])
        let command = try #require(root["command"] as? [String: Any])
        let subcommands = try #require(command["subcommands"] as? [[String: Any]])
        let declared = Catalog.byCommand
        var walked: Set<String> = []
        var flagsSeen = 0
        for subcommand in subcommands {
            let name = try #require(subcommand["commandName"] as? String)
            guard name != "help" else { continue }  // ArgumentParser's own
            walked.insert(name)
            let settings = try #require(declared[name], "`\(name)` has no entry in Catalog.byCommand")
            let catalogued = Set(settings.map(\.flag))
            var flags: Set<String> = []
            for argument in subcommand["arguments"] as? [[String: Any]] ?? [] {
                guard argument["kind"] as? String != "positional" else { continue }
                for entry in argument["names"] as? [[String: Any]] ?? [] where entry["kind"] as? String == "long" {
                    let flag = "--" + (entry["name"] as? String ?? "")
                    guard flag != "--help", flag != "--version" else { continue }  // ArgumentParser's own
                    flags.insert(flag)
                }
            }
            flagsSeen += flags.count
            for flag in flags.subtracting(catalogued).sorted() {
                Issue.record("`\(name) \(flag)` is not declared in Catalog (Sources/WorkQueueCommand/Catalog.swift)")
            }
            for flag in catalogued.subtracting(flags).sorted() {
                Issue.record("Catalog.byCommand lists `\(name) \(flag)`, which the command does not take")
            }
        }
        #expect(walked == Set(declared.keys), "commands without a definition: \(Set(declared.keys).subtracting(walked).sorted())")
        #expect(flagsSeen > 70, "the walk found only \(flagsSeen) flags")
    }

    /// A flag that reads no variable is declared with its default and range like the others:
    /// its help says the default, and a value out of range is refused naming the flag.
    @Test func flagsWithoutAVariableTakeTheirDefaultsAndRangesFromTheCatalog() throws {
        let status = try #require(try RootCommand.parseAsRoot(["status", "--queue", "q"]) as? Status)
        #expect(status.interval == 1)
        #expect(status.retrySeconds == 30)
        let wait = try #require(try RootCommand.parseAsRoot(["wait", "--queue", "q"]) as? Wait)
        #expect(wait.interval == 0.5)
        let open = try #require(try RootCommand.parseAsRoot(["open", "--queue", "q"]) as? Open)
        #expect(open.ttlSeconds == 300)
        let push = try #require(try RootCommand.parseAsRoot(["push", "--queue", "q", "a"]) as? Push)
        #expect(push.ttlSeconds == 30)
        let workers = try #require(try RootCommand.parseAsRoot(["workers", "--queue", "q"]) as? Workers)
        #expect(workers.items == 10)
        /// The message and the exit status, as `RootCommand.main` maps them: 64 for a bad flag.
        func message(_ arguments: [String]) -> String {
            do { _ = try RootCommand.parseAsRoot(arguments) } catch {
                let code = ExitStatus.code(for: error) ?? RootCommand.exitCode(for: error).rawValue
                #expect(code == ExitStatus.usage, "\(arguments): exit \(code)")
                return RootCommand.message(for: error)
            }
            return "no error"
        }
        #expect(message(["status", "--queue", "q", "--interval", "0.01"]) == "--interval '0.01' is invalid: expected seconds from 0.05 to 3600")
        #expect(message(["dashboard", "--queue", "q", "--interval", "0.1"]) == "--interval '0.1' is invalid: expected seconds from 0.2 to 3600")
        #expect(message(["open", "--queue", "q", "--ttl-seconds", "0"]) == "--ttl-seconds '0' is invalid: expected seconds from 1 to 86400")
        #expect(message(["reap", "--queue", "q", "--grace-seconds", "601"]) == "--grace-seconds '601' is invalid: expected seconds from 0 to 600")
        #expect(message(["workers", "--queue", "q", "--items", "10001"]) == "--items '10001' is invalid: expected a whole number from 0 to 10000")
        #expect(message(["wait", "--queue", "q", "--timeout=-1"]) == "--timeout '-1' is invalid: expected seconds >= 0")
        let help = RootCommand.helpMessage(for: Open.self, columns: 100_000).split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(help.contains("(default 300; seconds from 1 to 86400)"), "\(help)")
        #expect(help.contains("(default operator)"), "\(help)")
    }

    /// The Redis library says what is wrong and names the setting in words; the command
    /// renders the same error with the flag and variable that set it, and keeps its exit status.
    @Test func aRedisErrorIsRenderedWithTheFlagsThatFixIt() {
        let cases: [(RedisError, library: String, command: [String])] = [
            (.unreachable(endpoint: "h:1", attempts: 3, budget: .seconds(30), lastError: "refused"), "the Redis URL",
             ["--redis flag or REDIS_URL / REDIS_SERVICE_HOST"]),
            (.clusterUnreachable(seeds: ["h:1", "h:2"], budget: .seconds(30), lastError: "refused"), "the Redis URL", ["--redis", "REDIS_URL"]),
            (.loginRefused(endpoint: "h:1", user: "u", reply: "WRONGPASS invalid"), "the user and password",
             ["--redis or REDIS_URL", "--redis-password-file or REDIS_PASSWORD_FILE"]),
            (.notAClusterNode(endpoint: "h:1", reply: "ERR This instance has cluster support disabled"), "turn off cluster mode",
             ["--cluster, or WORKQUEUE_CLUSTER=1"]),
            (.tlsUntrusted(endpoint: "h:1", caFile: nil), "a TLS CA file", ["--tls-ca-file PATH (env WORKQUEUE_TLS_CA_FILE)"]),
            (.tlsClientCertificateRequired(endpoint: "h:1"), "a TLS client certificate",
             ["--tls-cert-file PATH and --tls-key-file PATH (env WORKQUEUE_TLS_CERT_FILE, WORKQUEUE_TLS_KEY_FILE)"]),
            (.tlsRefused(endpoint: "h:1", reason: "UNKNOWN_CA"), "a TLS client certificate", ["--tls-cert-file PATH"]),
        ]
        for (error, library, command) in cases {
            #expect(error.description.contains(library), "\(error.description)")
            #expect(!error.description.contains("--"), "the library names a flag: \(error.description)")
            let rendered = CommandError.redis(error).description
            for flag in command { #expect(rendered.contains(flag), "\(rendered)") }
            #expect(ExitStatus.code(for: CommandError.redis(error)) == ExitStatus.code(for: error))
        }
        #expect(ExitStatus.code(for: CommandError.redis(.tlsUntrusted(endpoint: "h:1", caFile: nil))) == ExitStatus.configuration)
        #expect(ExitStatus.code(for: CommandError.redis(.unreachable(endpoint: "h:1", attempts: 1, budget: .seconds(1), lastError: "x")))
                    == ExitStatus.transient)
    }

    /// Hints on server replies travel as text inside other errors: the library writes them in
    /// words, and names flags only as a command binds them (`WorkerCommand.main` binds the
    /// catalog's for its whole run).
    @Test func serverReplyHintsNameSettingsAsTheCommandBindsThem() {
        let replies: [(String, [String])] = [
            ("WRONGPASS invalid username-password pair or user is disabled.", ["--redis-password-file or REDIS_PASSWORD_FILE"]),
            ("MOVED 3999 127.0.0.1:6381", ["--cluster, or WORKQUEUE_CLUSTER=1"]),
        ]
        for (reply, flags) in replies {
            let plain = RedisError.server(reply).description
            #expect(!plain.contains("--") && !plain.contains("WORKQUEUE_"), "the library names a flag: \(plain)")
            let rendered = RedisSetting.$names.withValue(CommandError.redisSettingTable) { RedisError.server(reply).description }
            for flag in flags { #expect(rendered.contains(flag), "\(rendered)") }
        }
    }

    @Test func flagsAndVariablesAreUniqueAndFormsFitTheirTypes() {
        let flags = Catalog.all.map(\.flag)
        let variables = Catalog.all.compactMap(\.variable)
        #expect(Set(flags).count == flags.count)
        #expect(Set(variables).count == variables.count)
        for (command, settings) in Catalog.byCommand {
            let flags = settings.map(\.flag)
            #expect(Set(flags).count == flags.count, "`\(command)` declares a flag twice: \(flags)")
        }
        for setting in Catalog.all + Catalog.flagsOnly {
            #expect(setting.formFitsValue, "\(setting.flag) is declared \(setting.form), which its type is not read in")
        }
    }

    /// The README's block between the markers is exactly what
    /// `workqueue settings --markdown` prints. On drift, run that and paste its output over the block.
    @Test func theReadmeTablesAreTheDeclarations() throws {
        let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/commands.md")
        let text = try String(contentsOf: readme, encoding: .utf8)
        let begin = try #require(text.range(of: Catalog.markdownBegin), "docs/commands.md lacks the marker \(Catalog.markdownBegin)")
        let end = try #require(text.range(of: Catalog.markdownEnd, range: begin.upperBound..<text.endIndex))
        let block = text[begin.upperBound..<end.lowerBound].trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(block == Catalog.markdown, """
            docs/commands.md's settings tables differ from Sources/WorkQueueCommand/Catalog.swift: \
            run `swift run workqueue settings --markdown` and paste its output over the block
            """)
    }

    /// Every command's `--help` names each of its settings' variable and default, from the declaration.
    @Test(arguments: ["work", "push", "status", "reap"])
    func helpSaysEachVariableAndDefault(_ name: String) throws {
        let commands: [String: (any ParsableCommand.Type, [any SettingDescription])] = [
            "work": (Work.self, Catalog.common + Catalog.work),
            "push": (Push.self, Catalog.common + [Catalog.waitReplicas, Catalog.waitSeconds]),
            "status": (Status.self, Catalog.common + [Catalog.statusPort]),
            "reap": (Reap.self, Catalog.common + [Catalog.maxAttempts]),
        ]
        let (command, settings) = try #require(commands[name])
        let help = RootCommand.helpMessage(for: command, columns: 100_000).split(whereSeparator: \.isWhitespace).joined(separator: " ")
        for setting in settings {
            #expect(help.contains(setting.flag), "\(setting.flag)")
            if let variable = setting.variable { #expect(help.contains("env \(variable)"), "\(setting.flag): \(variable)") }
            if let shown = setting.defaultText, setting.flag != Catalog.handler.flag {
                #expect(help.contains("default \(shown)"), "\(setting.flag): default \(shown)")
            }
        }
    }

    @Test func handlerHelpNamesTheOnlyHandlerAsItsDefault() {
        struct Only: NamedWorkHandler {
            static let name = "only"
            static let summary = "the one"
            init(options: [String: String]) throws {}
            func handle(_ item: WorkItem, context: WorkContext) async throws -> String? { nil }
        }
        let help = HandlerRegistry.$current.withValue(HandlerRegistry([Only.self])) { Work.handlerHelp.abstract }
        #expect(help.contains("env WORKQUEUE_HANDLER; default only, the only one, unless --plugin is given"), "\(help)")
    }

    @Test func aSettingReadsItsFlagThenItsVariableThenItsDefault() throws {
        let environment = Settings(environment: ["WORKQUEUE_CONCURRENCY": "3", "WORKQUEUE_LEASE_SECONDS": "1.5", "WORKQUEUE_PREFETCH": ""])
        #expect(try environment.integer(7, Catalog.concurrency) == 7)
        #expect(try environment.integer(nil, Catalog.concurrency) == 3)
        #expect(try environment.seconds(nil, Catalog.leaseSeconds) == .milliseconds(1500))
        #expect(try environment.integer(nil, Catalog.prefetch) == nil, "an empty variable counts as unset")
        let none = Settings(environment: [:])
        #expect(try none.integer(nil, Catalog.concurrency) == WorkerOptions().concurrency)
        #expect(try none.integer(nil, Catalog.maxItemBytes) == RedisQueue.defaultMaxItemBytes)
        #expect(try none.seconds(nil, Catalog.connectTimeout) == .seconds(30))
        #expect(none.string(nil, Catalog.logLevel) == "info")
        #expect(try none.flag(false, Catalog.keepRunning) == false)
    }

    @Test func aBadValueNamesWhereItCameFromAndWhatItTakes() {
        func message(_ body: () throws -> Void) -> String {
            do { try body() } catch { return "\(error)" }
            return "no error"
        }
        let settings = Settings(environment: ["WORKQUEUE_CONCURRENCY": "0", "WORKQUEUE_KEEP_RUNNING": "maybe",
                                              "WORKQUEUE_MAX_ITEM_BYTES": "999999999999", "WORKQUEUE_OPTIONS": "novalue"])
        #expect(message { _ = try settings.integer(nil, Catalog.concurrency) }.contains("environment variable WORKQUEUE_CONCURRENCY"))
        #expect(message { _ = try settings.integer(0, Catalog.concurrency) }.contains("--concurrency"))
        #expect(message { _ = try settings.integer(nil, Catalog.concurrency) }.contains("a whole number from 1 to 1024"))
        // The catalog admits what the runner accepts, and names the bound rather than letting
        // the runner refuse it later as an "invalid configuration".
        let wide = Settings(environment: ["WORKQUEUE_CONCURRENCY": "1025", "WORKQUEUE_PREFETCH": "1001"])
        #expect(message { _ = try wide.integer(nil, Catalog.concurrency) }.contains("from 1 to 1024"))
        #expect(message { _ = try wide.integer(nil, Catalog.prefetch) }.contains("from 1 to 1000"))
        var options = WorkerOptions()
        options.concurrency = WorkerOptions.concurrencyRange.upperBound
        options.prefetch = WorkerOptions.prefetchRange.upperBound
        #expect(throws: Never.self) { try options.validate() }
        #expect(message { _ = try settings.integer(nil, Catalog.maxItemBytes) }.contains("a whole number from 1 to 268435456"))
        #expect(message { _ = try settings.flag(false, Catalog.keepRunning) }.contains("WORKQUEUE_KEEP_RUNNING"))
        #expect(message { _ = try settings.keyValues([], Catalog.option) }.contains("WORKQUEUE_OPTIONS"))
        #expect(message { _ = try settings.seconds(-1, Catalog.leaseSeconds) }.contains("--lease-seconds"))
        #expect(message { _ = try settings.integer(0, Catalog.shards) }.contains("--shards '0' is invalid: expected a whole number from 1 to 1024"))
    }

    /// `work` hands the queue its bounds as one value at connect, read from the declarations.
    @Test func workReadsTheQueueOptionsFromItsSettings() throws {
        let parsed = try RootCommand.parseAsRoot(["work", "--queue", "q", "--results-max", "7"])
        let work = try #require(parsed as? Work)
        let options = try work.makeQueueOptions(Settings(environment: ["WORKQUEUE_MAX_ITEM_BYTES": "2048"]))
        #expect(options == RedisQueue.Options(maxItemBytes: 2048, resultsMax: 7))
        let plain = try #require(try RootCommand.parseAsRoot(["work", "--queue", "q"]) as? Work)
        let defaults = try plain.makeQueueOptions(Settings(environment: [:]))
        #expect(defaults == RedisQueue.Options(maxItemBytes: RedisQueue.defaultMaxItemBytes, resultsMax: RedisQueue.defaultResultsMax))
    }
}

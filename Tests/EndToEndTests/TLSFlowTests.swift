import Foundation
import Testing
import TestSupport

/// `workqueue` over TLS (`rediss://`) against a TLS-only `redis-server` and a throwaway CA: the
/// tutorial flow, client certificates, and the errors a user meets (exit codes and messages),
/// never showing the password.
@Suite struct TLSFlowTests {
    static let password = "Tls-secret-PW-77"

    func expectNoSecret(_ process: ChildProcess, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(!process.stdout.contains(Self.password), "stdout shows the password", sourceLocation: sourceLocation)
        #expect(!process.stderr.contains(Self.password), "stderr shows the password: \(process.stderr)", sourceLocation: sourceLocation)
    }

    @Test func pushWorkAndStatusOverTLSWithAPrivateCAAndAPassword() async throws {
        let pki = try await TestCertificates()
        let redis = try await LocalRedis(arguments: ["--requirepass", Self.password],
                                         cliAuthentication: ["-a", Self.password, "--no-auth-warning"], tls: pki)
        defer { Task { await redis.stop() } }
        let wq = try Workqueue(redis)
        let url = "rediss://:\(Self.password)@127.0.0.1:\(redis.port)"
        // The CA from the flag for push, from the variable for work and status.
        let (push, pushed) = try await wq.run(["push", "--queue", "tlsjob", "--redis", url, "--tls-ca-file", pki.caFile,
                                               "apple", "banana", "cherry"])
        #expect(pushed == .exited(0), "\(push.stderr)")
        #expect(push.stdoutLines == ["Pushed 3 items to tlsjob"])
        expectNoSecret(push)
        let environment = ["REDIS_URL": url, "WORKQUEUE_TLS_CA_FILE": pki.caFile]
        let workers = try (0..<2).map { _ in
            try wq.start(["work", "--queue", "tlsjob", "--handler", "printer", "--log-level", "trace"], environment: environment)
        }
        var worked: [String] = []
        for worker in workers {
            #expect(try await worker.wait() == .exited(0), "\(worker.stderr)")
            #expect(worker.stdoutLines.last == "Queue empty, exiting")
            worked += worker.stdoutLines.filter { $0.hasPrefix("Working on ") }
            expectNoSecret(worker)
        }
        #expect(worked.sorted() == ["Working on apple", "Working on banana", "Working on cherry"])
        let (status, statusCode) = try await wq.run(["status", "--queue", "tlsjob", "--json"], environment: environment)
        #expect(statusCode == .exited(0), "\(status.stderr)")
        let counts = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
        #expect(counts["completed"] as? Int == 3)
        #expect(counts["pending"] as? Int == 0)
        expectNoSecret(status)
        // A wrong password over TLS: refused, neither password shown.
        let (refused, refusedCode) = try await wq.run(
            ["status", "--queue", "tlsjob", "--redis", "rediss://:Wrong-guess-PW@127.0.0.1:\(redis.port)", "--connect-timeout", "2"],
            environment: ["WORKQUEUE_TLS_CA_FILE": pki.caFile])
        #expect(refusedCode == .exited(78), "\(refused.stderr)")
        #expect(!refused.stderr.contains("Wrong-guess-PW"), "\(refused.stderr)")
        expectNoSecret(refused)
    }

    @Test func aServerThatRequiresAClientCertificate() async throws {
        let pki = try await TestCertificates()
        let redis = try await LocalRedis(tls: pki, tlsAuthClients: "yes")
        defer { Task { await redis.stop() } }
        let wq = try Workqueue(redis)
        try await redis.cli("RPUSH", "certjob", "apple")
        let (refused, refusedCode) = try await wq.run(["status", "--queue", "certjob", "--tls-ca-file", pki.caFile])
        #expect(refusedCode == .exited(78), "\(refused.stderr)")
        #expect(refused.stderr.contains("requires a client certificate") && refused.stderr.contains("--tls-cert-file"),
                "\(refused.stderr)")
        let (worker, code) = try await wq.run(
            ["work", "--queue", "certjob", "--handler", "printer"],
            environment: ["WORKQUEUE_TLS_CA_FILE": pki.caFile, "WORKQUEUE_TLS_CERT_FILE": pki.clientCertificateFile,
                          "WORKQUEUE_TLS_KEY_FILE": pki.clientKeyFile])
        #expect(code == .exited(0), "\(worker.stderr)")
        #expect(worker.stdoutLines.contains("Working on apple"), "\(worker.stdout)")
        #expect(worker.stdoutLines.last == "Queue empty, exiting", "\(worker.stdout)")
    }

    @Test func aWrongCAOrHostNameFailsAtOnceWithWhatToDo() async throws {
        // The certificate names only redis.example: neither localhost nor 127.0.0.1.
        let pki = try await TestCertificates(serverNames: ["DNS:redis.example"])
        let redis = try await LocalRedis(tls: pki)
        defer { Task { await redis.stop() } }
        let wq = try Workqueue(redis)
        let clock = ContinuousClock()
        // The default connect budget is 30 s: finishing well within it shows nothing was retried.
        let started = clock.now
        let (wrongCA, wrongCACode) = try await wq.run(["work", "--queue", "x", "--handler", "printer", "--tls-ca-file", pki.otherCAFile,
                                                       "--redis", "rediss://localhost:\(redis.port)"])
        #expect(wrongCACode == .exited(78), "\(wrongCA.stderr)")
        #expect(wrongCA.stderr.contains("could not be verified") && wrongCA.stderr.contains("--tls-ca-file"), "\(wrongCA.stderr)")
        #expect(clock.now - started < .seconds(15), "a certificate error was retried: \(wrongCA.stderr)")

        let (wrongName, wrongNameCode) = try await wq.run(["status", "--queue", "x", "--redis", "rediss://localhost:\(redis.port)",
                                                           "--tls-ca-file", pki.caFile])
        #expect(wrongNameCode == .exited(78), "\(wrongName.stderr)")
        #expect(wrongName.stderr.contains("'localhost'") && wrongName.stderr.contains("names"), "\(wrongName.stderr)")
        #expect(clock.now - started < .seconds(30), "a certificate error was retried: \(wrongName.stderr)")
    }

    @Test func tlsFlagsThatDoNotFitAreRefusedWithAHint() async throws {
        let pki = try await TestCertificates()
        try await LocalRedis.with { redis in
            let wq = try Workqueue(redis)
            // A TLS file with a redis:// URL: refused, pointing at rediss://.
            let (plain, plainCode) = try await wq.run(["status", "--queue", "q", "--tls-ca-file", pki.caFile])
            #expect(plainCode == .exited(64), "\(plain.stderr)")
            #expect(plain.stderr.contains("--tls-ca-file") && plain.stderr.contains("rediss://127.0.0.1:\(redis.port)"), "\(plain.stderr)")
            let secure = ["--redis", "rediss://127.0.0.1:\(redis.port)"]
            // A certificate without its key.
            let (alone, aloneCode) = try await wq.run(["status", "--queue", "q", "--tls-cert-file", pki.clientCertificateFile] + secure)
            #expect(aloneCode == .exited(64), "\(alone.stderr)")
            #expect(alone.stderr.contains("--tls-key-file"), "\(alone.stderr)")
            // A missing or invalid file: named, with its flag or variable; EX_CONFIG.
            let missing = pki.directory.file("nope.crt")
            let (gone, goneCode) = try await wq.run(["work", "--queue", "q", "--handler", "printer"] + secure,
                                                    environment: ["WORKQUEUE_TLS_CA_FILE": missing])
            #expect(goneCode == .exited(78), "\(gone.stderr)")
            #expect(gone.stderr.contains(missing) && gone.stderr.contains("WORKQUEUE_TLS_CA_FILE"), "\(gone.stderr)")
            let (invalid, invalidCode) = try await wq.run(["status", "--queue", "q", "--tls-cert-file", pki.clientKeyFile,
                                                           "--tls-key-file", pki.clientKeyFile] + secure)
            #expect(invalidCode == .exited(78), "\(invalid.stderr)")
            #expect(invalid.stderr.contains(pki.clientKeyFile) && invalid.stderr.contains("--tls-cert-file"), "\(invalid.stderr)")
        }
    }
}

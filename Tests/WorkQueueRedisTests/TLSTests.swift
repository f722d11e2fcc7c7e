import Foundation
import Logging
import Testing
import TestSupport
import WorkQueue
@testable import WorkQueueRedis

/// `rediss://`: certificates verified by default, a private CA, client certificates, and a
/// clear permanent error for each way the handshake can go wrong, against a real TLS-only
/// `redis-server` and a throwaway CA made by the test.
@Suite struct TLSTests {
    static let logger = Logger(label: "tls-test")

    /// The configuration for a TLS server, trusting `caFile`.
    static func configuration(_ redis: LocalRedis, host: String = "127.0.0.1", caFile: String?,
                              certificate: (String, String)? = nil) -> RedisConfiguration {
        RedisConfiguration(host: host, port: redis.port, connectTimeout: .seconds(5),
                           tls: RedisTLS(caFile: caFile, certificateFile: certificate?.0, keyFile: certificate?.1))
    }

    /// The error a connect throws (nil when it connects).
    static func connectError(_ configuration: RedisConfiguration, budget: Duration = .seconds(60),
                             setup: [RESPCommand] = []) async -> RedisError? {
        do {
            let client = try await RedisClient.connect(configuration, logger: logger, budget: budget, setup: setup)
            await client.close()
            return nil
        } catch let error as RedisError {
            return error
        } catch {
            Issue.record("not a RedisError: \(error)")
            return nil
        }
    }

    @Test func redissURLTurnsTLSOnAndRedactsThePassword() throws {
        let secure = try RedisConfiguration(url: "rediss://bob:s3cret@db.example:6380/2")
        #expect(secure.tls == RedisTLS())
        #expect(secure.host == "db.example" && secure.port == 6380 && secure.database == 2 && secure.password == "s3cret")
        #expect(secure.redactedDescription == "rediss://bob:***@db.example:6380/2")
        #expect(try RedisConfiguration(url: "redis://h").tls == nil)
        do {
            _ = try RedisConfiguration(url: "rediss://bob:s3cret@h:notaport")
            Issue.record("a bad port was accepted")
        } catch {
            #expect(!"\(error)".contains("s3cret"), "\(error)")
            #expect("\(error)".contains("rediss://bob:***@"), "\(error)")
        }
    }

    @Test func aQueueWorksOverTLSWithAPrivateCAIncludingReconnectsAndTheBlockingConnection() async throws {
        let pki = try await TestCertificates()
        let redis = try await LocalRedis(arguments: ["--requirepass", "tls-pw"], cliAuthentication: ["-a", "tls-pw", "--no-auth-warning"],
                                         tls: pki)
        defer { Task { await redis.stop() } }
        // The CA file is copied, so that deleting it shows that reconnects do not read it again.
        let caCopy = pki.directory.file("ca-copy.crt")
        try FileManager.default.copyItem(atPath: pki.caFile, toPath: caCopy)
        var configuration = Self.configuration(redis, caFile: caCopy)
        configuration.password = "tls-pw"
        let queue = try await RedisQueue.connect(name: "tlsq", configuration: configuration, logger: Self.logger)
        try FileManager.default.removeItem(atPath: caCopy)
        #expect(try await queue.enqueue([WorkItem("apple"), WorkItem("banana")]) == 2)
        try await queue.waitForWork(timeout: .milliseconds(50)) // the separate blocking connection
        await queue.client.dropConnection()
        let leases = try await queue.lease(max: 2, session: "s1", duration: .seconds(30))
        #expect(leases.map(\.item.string) == ["apple", "banana"])
        await queue.close()
        #expect(try await redis.cli("HLEN", "tlsq:lease-items") == "2")
    }

    @Test func aServerCertificateFromAnotherCAIsAPermanentErrorNamingTheFlag() async throws {
        let pki = try await TestCertificates()
        let redis = try await LocalRedis(tls: pki)
        defer { Task { await redis.stop() } }
        for caFile in [pki.otherCAFile, nil] {
            // Retrying would end as .unreachable after the 60 s budget: .tlsUntrusted means it stopped at once.
            let error = await Self.connectError(Self.configuration(redis, caFile: caFile))
            guard case .tlsUntrusted(_, caFile)? = error, let message = error?.description else {
                Issue.record("expected a permanent TLS error, got \(String(describing: error))")
                continue
            }
            #expect(message.contains("could not be verified") && message.contains("a TLS CA file"), "\(message)")
            #expect(error?.kind == .permanent)
        }
    }

    /// In cluster mode the topology read meets the same handshake failure on every seed: it
    /// stops at once with it instead of retrying until the connect budget ends.
    @Test func aClusterSeedWhoseCertificateCannotBeVerifiedStopsAtOnce() async throws {
        let pki = try await TestCertificates()
        let redis = try await LocalRedis(tls: pki)
        defer { Task { await redis.stop() } }
        do {
            let client = try await RedisClusterClient.connect(seeds: [Self.configuration(redis, caFile: pki.otherCAFile)],
                                                              logger: Self.logger, budget: .seconds(60))
            await client.close()
            Issue.record("connected with a certificate from another CA")
        } catch let error as RedisError {
            // Retrying would end as .clusterUnreachable after the 60 s budget.
            guard case .tlsUntrusted = error else {
                Issue.record("expected a permanent TLS error, got \(error)")
                return
            }
            #expect(error.description.contains("could not be verified"), "\(error)")
        }
    }

    @Test func aHostNameOrIPAddressTheCertificateDoesNotListIsAPermanentErrorNamingIt() async throws {
        // Only the DNS name redis.example: neither 127.0.0.1 (an IP SAN check) nor localhost matches.
        let other = try await TestCertificates(serverNames: ["DNS:redis.example"])
        let byOtherName = try await LocalRedis(tls: other)
        defer { Task { await byOtherName.stop() } }
        let ipError = await Self.connectError(Self.configuration(byOtherName, caFile: other.caFile))
        guard case let .tls(ipMessage)? = ipError else { Issue.record("got \(String(describing: ipError))"); return }
        #expect(ipMessage.contains("IP address 127.0.0.1") && ipMessage.contains("subject alternative names"), "\(ipMessage)")
        let nameError = await Self.connectError(Self.configuration(byOtherName, host: "localhost", caFile: other.caFile))
        guard case let .tls(nameMessage)? = nameError else { Issue.record("got \(String(describing: nameError))"); return }
        #expect(nameMessage.contains("host name 'localhost'"), "\(nameMessage)")

        // Only the DNS name localhost: localhost works, 127.0.0.1 does not.
        let local = try await TestCertificates(serverNames: ["DNS:localhost"])
        let byName = try await LocalRedis(tls: local)
        defer { Task { await byName.stop() } }
        #expect(await Self.connectError(Self.configuration(byName, host: "localhost", caFile: local.caFile)) == nil)
        guard case .tls? = await Self.connectError(Self.configuration(byName, caFile: local.caFile)) else {
            Issue.record("127.0.0.1 was accepted for a certificate that names only localhost")
            return
        }
    }

    @Test func aRequiredClientCertificateIsPresentedAndItsAbsenceIsAPermanentError() async throws {
        let pki = try await TestCertificates()
        let redis = try await LocalRedis(tls: pki, tlsAuthClients: "yes")
        defer { Task { await redis.stop() } }
        let missing = await Self.connectError(Self.configuration(redis, caFile: pki.caFile))
        guard case .tlsClientCertificateRequired? = missing, let message = missing?.description else {
            Issue.record("got \(String(describing: missing))")
            return
        }
        #expect(message.contains("requires a client certificate") && message.contains("client certificate and its key file"), "\(message)")
        let certificate = (pki.clientCertificateFile, pki.clientKeyFile)
        #expect(await Self.connectError(Self.configuration(redis, caFile: pki.caFile, certificate: certificate)) == nil)
        // A client certificate from a CA the server does not trust: refused, with the reason.
        let stranger = try await TestCertificates()
        let refused = await Self.connectError(Self.configuration(
            redis, caFile: pki.caFile, certificate: (stranger.clientCertificateFile, stranger.clientKeyFile)))
        guard case .tlsRefused? = refused, let refusedMessage = refused?.description else {
            Issue.record("got \(String(describing: refused))")
            return
        }
        #expect(refusedMessage.contains("refused the TLS connection"), "\(refusedMessage)")
    }

    @Test func aPlaintextServerOnARedissURLAndATLSServerOnARedisURLSaySo() async throws {
        let pki = try await TestCertificates()
        try await LocalRedis.with { plain in
            var configuration = Self.configuration(plain, caFile: pki.caFile)
            configuration.connectTimeout = .seconds(1)
            let error = await Self.connectError(configuration, budget: .seconds(1))
            #expect("\(String(describing: error))".contains("redis://"), "\(String(describing: error))")
        }
        let secure = try await LocalRedis(tls: pki)
        defer { Task { await secure.stop() } }
        // (A queue's connections always send their setup; a server dropping them unanswered is the sign.)
        let error = await Self.connectError(RedisConfiguration(host: "127.0.0.1", port: secure.port, connectTimeout: .seconds(1)),
                                            budget: .milliseconds(500), setup: [RESPCommand(["PING"])])
        #expect("\(String(describing: error))".contains("rediss://"), "\(String(describing: error))")
    }

    @Test func unreadableOrInvalidFilesNameTheFileAtOnce() async throws {
        let pki = try await TestCertificates()
        let garbage = pki.directory.file("garbage.pem")
        try "not a certificate\n".write(toFile: garbage, atomically: true, encoding: .utf8)
        let cases: [(RedisTLS, RedisTLS.File, String)] = [
            (RedisTLS(caFile: pki.directory.file("missing.crt")), .ca, pki.directory.file("missing.crt")),
            (RedisTLS(caFile: garbage), .ca, garbage),
            (RedisTLS(certificateFile: garbage, keyFile: pki.clientKeyFile), .certificate, garbage),
            (RedisTLS(certificateFile: pki.clientCertificateFile, keyFile: garbage), .key, garbage),
            (RedisTLS(certificateFile: pki.clientCertificateFile, keyFile: pki.serverKeyFile), .key, pki.serverKeyFile),
            (RedisTLS(certificateFile: pki.clientCertificateFile), .certificate, pki.clientCertificateFile),
        ]
        for (tls, file, path) in cases {
            do {
                _ = try RedisTLSContext(tls, host: "127.0.0.1")
                Issue.record("\(tls) was accepted")
            } catch {
                guard case let .tlsFile(actualFile, actualPath, _) = error else { Issue.record("got \(error)"); continue }
                #expect(actualFile == file && actualPath == path, "\(error)")
                #expect(error.kind == .permanent)
            }
        }
    }
}

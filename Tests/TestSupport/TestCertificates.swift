import Foundation

/// A throwaway PKI made with the `openssl` command in a temp dir: a CA, a server certificate
/// signed by it (for the given subject alternative names), a client certificate signed by it,
/// and an unrelated second CA (to be trusted by mistake). EC P-256 keys, valid for 2 days.
public final class TestCertificates: Sendable {
    public let directory: TemporaryDirectory
    /// The CA that signed the server and client certificates.
    public var caFile: String { directory.file("ca.crt") }
    public var serverCertificateFile: String { directory.file("server.crt") }
    public var serverKeyFile: String { directory.file("server.key") }
    public var clientCertificateFile: String { directory.file("client.crt") }
    public var clientKeyFile: String { directory.file("client.key") }
    /// A CA that signed nothing here.
    public var otherCAFile: String { directory.file("other-ca.crt") }

    /// `redis-server` flags serving these certificates (the port flags are the caller's),
    /// checking client certificates against the CA (`authClients`: `no`, `optional` or `yes`).
    public func serverArguments(authClients: String) -> [String] {
        ["--tls-cert-file", serverCertificateFile, "--tls-key-file", serverKeyFile,
         "--tls-ca-cert-file", caFile, "--tls-auth-clients", authClients]
    }

    /// `redis-cli` flags connecting with TLS, trusting the CA and presenting the client certificate.
    public var cliArguments: [String] {
        ["--tls", "--cacert", caFile, "--cert", clientCertificateFile, "--key", clientKeyFile]
    }

    /// Makes the files; `serverNames` are the server certificate's subject alternative names
    /// in openssl's form (`IP:127.0.0.1`, `DNS:localhost`).
    public init(serverNames: [String] = ["IP:127.0.0.1", "DNS:localhost"]) async throws {
        directory = try TemporaryDirectory("workqueue-tls")
        try await makeCA("ca", subject: "/CN=workqueue test CA")
        try await makeCA("other-ca", subject: "/CN=some other CA")
        try await makeSigned("server", subject: "/CN=redis test server",
                             extensions: "subjectAltName=\(serverNames.joined(separator: ","))\nextendedKeyUsage=serverAuth\n")
        try await makeSigned("client", subject: "/CN=worker", extensions: "extendedKeyUsage=clientAuth\n")
    }

    private func makeCA(_ name: String, subject: String) async throws {
        try await openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                           "-keyout", directory.file("\(name).key"), "-out", directory.file("\(name).crt"),
                           "-days", "2", "-subj", subject])
    }

    private func makeSigned(_ name: String, subject: String, extensions: String) async throws {
        let extensionsFile = directory.file("\(name).ext")
        try extensions.write(toFile: extensionsFile, atomically: true, encoding: .utf8)
        try await openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                           "-keyout", directory.file("\(name).key"), "-out", directory.file("\(name).csr"), "-subj", subject])
        try await openssl(["x509", "-req", "-in", directory.file("\(name).csr"), "-CA", caFile, "-CAkey", directory.file("ca.key"),
                           "-CAcreateserial", "-out", directory.file("\(name).crt"), "-days", "2", "-extfile", extensionsFile])
    }

    private func openssl(_ arguments: [String]) async throws {
        let (process, termination) = try await ChildProcess.run(
            try LocalRedis.locate("openssl"), arguments, directory: directory.path,
            label: "openssl-\(UUID().uuidString)", timeout: .seconds(30))
        guard termination == .exited(0) else {
            throw ChildProcess.Failure.notReady("openssl \(arguments.joined(separator: " "))", output: process.stderr)
        }
    }
}

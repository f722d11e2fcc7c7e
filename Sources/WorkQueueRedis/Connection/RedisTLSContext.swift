#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import NIOSSL

/// The client side of TLS for one ``RedisConfiguration``: the files are read and the
/// `NIOSSLContext` is built once, and every connection and reconnect made with it shares it.
/// Also turns handshake failures into ``RedisError/tls(_:)`` messages that say what to change.
package final class RedisTLSContext: Sendable {
    /// The settings it was built from.
    package let settings: RedisTLS
    /// The URL's host, as the user wrote it (named in host name errors).
    package let host: String
    /// Sent as SNI and matched against the certificate's DNS names; nil for an IP address host,
    /// which is matched against the certificate's IP addresses instead.
    package let serverHostname: String?
    private let context: NIOSSLContext

    /// The context for `configuration`, or nil when it has no TLS (a `redis://` URL).
    package static func make(for configuration: RedisConfiguration) throws(RedisError) -> RedisTLSContext? {
        guard let tls = configuration.tls else { return nil }
        return try RedisTLSContext(tls, host: configuration.host)
    }

    /// Reads the files and builds the context: certificates are verified in full (chain and
    /// host name), TLS 1.2 or later.
    package init(_ settings: RedisTLS, host: String) throws(RedisError) {
        self.settings = settings
        self.host = host
        self.serverHostname = (try? SocketAddress(ipAddress: host, port: 0)) == nil ? host : nil
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.certificateVerification = .fullVerification
        if let path = settings.caFile {
            let roots = try Self.certificates(.ca, path: path)
            configuration.trustRoots = .certificates(roots)
        }
        switch (settings.certificateFile, settings.keyFile) {
        case let (certificate?, key?):
            configuration.certificateChain = try Self.certificates(.certificate, path: certificate).map { .certificate($0) }
            configuration.privateKey = .privateKey(try Self.privateKey(path: key))
        case let (certificate?, nil):
            throw .tlsFile(.certificate, path: certificate, reason: "a client certificate needs its private key (the key file) too")
        case let (nil, key?):
            throw .tlsFile(.key, path: key, reason: "a client key needs its certificate (the client certificate file) too")
        case (nil, nil):
            break
        }
        do {
            context = try NIOSSLContext(configuration: configuration)
        } catch {
            if let key = settings.keyFile {
                throw .tlsFile(.key, path: key, reason: "it does not fit the client certificate in '\(settings.certificateFile ?? "")' (\(error))")
            }
            throw .tlsFile(.ca, path: settings.caFile ?? "(system CA bundle)", reason: "\(error)")
        }
    }

    /// A new handler for one connection (on its event loop).
    func makeHandler() throws -> NIOSSLClientHandler {
        try NIOSSLClientHandler(context: context, serverHostname: serverHostname)
    }

    /// What a TLS failure on a connection to `endpoint` means, as a permanent
    /// ``RedisError/tls(_:)`` with a hint, or a transient error when retrying may help.
    func explain(_ error: any Error, endpoint: String) -> RedisError {
        if let error = error as? RedisError { return error }
        if let error = error as? NIOSSLExtraError, error == .failedToValidateHostname {
            let name = serverHostname.map { "host name '\($0)'" } ?? "IP address \(host)"
            return .tls("the TLS certificate of Redis at \(endpoint) is not valid for the \(name): the certificate does not "
                + "list it among its names (subject alternative names). Connect with a host name that the certificate "
                + "lists in the rediss:// URL, or have the certificate reissued for \(serverHostname ?? host)")
        }
        let text = "\(error)"
        if text.contains("CERTIFICATE_VERIFY_FAILED") {
            return .tlsUntrusted(endpoint: endpoint, caFile: settings.caFile)
        }
        if ["WRONG_VERSION_NUMBER", "PACKET_LENGTH_TOO_LONG", "HTTP_REQUEST", "UNEXPECTED_RECORD", "RECORD_TOO_LARGE"]
            .contains(where: text.contains) {
            return .tls("Redis at \(endpoint) did not answer in TLS: that port seems to serve plaintext Redis. Use a "
                + "redis:// URL for it, or the port the server serves TLS on (its tls-port)")
        }
        if text.contains("CERTIFICATE_REQUIRED") || (settings.certificateFile == nil && text.contains("HANDSHAKE_FAILURE")) {
            return .tlsClientCertificateRequired(endpoint: endpoint)
        }
        if ["UNKNOWN_CA", "BAD_CERTIFICATE", "CERTIFICATE_UNKNOWN", "DECRYPT_ERROR", "HANDSHAKE_FAILURE", "ACCESS_DENIED",
            "CERTIFICATE_EXPIRED", "UNSUPPORTED_CERTIFICATE"].contains(where: text.contains) {
            return .tlsRefused(endpoint: endpoint, reason: Self.reason(text))
        }
        if text.contains("EOF during handshake") || text.contains("uncleanShutdown") {
            // Also what a restart looks like: retried, with the likely cause in the message.
            return .connectFailed("Redis at \(endpoint) closed the connection during the TLS handshake (if that port "
                + "serves plaintext Redis, use a redis:// URL)")
        }
        return .tls("the TLS handshake with Redis at \(endpoint) failed: \(Self.reason(text))")
    }

    /// BoringSSL's reason codes from an error's description (`...:CERTIFICATE_VERIFY_FAILED at
    /// path:line`), without the file paths; the whole description when it has none.
    static func reason(_ text: String) -> String {
        var reasons: [String] = []
        var rest = Substring(text)
        while let range = rest.firstRange(of: ":OPENSSL_internal:") {
            let tail = rest[range.upperBound...]
            let code = tail.prefix { $0.isLetter || $0.isNumber || $0 == "_" }
            if !code.isEmpty && !reasons.contains(String(code)) { reasons.append(String(code)) }
            rest = tail.dropFirst(code.count)
        }
        return reasons.isEmpty ? text : reasons.joined(separator: ", ")
    }

    /// The certificates in a PEM file (at least one).
    private static func certificates(_ file: RedisTLS.File, path: String) throws(RedisError) -> [NIOSSLCertificate] {
        let bytes = try contents(file, path: path)
        let certificates: [NIOSSLCertificate]
        do {
            certificates = try NIOSSLCertificate.fromPEMBytes(bytes)
        } catch {
            throw .tlsFile(file, path: path, reason: "it is not a valid PEM certificate file (\(error))")
        }
        guard !certificates.isEmpty else {
            throw .tlsFile(file, path: path, reason: "it holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
        }
        return certificates
    }

    /// The private key in a PEM file (unencrypted).
    private static func privateKey(path: String) throws(RedisError) -> NIOSSLPrivateKey {
        let bytes = try contents(.key, path: path)
        do {
            return try NIOSSLPrivateKey(bytes: bytes, format: .pem)
        } catch {
            throw .tlsFile(.key, path: path, reason: "it holds no unencrypted PEM private key (-----BEGIN PRIVATE KEY-----)")
        }
    }

    /// The file's bytes (at most 1 MiB).
    private static func contents(_ file: RedisTLS.File, path: String) throws(RedisError) -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .tlsFile(file, path: path, reason: String(cString: strerror(errno))) }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16_384)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw .tlsFile(file, path: path, reason: String(cString: strerror(errno)))
            }
            if count == 0 { break }
            bytes += buffer[0..<count]
            guard bytes.count <= 1 << 20 else { throw .tlsFile(file, path: path, reason: "it is larger than 1 MiB") }
        }
        guard !bytes.isEmpty else { throw .tlsFile(file, path: path, reason: "it is empty") }
        return bytes
    }
}

/// TLS settings of a ``RedisConfiguration`` (a `rediss://` URL turns TLS on).
///
/// The server's certificate is always verified: its chain must lead to a trusted CA (the
/// system's CA bundle, or only the certificates in ``caFile`` when it is set) and it must name
/// the host of the URL (a DNS name in its subject alternative names, or, for an IP address
/// host, that IP address). The host name is also sent as SNI (never an IP address).
/// Files are PEM; they are read once, when the first connection is made, and used for every
/// connection and reconnect after it.
public struct RedisTLS: Sendable, Hashable {
    /// The CA certificate(s) to trust instead of the system's (a private CA).
    public var caFile: String?
    /// A client certificate (chain) to present, for a server that asks for one
    /// (`tls-auth-clients yes`). Needs ``keyFile``.
    public var certificateFile: String?
    /// The private key of ``certificateFile``.
    public var keyFile: String?

    /// Which of the files an error is about.
    public enum File: String, Sendable, Hashable {
        /// The certificate authorities that verify the server (`--tls-ca-file`).
        case ca = "CA file"
        /// The client certificate, for servers that require one (`--tls-cert-file`).
        case certificate = "client certificate file"
        /// The client certificate's private key (`--tls-key-file`).
        case key = "client key file"
    }

    /// TLS with the given PEM files; nil ones use the system's trust store and no client
    /// certificate.
    public init(caFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil) {
        self.caFile = caFile
        self.certificateFile = certificateFile
        self.keyFile = keyFile
    }
}

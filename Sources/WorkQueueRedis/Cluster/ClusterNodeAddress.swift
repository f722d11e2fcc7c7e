/// Where a cluster node listens, as the cluster announces it (`CLUSTER SHARDS`, `MOVED`).
package struct ClusterNodeAddress: Sendable, Hashable, Comparable, CustomStringConvertible {
    package var host: String
    package var port: Int

    package init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port` (the port after the last colon, so an IPv6 address may precede it,
    /// bracketed or not). `:port` (a node that does not know its own endpoint) means
    /// `defaultHost` when one is given: the host of the node that answered.
    package init?(_ text: some StringProtocol, defaultHost: String? = nil) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
              (1...65535).contains(port) else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host.isEmpty, let defaultHost { host = defaultHost }
        guard !host.isEmpty else { return nil }
        self.init(host: host, port: port)
    }

    /// `host:port` (`[host]:port` for IPv6).
    package var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    package static func < (lhs: Self, rhs: Self) -> Bool { (lhs.host, lhs.port) < (rhs.host, rhs.port) }
}

/// What a cluster node's error reply asks the client to do instead, when it is about routing.
package enum ClusterRedirect: Sendable, Equatable {
    /// `MOVED <slot> <host:port>`: the slot now lives there for good.
    case moved(slot: Int, to: ClusterNodeAddress)
    /// `ASK <slot> <host:port>`: the slot is being migrated; send this one command there,
    /// preceded by `ASKING`.
    case ask(slot: Int, to: ClusterNodeAddress)
    /// `TRYAGAIN ...`: a multi-key command during a slot's migration; retry after a moment.
    case tryAgain
    /// `CLUSTERDOWN ...`: the cluster cannot serve now (a failover under way); retry after a
    /// moment.
    case clusterDown

    /// The redirect an error reply carries, or nil for any other error. `from` is the host
    /// of the node that replied (a redirect to `:port` means that host).
    package init?(reply message: some StringProtocol, from host: String? = nil) {
        let parts = message.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: true)
        guard let code = parts.first else { return nil }
        switch code {
        case "MOVED", "ASK":
            guard parts.count >= 3, let slot = Int(parts[1]), (0..<HashSlot.count).contains(slot),
                  let address = ClusterNodeAddress(parts[2], defaultHost: host) else { return nil }
            self = code == "MOVED" ? .moved(slot: slot, to: address) : .ask(slot: slot, to: address)
        case "TRYAGAIN":
            self = .tryAgain
        case "CLUSTERDOWN":
            self = .clusterDown
        default:
            return nil
        }
    }

    /// The redirect of an error reply value, or nil.
    package init?(_ value: RESPValue, from host: String? = nil) {
        guard case let .error(message) = value else { return nil }
        self.init(reply: message, from: host)
    }
}

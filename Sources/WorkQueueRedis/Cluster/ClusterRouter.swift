/// The cluster client's routing rules as a plain value: no sockets, no clocks, no tasks. The
/// client asks it where a command goes and, after each reply, what to do next; it keeps the
/// slot map and whether the topology should be read again.
///
/// - A command goes to the master of its keys' slot; a keyless one to the master of the home
///   slot (the queue's), else to any master, else to a seed.
/// - `MOVED slot host:port`: the slot is recorded there, the command is sent there, and a
///   topology refresh is wanted (one move usually means more).
/// - `ASK slot host:port`: the command alone is sent there once, after `ASKING`; the map is
///   not changed (the slot is still being migrated).
/// - `TRYAGAIN` (a multi-key command during a migration) and `CLUSTERDOWN` (a failover under
///   way): wait with exponential backoff and send again, at most ``Limits/maxRetries`` times,
///   then hand the error reply to the caller (CLUSTERDOWN also wants a refresh).
/// - A node that cannot be reached (nothing was sent): refresh the topology from any known node
///   or seed, wait, send again, within the same bound.
/// - A connection lost after sending (the command may have run): refresh, and fail the command
///   so that its caller decides whether to repeat it.
/// - At most ``Limits/maxRedirects`` redirects per command.
package struct ClusterRouter: Sendable {
    package struct Limits: Sendable, Equatable {
        package var maxRedirects: Int
        package var maxRetries: Int
        package var firstDelay: Duration
        package var maxDelay: Duration

        package init(maxRedirects: Int = 5, maxRetries: Int = 5, firstDelay: Duration = .milliseconds(50),
                     maxDelay: Duration = .seconds(1)) {
            self.maxRedirects = maxRedirects
            self.maxRetries = maxRetries
            self.firstDelay = firstDelay
            self.maxDelay = maxDelay
        }
    }

    /// The progress of one command (or of the commands of one slot in a pipeline).
    package struct Attempt: Sendable, Equatable {
        /// The keys' slot; nil for a keyless command.
        package let slot: Int?
        package var redirects = 0
        package var retries = 0

        package init(slot: Int?) { self.slot = slot }
    }

    /// What came back from sending to a node.
    package enum Outcome: Sendable, Equatable {
        /// An error reply about routing.
        case redirect(ClusterRedirect)
        /// The node could not be reached; nothing was sent.
        case unreachable(ClusterNodeAddress, RedisError)
        /// The connection was lost after sending (or the reply timed out): the command may have run.
        case lost(ClusterNodeAddress, RedisError)
    }

    /// What the client does next.
    package enum Step: Sendable, Equatable {
        /// Send to this node now (after `ASKING` when `asking`).
        case send(to: ClusterNodeAddress, asking: Bool)
        /// Wait, refresh the topology first when `refresh`, then send where the map says.
        case retry(after: Duration, refresh: Bool)
        /// Give the last reply to the caller as it is.
        case deliver
        /// Fail the command with this error.
        case fail(RedisError)

        /// The wait of a ``retry(after:refresh:)``, else zero.
        package var delay: Duration {
            if case let .retry(after, _) = self { return after }
            return .zero
        }
    }

    package private(set) var map: ClusterSlotMap
    /// Whether the topology should be read again (after a MOVED, a failure, CLUSTERDOWN).
    package private(set) var refreshWanted = false
    /// The seed nodes: asked for the topology when no known node answers.
    package let seeds: [ClusterNodeAddress]
    /// Where keyless commands go (the queue's slot), when set.
    package let homeSlot: Int?
    package let limits: Limits

    package init(seeds: [ClusterNodeAddress], homeSlot: Int? = nil, map: ClusterSlotMap = ClusterSlotMap(), limits: Limits = Limits()) {
        self.seeds = seeds
        self.homeSlot = homeSlot
        self.map = map
        self.limits = limits
    }

    /// Where a command for `slot` goes now; nil when no node is known for it (refresh first).
    package func target(forSlot slot: Int?) -> ClusterNodeAddress? {
        if let slot { return map.master(ofSlot: slot) }
        if let homeSlot, let master = map.master(ofSlot: homeSlot) { return master }
        return map.masters.first ?? seeds.first
    }

    /// Where to ask for the topology, in order: the known masters, their replicas, then the
    /// seeds (each once).
    package var refreshSources: [ClusterNodeAddress] {
        var sources = map.allNodes
        for seed in seeds where !sources.contains(seed) { sources.append(seed) }
        return sources
    }

    /// Installs a freshly read topology.
    package mutating func install(_ map: ClusterSlotMap) {
        self.map = map
        refreshWanted = false
    }

    /// Asks for a topology refresh (e.g. a node answered READONLY).
    package mutating func requestRefresh() {
        refreshWanted = true
    }

    /// The first step for a command: send where the map says, or refresh first.
    package func start(_ attempt: Attempt) -> Step {
        if let node = target(forSlot: attempt.slot) { return .send(to: node, asking: false) }
        return .retry(after: .zero, refresh: true)
    }

    /// The step after a refresh that still knows no node for the command.
    package mutating func noNode(_ attempt: inout Attempt) -> Step {
        refreshWanted = true
        attempt.retries += 1
        guard attempt.retries <= limits.maxRetries else {
            let what = attempt.slot.map { "slot \($0)" } ?? "a command without keys"
            return .fail(.cluster("no master is known for \(what) after \(limits.maxRetries) topology refreshes; "
                + "is every slot of the cluster served (CLUSTER INFO: cluster_state:ok)?"))
        }
        return .retry(after: delay(attempt.retries), refresh: true)
    }

    /// The step after `outcome`.
    package mutating func next(after outcome: Outcome, _ attempt: inout Attempt) -> Step {
        switch outcome {
        case let .redirect(redirect):
            switch redirect {
            case let .moved(slot, node):
                attempt.redirects += 1
                guard attempt.redirects <= limits.maxRedirects else { return tooManyRedirects("MOVED \(slot) \(node)") }
                map.assign(slot: slot, to: node)
                refreshWanted = true
                return .send(to: node, asking: false)
            case let .ask(slot, node):
                attempt.redirects += 1
                guard attempt.redirects <= limits.maxRedirects else { return tooManyRedirects("ASK \(slot) \(node)") }
                return .send(to: node, asking: true)
            case .tryAgain, .clusterDown:
                let down = redirect == .clusterDown
                if down { refreshWanted = true }
                attempt.retries += 1
                guard attempt.retries <= limits.maxRetries else { return .deliver }
                return .retry(after: delay(attempt.retries), refresh: down)
            }
        case let .unreachable(_, error):
            refreshWanted = true
            attempt.retries += 1
            guard attempt.retries <= limits.maxRetries else { return .fail(error) }
            return .retry(after: delay(attempt.retries), refresh: true)
        case let .lost(_, error):
            refreshWanted = true
            return .fail(error)
        }
    }

    /// The backoff before retry number `retry` (1-based): doubling from the first delay, capped.
    package func delay(_ retry: Int) -> Duration {
        var delay = limits.firstDelay
        for _ in 1..<max(1, retry) where delay < limits.maxDelay { delay *= 2 }
        return min(delay, limits.maxDelay)
    }

    private func tooManyRedirects(_ last: String) -> Step {
        .fail(.cluster("redirected more than \(limits.maxRedirects) times (last: \(last)); "
            + "the cluster is resharding or failing over, retrying later"))
    }
}

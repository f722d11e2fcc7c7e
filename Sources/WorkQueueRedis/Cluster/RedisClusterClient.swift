import Logging
import Synchronization

/// A Redis Cluster client: one ``RedisClient`` per master, opened on first use, each command
/// sent to the master of its keys' slot (``ClusterCommandKeys``), redirects followed and the
/// topology read again on failover or resharding, by the rules of ``ClusterRouter``.
///
/// Every node is reached with a copy of the first seed's configuration with only host and port
/// replaced: credentials (AUTH, ACL users), TLS and timeouts apply to all. Every new node
/// connection sends the same `setup` commands (the queue's `SCRIPT LOAD`s), so scripts are
/// loaded on each master, also on a replica promoted by a failover.
///
/// A pipeline's commands are grouped by slot (a keyless command goes with the first keyed one:
/// `SCRIPT LOAD`s before an `EVALSHA` reach the same node); a single command whose keys span
/// slots fails with `CROSSSLOT` before anything is sent. Dropping the client closes its node
/// connections (each ``RedisClient`` closes its own on deinit); ``close()`` does it at once.
package final class RedisClusterClient: RedisCommandExecuting {
    package let configuration: RedisConfiguration
    private let seeds: [RedisConfiguration]
    private let logger: Logger
    private let setup: [RESPCommand]
    /// How long one node connection keeps retrying (short: the topology may have changed).
    private let nodeBudget: Duration
    private let router: Mutex<ClusterRouter>
    private let state = Mutex(State())

    private struct State: Sendable {
        var nodes: [ClusterNodeAddress: Node] = [:]
        var nextID = 0
        var refresh: (id: Int, task: Task<Void, Never>)?
        /// Nodes whose last connect failed: asked for the topology last (a dead master would
        /// hold up every refresh for its connect budget).
        var unreachable: Set<ClusterNodeAddress> = []
        var closed = false
    }

    private enum Node: Sendable {
        case ready(RedisClient)
        case connecting(id: Int, Task<RedisClient, any Error>)
    }

    private init(seeds: [RedisConfiguration], logger: Logger, setup: [RESPCommand], nodeBudget: Duration, router: ClusterRouter) {
        self.configuration = seeds[0]
        self.seeds = seeds
        self.logger = logger
        self.setup = setup
        self.nodeBudget = nodeBudget
        self.router = Mutex(router)
    }

    /// Reads the topology from the seeds (retrying within `budget`), then returns a client
    /// that opens node connections as commands need them. `homeSlot` is where keyless commands
    /// go (the queue's slot). Fails when no seed answers, or a seed is not in cluster mode.
    package static func connect(seeds: [RedisConfiguration], logger: Logger, budget: Duration = .seconds(30),
                                setup: [RESPCommand] = [], homeSlot: Int? = nil,
                                limits: ClusterRouter.Limits = ClusterRouter.Limits()) async throws -> RedisClusterClient {
        guard !seeds.isEmpty else { throw RedisError.cluster("no seed node given; pass redis://host:port[,host:port...]") }
        let nodeBudget = min(budget, .seconds(1))
        let router = ClusterRouter(seeds: seeds.map { ClusterNodeAddress(host: $0.host, port: $0.port) }, homeSlot: homeSlot, limits: limits)
        let client = RedisClusterClient(seeds: seeds, logger: logger, setup: setup, nodeBudget: nodeBudget, router: router)
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: budget)
        var delay = Duration.milliseconds(50)
        var lastError: any Error = RedisError.cluster("no attempt made")
        while true {
            do {
                try await client.readTopology()
                return client
            } catch let error as RedisError {
                // A login refusal, a server not in cluster mode, a certificate that cannot be
                // verified or an unusable TLS file: the same on every attempt.
                if error.stopsConnectRetries {
                    await client.close()
                    throw error
                }
                lastError = error
            } catch {
                lastError = error
            }
            let now = clock.now
            if now >= deadline { break }
            try await Task.sleep(for: min(delay, deadline - now))
            delay = min(delay * 2, .seconds(1))
        }
        await client.close()
        throw RedisError.clusterUnreachable(seeds: seeds.map(\.endpoint), budget: budget, lastError: "\(lastError)")
    }

    // MARK: RedisCommandExecuting

    package func send(_ command: RESPCommand, timeout: Duration?) async throws -> RESPValue {
        try await send(command, slot: ClusterCommandKeys.slot(of: command), timeout: timeout)
    }

    package func send(_ command: RESPCommand, routedBy key: String, timeout: Duration?) async throws -> RESPValue {
        try await send(command, slot: HashSlot.of(key), timeout: timeout)
    }

    /// One command to the master of `slot` (nil: keyless); an error reply throws.
    private func send(_ command: RESPCommand, slot: Int?, timeout: Duration?) async throws -> RESPValue {
        let reply = try await send(group: [command], slot: slot, timeout: timeout)[0]
        if case let .error(message) = reply { throw RedisError.server(message) }
        return reply
    }

    package func pipeline(_ commands: [RESPCommand], timeout: Duration?) async throws -> [RESPValue] {
        guard !commands.isEmpty else { return [] }
        if commands.count == 1 {
            return try await send(group: commands, slot: ClusterCommandKeys.slot(of: commands[0]), timeout: timeout)
        }
        // Group by slot, keeping the order within each group; keyless commands join the first
        // keyed command's group.
        let slots = try commands.map { command throws(RedisError) in try ClusterCommandKeys.slot(of: command) }
        let anchor = slots.first { $0 != nil } ?? nil
        var groups: [(slot: Int?, indices: [Int])] = []
        for (index, slot) in slots.enumerated() {
            let slot = slot ?? anchor
            if let group = groups.firstIndex(where: { $0.slot == slot }) {
                groups[group].indices.append(index)
            } else {
                groups.append((slot, [index]))
            }
        }
        if groups.count == 1 { return try await send(group: commands, slot: anchor, timeout: timeout) }
        var replies = [RESPValue](repeating: .array(nil), count: commands.count)
        for group in groups {
            let groupReplies = try await send(group: group.indices.map { commands[$0] }, slot: group.slot, timeout: timeout)
            for (index, reply) in zip(group.indices, groupReplies) { replies[index] = reply }
        }
        return replies
    }

    /// Drops every node connection and reads the topology again before the next command
    /// (after READONLY or LOADING: the node's role changed).
    package func dropConnection() async {
        router.withLock { $0.requestRefresh() }
        scheduleRefresh()
        let nodes = state.withLock { $0.nodes.values }
        for case let .ready(client) in nodes { await client.dropConnection() }
    }

    package func close() async {
        let (nodes, refresh) = state.withLock { state in
            state.closed = true
            defer {
                state.nodes = [:]
                state.refresh = nil
            }
            return (state.nodes.values, state.refresh?.task)
        }
        refresh?.cancel()
        for node in nodes {
            switch node {
            case let .ready(client): await client.close()
            case let .connecting(_, task): task.cancel()
            }
        }
    }

    /// The slot map in use (for tests and diagnostics).
    package var slotMap: ClusterSlotMap { router.withLock { $0.map } }

    // MARK: Routing

    /// Sends commands of one slot (nil: keyless), following the router's steps.
    private func send(group commands: [RESPCommand], slot: Int?, timeout: Duration?) async throws -> [RESPValue] {
        var attempt = ClusterRouter.Attempt(slot: slot)
        var replies = [RESPValue?](repeating: nil, count: commands.count)
        var pending = Array(commands.indices)
        var last: [Int: RESPValue] = [:]
        var step = router.withLock { $0.start(attempt) }
        while true {
            let node: ClusterNodeAddress
            var asking = false
            switch step {
            case let .send(to, ask):
                node = to
                asking = ask
            case let .retry(after, refresh):
                if after > .zero { try await Task.sleep(for: after) }
                if refresh { await refreshTopology() }
                if let target = router.withLock({ $0.target(forSlot: slot) }) {
                    node = target
                } else {
                    step = router.withLock { $0.noNode(&attempt) }
                    continue
                }
            case .deliver:
                for index in pending { replies[index] = last[index] }
                return replies.map { $0 ?? .array(nil) }
            case let .fail(error):
                throw error
            }

            var wire: [RESPCommand] = []
            wire.reserveCapacity(asking ? pending.count * 2 : pending.count)
            for index in pending {
                if asking { wire.append(Self.asking) }
                wire.append(commands[index])
            }
            let answers: [RESPValue]
            do {
                answers = try await client(for: node).pipeline(wire, timeout: timeout)
            } catch let error as RedisError {
                switch error {
                case .server, .invalidURL, .loginRefused:
                    throw error // a login or setup refusal: the same on every node
                case .connectFailed, .unreachable:
                    markReachable(node, false)
                    step = advance(.unreachable(node, error), &attempt)
                default:
                    step = advance(.lost(node, error), &attempt)
                }
                continue
            }
            var redirect: ClusterRedirect?
            var redirected: [Int] = []
            for (position, index) in pending.enumerated() {
                let answer = answers[asking ? 2 * position + 1 : position]
                if let found = ClusterRedirect(answer, from: node.host) {
                    if redirect == nil { redirect = found }
                    redirected.append(index)
                    last[index] = answer
                } else {
                    replies[index] = answer
                }
            }
            guard let redirect else { return replies.map { $0 ?? .array(nil) } }
            pending = redirected
            step = advance(.redirect(redirect), &attempt)
            logger.debug("redis cluster redirect", metadata: ["node": "\(node)", "reply": "\(last[redirected[0]] ?? .array(nil))"])
        }
    }

    /// The router's next step; a refresh it wants and does not wait for runs in the background.
    private func advance(_ outcome: ClusterRouter.Outcome, _ attempt: inout ClusterRouter.Attempt) -> ClusterRouter.Step {
        let (step, wantsRefresh) = router.withLock { router in
            let step = router.next(after: outcome, &attempt)
            return (step, router.refreshWanted)
        }
        if wantsRefresh, step != .retry(after: step.delay, refresh: true) { scheduleRefresh() }
        return step
    }

    private static let asking = RESPCommand(["ASKING"])

    // MARK: Nodes

    /// The client of `node`, connecting (once, shared by concurrent callers) when there is none.
    private func client(for node: ClusterNodeAddress) async throws -> RedisClient {
        enum Found { case ready(RedisClient), wait(Task<RedisClient, any Error>), closed }
        let found = state.withLock { state -> Found in
            if state.closed { return .closed }
            switch state.nodes[node] {
            case let .ready(client): return .ready(client)
            case let .connecting(_, task): return .wait(task)
            case nil:
                state.nextID += 1
                let id = state.nextID
                let configuration = nodeConfiguration(node)
                let task = Task { [logger, setup, nodeBudget] in
                    try await RedisClient.connect(configuration, logger: logger, budget: nodeBudget, setup: setup)
                }
                state.nodes[node] = .connecting(id: id, task)
                Task { await self.settleConnect(node: node, id: id, task: task) }
                return .wait(task)
            }
        }
        switch found {
        case let .ready(client): return client
        case let .wait(task): return try await task.value
        case .closed: throw RedisError.connectionClosed(node.description)
        }
    }

    /// Records whether `node` could be connected to.
    private func markReachable(_ node: ClusterNodeAddress, _ reachable: Bool) {
        state.withLock { state in
            if reachable { state.unreachable.remove(node) } else { state.unreachable.insert(node) }
        }
    }

    /// The base configuration with the node's host and port: credentials, TLS and timeouts
    /// stay those of the first seed.
    private func nodeConfiguration(_ node: ClusterNodeAddress) -> RedisConfiguration {
        var configuration = self.configuration
        configuration.host = node.host
        configuration.port = node.port
        return configuration
    }

    /// Records the outcome of a node connect: the client on success (closed if this client
    /// was closed meanwhile), nothing on failure (the next command tries again).
    private func settleConnect(node: ClusterNodeAddress, id: Int, task: Task<RedisClient, any Error>) async {
        let result = await task.result
        let orphan = state.withLock { state -> RedisClient? in
            guard case .connecting(id, _)? = state.nodes[node] else {
                if case let .success(client) = result { return client }
                return nil
            }
            switch result {
            case let .success(client):
                if state.closed { state.nodes[node] = nil; return client }
                state.nodes[node] = .ready(client)
            case .failure:
                state.nodes[node] = nil
            }
            return nil
        }
        await orphan?.close()
    }

    // MARK: Topology

    /// Starts a topology refresh unless one is under way; does not wait for it.
    private func scheduleRefresh() {
        _ = startRefresh()
    }

    /// Reads the topology again (one refresh at a time: concurrent callers share it).
    private func refreshTopology() async {
        await startRefresh()?.value
    }

    private func startRefresh() -> Task<Void, Never>? {
        state.withLock { state -> Task<Void, Never>? in
            if state.closed { return nil }
            if let refresh = state.refresh { return refresh.task }
            state.nextID += 1
            let id = state.nextID
            let task = Task {
                do {
                    try await self.readTopology()
                } catch {
                    self.logger.debug("redis cluster topology refresh failed", metadata: ["error": "\(error)"])
                }
                self.state.withLock { state in
                    if state.refresh?.id == id { state.refresh = nil }
                }
            }
            state.refresh = (id, task)
            return task
        }
    }

    /// Asks the known nodes, then the seeds, for `CLUSTER SHARDS` (`CLUSTER SLOTS` on a server
    /// before 7.0) and installs the first map that covers any slot.
    private func readTopology() async throws {
        let unreachable = state.withLock { $0.unreachable }
        let known = router.withLock { $0.refreshSources }
        let sources = known.filter { !unreachable.contains($0) } + known.filter { unreachable.contains($0) }
        var lastError: any Error = RedisError.cluster("no node to ask for the topology")
        for source in sources {
            do {
                let client: RedisClient
                do {
                    client = try await self.client(for: source)
                } catch let error as RedisError where error.isUnreachable {
                    markReachable(source, false)
                    lastError = error
                    continue
                }
                markReachable(source, true)
                var reply = try await client.pipeline([Self.clusterShards], timeout: nil)[0]
                var legacy = false
                if case let .error(message) = reply, message.lowercased().contains("unknown subcommand") {
                    reply = try await client.pipeline([Self.clusterSlots], timeout: nil)[0]
                    legacy = true
                }
                if case let .error(message) = reply {
                    if message.contains("cluster support disabled") {
                        throw RedisError.notAClusterNode(endpoint: "\(source)", reply: message)
                    }
                    lastError = RedisError.server(message)
                    continue
                }
                let map = legacy ? try ClusterSlotMap.parse(slots: reply, answeredBy: source)
                                 : try ClusterSlotMap.parse(shards: reply, answeredBy: source, preferTLSPort: seeds.first?.tls != nil)
                guard !map.isEmpty else {
                    lastError = RedisError.cluster("\(source) knows no slot of the cluster yet")
                    continue
                }
                router.withLock { $0.install(map) }
                logger.debug("redis cluster topology", metadata: ["from": "\(source)", "masters": "\(map.masters)",
                                                                  "slots": "\(map.coveredSlots)"])
                return
            } catch let error as RedisError {
                // A login refusal, a node not in cluster mode, or a TLS failure that retrying
                // cannot fix: the same everywhere.
                if error.stopsConnectRetries { throw error }
                lastError = error
            }
        }
        throw lastError
    }

    private static let clusterShards = RESPCommand(["CLUSTER", "SHARDS"])
    private static let clusterSlots = RESPCommand(["CLUSTER", "SLOTS"])
}

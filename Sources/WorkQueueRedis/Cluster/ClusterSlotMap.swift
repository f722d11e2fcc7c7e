/// Which master serves each of the 16384 slots, and which other nodes the cluster has: the
/// client's picture of the topology, read from `CLUSTER SHARDS` (Redis 7.0+) or, on an older
/// server, `CLUSTER SLOTS`, and patched slot by slot as `MOVED` replies arrive.
package struct ClusterSlotMap: Sendable, Equatable {
    /// One master with its replicas and the slot ranges it serves.
    package struct Shard: Sendable, Equatable {
        package var master: ClusterNodeAddress
        package var replicas: [ClusterNodeAddress]
        package var slots: [ClosedRange<Int>]

        package init(master: ClusterNodeAddress, replicas: [ClusterNodeAddress] = [], slots: [ClosedRange<Int>]) {
            self.master = master
            self.replicas = replicas
            self.slots = slots
        }
    }

    /// The masters known, in the order they were learnt; `owners` points into it.
    package private(set) var masters: [ClusterNodeAddress] = []
    /// The replicas known (only asked for the topology, never sent commands).
    package private(set) var replicas: [ClusterNodeAddress] = []
    /// Per slot: 0 when no master is known, else 1 + the master's index in `masters`.
    private var owners: [UInt16]

    /// A map that knows no slot.
    package init() {
        owners = Array(repeating: 0, count: HashSlot.count)
    }

    /// A map of these shards (a slot listed twice goes to the later shard).
    package init(shards: [Shard]) {
        self.init()
        for shard in shards {
            let index = indexOfMaster(shard.master)
            for range in shard.slots {
                for slot in range.clamped(to: 0...(HashSlot.count - 1)) { owners[slot] = UInt16(index + 1) }
            }
            for replica in shard.replicas where !replicas.contains(replica) && !masters.contains(replica) {
                replicas.append(replica)
            }
        }
        replicas.removeAll { masters.contains($0) }
    }

    /// The master that serves `slot`, if known.
    package func master(ofSlot slot: Int) -> ClusterNodeAddress? {
        guard (0..<HashSlot.count).contains(slot) else { return nil }
        let owner = Int(owners[slot])
        return owner == 0 ? nil : masters[owner - 1]
    }

    /// How many slots have a known master (16384 for a healthy cluster).
    package var coveredSlots: Int { owners.reduce(0) { $0 + ($1 == 0 ? 0 : 1) } }

    /// Whether no slot has a known master.
    package var isEmpty: Bool { !owners.contains { $0 != 0 } }

    /// Every node known, masters first: where a topology refresh may ask.
    package var allNodes: [ClusterNodeAddress] { masters + replicas.filter { !masters.contains($0) } }

    /// Records that `slot` now lives on `master` (after a `MOVED`).
    package mutating func assign(slot: Int, to master: ClusterNodeAddress) {
        guard (0..<HashSlot.count).contains(slot) else { return }
        owners[slot] = UInt16(indexOfMaster(master) + 1)
        replicas.removeAll { $0 == master }
    }

    private mutating func indexOfMaster(_ address: ClusterNodeAddress) -> Int {
        if let index = masters.firstIndex(of: address) { return index }
        masters.append(address)
        return masters.count - 1
    }

    package static func == (lhs: Self, rhs: Self) -> Bool {
        (0..<HashSlot.count).allSatisfy { lhs.master(ofSlot: $0) == rhs.master(ofSlot: $0) }
    }
}

// MARK: Parsing

extension ClusterSlotMap {
    /// Parses a `CLUSTER SHARDS` reply (RESP2: per shard a flat array `slots`, `[start, end,
    /// ...]`, `nodes`, `[[field, value, ...], ...]`). `answeredBy` is the node asked: a node
    /// with no known endpoint is reached at that host with its own port. `preferTLSPort`
    /// takes a node's `tls-port` over its `port` (for a client that speaks TLS).
    package static func parse(shards reply: RESPValue, answeredBy: ClusterNodeAddress,
                              preferTLSPort: Bool = false) throws(RedisError) -> ClusterSlotMap {
        guard let entries = reply.array else { throw .unexpectedReply("CLUSTER SHARDS -> \(reply)") }
        var shards: [Shard] = []
        for entry in entries {
            let fields = try fieldMap(entry, what: "CLUSTER SHARDS shard")
            guard let slotBounds = fields["slots"]?.array?.compactMap(\.int), slotBounds.count % 2 == 0,
                  let nodes = fields["nodes"]?.array else {
                throw .unexpectedReply("CLUSTER SHARDS shard -> \(entry)")
            }
            var ranges: [ClosedRange<Int>] = []
            for index in stride(from: 0, to: slotBounds.count, by: 2) where slotBounds[index] <= slotBounds[index + 1] {
                ranges.append(slotBounds[index]...slotBounds[index + 1])
            }
            var masters: [(address: ClusterNodeAddress, online: Bool)] = []
            var replicas: [ClusterNodeAddress] = []
            for node in nodes {
                let node = try fieldMap(node, what: "CLUSTER SHARDS node")
                guard let address = address(of: node, answeredBy: answeredBy, preferTLSPort: preferTLSPort) else { continue }
                let online = (node["health"]?.string ?? "online") == "online"
                if node["role"]?.string == "master" {
                    masters.append((address, online))
                } else {
                    replicas.append(address)
                }
            }
            // Two masters in one shard: a failed one not yet demoted; the online one serves.
            guard let master = masters.first(where: \.online)?.address ?? masters.first?.address else { continue }
            replicas += masters.map(\.address).filter { $0 != master }
            if ranges.isEmpty {
                // A master with no slots (yet): still a node to ask.
                shards.append(Shard(master: master, replicas: replicas, slots: []))
            } else {
                shards.append(Shard(master: master, replicas: replicas, slots: ranges))
            }
        }
        return ClusterSlotMap(shards: shards)
    }

    /// Parses a `CLUSTER SLOTS` reply (Redis before 7.0): `[start, end, [host, port, id, ...],
    /// replicas...]` per range.
    package static func parse(slots reply: RESPValue, answeredBy: ClusterNodeAddress) throws(RedisError) -> ClusterSlotMap {
        guard let entries = reply.array else { throw .unexpectedReply("CLUSTER SLOTS -> \(reply)") }
        var shards: [Shard] = []
        for entry in entries {
            guard let parts = entry.array, parts.count >= 3, let start = parts[0].int, let end = parts[1].int, start <= end else {
                throw .unexpectedReply("CLUSTER SLOTS range -> \(entry)")
            }
            let nodes = parts.dropFirst(2).compactMap { node -> ClusterNodeAddress? in
                guard let fields = node.array, fields.count >= 2, let port = fields[1].int, (1...65535).contains(port) else { return nil }
                let host = fields[0].string.flatMap { $0.isEmpty || $0 == "?" ? nil : $0 } ?? answeredBy.host
                return ClusterNodeAddress(host: host, port: port)
            }
            guard let master = nodes.first else { continue }
            shards.append(Shard(master: master, replicas: Array(nodes.dropFirst()), slots: [start...end]))
        }
        return ClusterSlotMap(shards: shards)
    }

    /// A flat `[name, value, name, value, ...]` array (or a RESP3-style map parsed as one) as a
    /// dictionary.
    private static func fieldMap(_ value: RESPValue, what: String) throws(RedisError) -> [String: RESPValue] {
        guard let items = value.array, items.count % 2 == 0 else { throw .unexpectedReply("\(what) -> \(value)") }
        var fields: [String: RESPValue] = [:]
        for index in stride(from: 0, to: items.count, by: 2) {
            guard let name = items[index].string else { throw .unexpectedReply("\(what) -> \(value)") }
            fields[name] = items[index + 1]
        }
        return fields
    }

    /// A node's address from its fields: `endpoint` (what clients should use), else `ip`, else
    /// the host of the node asked; `port`, else `tls-port` (a node serving TLS only), or the
    /// other way round with `preferTLSPort`.
    private static func address(of node: [String: RESPValue], answeredBy: ClusterNodeAddress,
                                preferTLSPort: Bool) -> ClusterNodeAddress? {
        let ports = [node["port"]?.int, node["tls-port"]?.int]
        let port = (preferTLSPort ? ports.reversed() : ports).compactMap { $0 }.first { (1...65535).contains($0) }
        guard let port else { return nil }
        let known: (String?) -> String? = { $0.flatMap { $0.isEmpty || $0 == "?" ? nil : $0 } }
        let host = known(node["endpoint"]?.string) ?? known(node["ip"]?.string) ?? answeredBy.host
        return ClusterNodeAddress(host: host, port: port)
    }
}

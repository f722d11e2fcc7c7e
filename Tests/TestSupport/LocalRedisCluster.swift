import Foundation
import Synchronization

/// A real Redis Cluster for tests: `masters` masters and as many replicas each, one
/// `redis-server --cluster-enabled yes` per node on free 127.0.0.1 ports (the cluster bus,
/// port + 10000, free too), created with `redis-cli --cluster create`, ready once every node
/// reports `cluster_state:ok`. Nodes can be killed and restarted, and a slot migrated to another
/// master. With `tls`, every node serves TLS only, its cluster bus and replication too
/// (`--tls-cluster yes`). Every wait is bounded; everything is stopped by ``stop()`` (and on deinit).
public final class LocalRedisCluster: Sendable {
    /// The nodes' ports, masters first as created (roles change with failovers).
    public let ports: [Int]
    public let directory: TemporaryDirectory
    /// `--cluster-node-timeout` in ms: how long a silent master takes to be failed over.
    public let nodeTimeout: Int
    /// How many masters the cluster has when healthy.
    public let masterCount: Int
    /// The certificates every node serves TLS with (nil: plaintext).
    public let tls: TestCertificates?
    private let servers: Mutex<[Int: ChildProcess]>

    /// One node as `CLUSTER NODES` shows it.
    public struct Node: Sendable, Equatable {
        public var id: String
        public var port: Int
        public var isMaster: Bool
        public var isFailed: Bool
        /// A replica's master's id.
        public var masterID: String?
        public var slots: [ClosedRange<Int>]
    }

    public init(masters: Int = 3, replicasPerMaster: Int = 1, nodeTimeout: Int = 1000,
                tls: TestCertificates? = nil) async throws {
        self.nodeTimeout = nodeTimeout
        self.tls = tls
        masterCount = masters
        directory = try TemporaryDirectory("workqueue-cluster")
        let count = masters * (1 + replicasPerMaster)
        var ports: [Int] = []
        var attempts = 0
        while ports.count < count {
            attempts += 1
            guard attempts < 1000 else { throw ChildProcess.Failure.spawn("no free port pair for a cluster node", errno: EADDRINUSE) }
            let port = Int.random(in: 10000..<20000) // bus port + 10000: both below Linux's ephemeral range (32768+)
            if !ports.contains(port), Self.isFree(port), Self.isFree(port + 10000) { ports.append(port) }
        }
        self.ports = ports
        var started: [Int: ChildProcess] = [:]
        for port in ports {
            try FileManager.default.createDirectory(atPath: directory.file("\(port)"), withIntermediateDirectories: true)
            started[port] = try Self.launch(port: port, directory: directory, nodeTimeout: nodeTimeout, tls: tls)
        }
        servers = Mutex(started)
        do {
            for port in ports { try await waitForPing(port) }
            let (create, termination) = try await ChildProcess.run(
                try LocalRedis.locate("redis-cli"),
                (tls?.cliArguments ?? []) + ["--cluster", "create"] + ports.map { "127.0.0.1:\($0)" } + ["--cluster-replicas", "\(replicasPerMaster)", "--cluster-yes"],
                directory: directory.path, label: "cluster-create", timeout: .seconds(60))
            guard termination == .exited(0) else {
                throw ChildProcess.Failure.notReady("redis-cli --cluster create", output: create.stdout + create.stderr)
            }
            try await waitUntilHealthy(timeout: .seconds(30))
        } catch {
            await stop()
            throw error
        }
    }

    /// Runs `body` with a fresh cluster and stops it afterwards, also when `body` throws.
    /// Creating it is tried up to 3 times (a port chosen free can be taken before a node binds it).
    /// `nodeTimeout` (ms): how long a silent master takes to be failed over.
    public static func with<T>(masters: Int = 3, replicasPerMaster: Int = 1, nodeTimeout: Int = 1000,
                               tls: TestCertificates? = nil,
                               _ body: (LocalRedisCluster) async throws -> T) async throws -> T {
        var made: LocalRedisCluster?
        var lastError: (any Error)?
        for _ in 0..<3 where made == nil {
            do {
                made = try await LocalRedisCluster(masters: masters, replicasPerMaster: replicasPerMaster,
                                                   nodeTimeout: nodeTimeout, tls: tls)
            } catch { lastError = error }
        }
        guard let cluster = made else { throw lastError ?? ChildProcess.Failure.notReady("a local Redis Cluster", output: "") }
        do {
            let value = try await body(cluster)
            await cluster.stop()
            return value
        } catch {
            await cluster.stop()
            throw error
        }
    }

    /// `redis://127.0.0.1:<p1>,127.0.0.1:<p2>,...` (`rediss://` with TLS): every node as a seed.
    public var url: String { scheme + ports.map { "127.0.0.1:\($0)" }.joined(separator: ",") }

    /// `redis://127.0.0.1:<port>` (`rediss://` with TLS) of one node.
    public func url(port: Int) -> String { scheme + "127.0.0.1:\(port)" }

    private var scheme: String { tls == nil ? "redis://" : "rediss://" }

    /// Runs `redis-cli -p port ARGS` (add `-c` to follow redirects) and returns its trimmed stdout.
    @discardableResult
    public func cli(port: Int, _ arguments: [String]) async throws -> String {
        let (process, _) = try await ChildProcess.run(
            try LocalRedis.locate("redis-cli"), (tls?.cliArguments ?? []) + ["-h", "127.0.0.1", "-p", "\(port)"] + arguments,
            directory: directory.path, label: "cli-\(UUID().uuidString)", timeout: .seconds(20))
        return process.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `redis-cli -c` against a live node: follows redirects, so a key's command reaches its master.
    @discardableResult
    public func cli(_ arguments: String...) async throws -> String {
        try await cli(port: livePort(), ["-c"] + arguments)
    }

    /// The nodes as a live node sees them (`CLUSTER NODES`).
    public func nodes() async throws -> [Node] {
        let text = try await cli(port: livePort(), ["CLUSTER", "NODES"])
        return text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count >= 8 else { return nil }
            let address = fields[1].split(separator: "@")[0]
            guard let port = address.split(separator: ":").last.flatMap({ Int($0) }) else { return nil }
            let flags = fields[2].split(separator: ",")
            var slots: [ClosedRange<Int>] = []
            for field in fields.dropFirst(8) where !field.hasPrefix("[") {
                let bounds = field.split(separator: "-").compactMap { Int($0) }
                if bounds.count == 2 { slots.append(bounds[0]...bounds[1]) } else if bounds.count == 1 { slots.append(bounds[0]...bounds[0]) }
            }
            return Node(id: String(fields[0]), port: port, isMaster: flags.contains("master"),
                        isFailed: flags.contains("fail") || flags.contains("fail?"),
                        masterID: fields[3] == "-" ? nil : String(fields[3]), slots: slots)
        }
    }

    /// The slot of a key (`CLUSTER KEYSLOT`).
    public func slot(of key: String) async throws -> Int {
        guard let slot = Int(try await cli(port: livePort(), ["CLUSTER", "KEYSLOT", key])) else {
            throw ChildProcess.Failure.notReady("CLUSTER KEYSLOT \(key)", output: "")
        }
        return slot
    }

    /// The port of the live master serving `slot`.
    public func masterPort(ofSlot slot: Int) async throws -> Int {
        let owner = try await nodes().first { $0.isMaster && !$0.isFailed && $0.slots.contains { $0.contains(slot) } }
        guard let owner else { throw ChildProcess.Failure.notReady("a master for slot \(slot)", output: "") }
        return owner.port
    }

    /// Kills a node with SIGKILL (no goodbye to the cluster: its replica takes over after the
    /// node timeout).
    public func kill(port: Int) async {
        let server = servers.withLock { $0[port] }
        server?.send(SIGKILL)
        _ = try? await server?.wait(timeout: .seconds(10))
    }

    /// Sends `signal` to a node (SIGSTOP freezes it: its sockets stay open, nothing answers;
    /// SIGCONT resumes it).
    public func signal(port: Int, _ signal: Int32) {
        servers.withLock { $0[port]?.send(signal) }
    }

    /// The ports of the replicas of the master on `port`.
    public func replicaPorts(of port: Int) async throws -> [Int] {
        let all = try await nodes()
        guard let master = all.first(where: { $0.port == port }) else { return [] }
        return all.filter { $0.masterID == master.id }.map(\.port)
    }

    /// Starts a killed node again with its cluster config (it rejoins, as a replica if it
    /// was failed over).
    public func restart(port: Int) async throws {
        let server = try Self.launch(port: port, directory: directory, nodeTimeout: nodeTimeout, tls: tls)
        servers.withLock { $0[port] = server }
        try await waitForPing(port)
    }

    /// Waits until a live master other than `port` serves `slot` and every live node reports
    /// `cluster_state:ok`; returns that master's port.
    public func waitForFailover(ofSlot slot: Int, from port: Int, timeout: Duration = .seconds(30)) async throws -> Int {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let owner = try? await masterPort(ofSlot: slot), owner != port, (try? await isHealthy()) == true { return owner }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ChildProcess.Failure.notReady("a failover of slot \(slot) away from \(port)", output: (try? await cli(port: livePort(), ["CLUSTER", "NODES"])) ?? "")
    }

    /// Moves `slot` from its master to the master on `port`, as `redis-cli --cluster reshard`
    /// does for one slot: IMPORTING on the target, MIGRATING on the source, MIGRATE of its keys
    /// in batches, then the new owner announced to every master. `pause` is held after marking
    /// the slot and after moving the keys, so that clients meet ASK and TRYAGAIN meanwhile.
    public func migrate(slot: Int, to port: Int, pause: Duration = .milliseconds(300)) async throws {
        let migration = try await beginMigration(slot: slot, to: port)
        try await Task.sleep(for: pause)
        try await moveKeys(migration)
        try await Task.sleep(for: pause)
        try await finishMigration(migration)
    }

    /// A slot being migrated: its source and target masters.
    public struct Migration: Sendable {
        public let slot: Int
        public let source: Node
        public let target: Node
    }

    /// Marks `slot` IMPORTING on the master on `port` and MIGRATING on its current master.
    public func beginMigration(slot: Int, to port: Int) async throws -> Migration {
        let all = try await nodes()
        guard let target = all.first(where: { $0.port == port && $0.isMaster }),
              let source = all.first(where: { $0.isMaster && !$0.isFailed && $0.slots.contains { $0.contains(slot) } }),
              source.port != port else {
            throw ChildProcess.Failure.notReady("a source and target master for slot \(slot)", output: "")
        }
        try await expectOK(port: target.port, ["CLUSTER", "SETSLOT", "\(slot)", "IMPORTING", source.id])
        try await expectOK(port: source.port, ["CLUSTER", "SETSLOT", "\(slot)", "MIGRATING", target.id])
        return Migration(slot: slot, source: source, target: target)
    }

    /// MIGRATEs every key of the slot to the target, 100 at a time (bounded).
    public func moveKeys(_ migration: Migration) async throws {
        for _ in 0..<1000 {
            let keys = try await cli(port: migration.source.port, ["CLUSTER", "GETKEYSINSLOT", "\(migration.slot)", "100"])
                .split(separator: "\n").map(String.init).filter { !$0.isEmpty }
            if keys.isEmpty { return }
            let reply = try await cli(port: migration.source.port,
                                      ["MIGRATE", "127.0.0.1", "\(migration.target.port)", "", "0", "5000", "KEYS"] + keys)
            guard reply == "OK" || reply == "NOKEY" else {
                throw ChildProcess.Failure.notReady("MIGRATE of slot \(migration.slot)", output: reply)
            }
        }
        throw ChildProcess.Failure.notReady("slot \(migration.slot) emptied within 1000 MIGRATE batches", output: "")
    }

    /// Announces the target as the slot's owner: to the target, the source, then every other master.
    public func finishMigration(_ migration: Migration) async throws {
        let setslot = ["CLUSTER", "SETSLOT", "\(migration.slot)", "NODE", migration.target.id]
        try await expectOK(port: migration.target.port, setslot)
        try await expectOK(port: migration.source.port, setslot)
        for node in try await nodes() where node.isMaster && !node.isFailed
            && node.port != migration.source.port && node.port != migration.target.port {
            _ = try? await cli(port: node.port, setslot)
        }
    }

    /// Stops every node and waits for them.
    public func stop() async {
        let all = servers.withLock { $0.values }
        for server in all { server.send(SIGTERM) }
        for server in all { _ = try? await server.wait(timeout: .seconds(10)) }
    }

    deinit { servers.withLock { $0.values.forEach { $0.send(SIGKILL) } } }

    // MARK: Helpers

    private func expectOK(port: Int, _ arguments: [String]) async throws {
        let reply = try await cli(port: port, arguments)
        guard reply == "OK" else { throw ChildProcess.Failure.notReady(arguments.joined(separator: " "), output: reply) }
    }

    /// A node that is running (the first one whose process is alive).
    private func livePort() -> Int {
        servers.withLock { servers in ports.first { servers[$0]?.poll() == nil } ?? ports[0] }
    }

    private func isHealthy() async throws -> Bool {
        let live = servers.withLock { servers in ports.filter { servers[$0]?.poll() == nil } }
        for port in live {
            guard try await cli(port: port, ["CLUSTER", "INFO"]).contains("cluster_state:ok") else { return false }
            // Every node must also know the roles: right after creation a node can still list a
            // replica as a master without slots, and a client reading the topology from it then
            // sees six masters.
            let masters = try await cli(port: port, ["CLUSTER", "NODES"]).split(separator: "\n").filter { line in
                let flags = line.split(separator: " ").dropFirst(2).first?.split(separator: ",") ?? []
                return flags.contains("master") && !flags.contains("fail") && !flags.contains("fail?")
            }
            guard masters.count == masterCount else { return false }
        }
        return true
    }

    private func waitUntilHealthy(timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if (try? await isHealthy()) == true { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ChildProcess.Failure.notReady("the cluster (cluster_state:ok on every node)", output: (try? await cli(port: ports[0], ["CLUSTER", "INFO"])) ?? "")
    }

    private func waitForPing(_ port: Int) async throws {
        for _ in 0..<200 {
            if (try? await cli(port: port, ["PING"])) == "PONG" { return }
            if servers.withLock({ $0[port]?.poll() }) != nil { break }
            try await Task.sleep(for: .milliseconds(25))
        }
        let output = servers.withLock { $0[port]?.stdout } ?? ""
        throw ChildProcess.Failure.notReady("cluster node on port \(port)", output: output)
    }

    private static func launch(port: Int, directory: TemporaryDirectory, nodeTimeout: Int,
                               tls: TestCertificates?) throws -> ChildProcess {
        let nodeDirectory = directory.file("\(port)")
        let listen = tls.map { tls in
            ["--port", "0", "--tls-port", "\(port)", "--tls-cluster", "yes", "--tls-replication", "yes"]
                + tls.serverArguments(authClients: "optional")
                // The bus and replication connect as clients: the server certificate is for serverAuth only.
                + ["--tls-client-cert-file", tls.clientCertificateFile, "--tls-client-key-file", tls.clientKeyFile]
        } ?? ["--port", "\(port)"]
        return try ChildProcess(
            try LocalRedis.locate("redis-server"),
            ["--bind", "127.0.0.1"] + listen + ["--dir", nodeDirectory, "--save", "", "--appendonly", "no",
             "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "\(nodeTimeout)"],
            directory: directory.path, label: "redis-\(port)-\(UUID().uuidString)", keeping: directory)
    }

    /// Whether nothing listens on `port` on loopback now.
    private static func isFree(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let length = socklen_t(MemoryLayout<sockaddr_in>.size)
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 }
        }
    }
}

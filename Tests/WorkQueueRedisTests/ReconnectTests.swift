import Foundation
import Logging
import Testing
import TestSupport
import WorkQueueRedis

/// Reconnecting: concurrent callers share one attempt, and no socket is left open.
@Suite struct ReconnectTests {
    /// This process's open descriptors.
    static func openDescriptors() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return names.compactMap { try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\($0)") }
    }

    /// This process's open sockets connected to `port` on loopback (other tests run in
    /// parallel in this process, so the total count moves on its own).
    static func socketsConnected(toPort port: Int) -> Int {
        let inodes = Set(openDescriptors().compactMap { link -> String? in
            guard link.hasPrefix("socket:[") else { return nil }
            return String(link.dropFirst("socket:[".count).dropLast())
        })
        // Read to the end: /proc files report a size of 0.
        let data = FileHandle(forReadingAtPath: "/proc/net/tcp")?.readDataToEndOfFile() ?? Data()
        let table = String(decoding: data, as: UTF8.self)
        let hex = String(port, radix: 16, uppercase: true)
        let remote = ":" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
        return table.split(separator: "\n").dropFirst().filter { line in
            let fields = line.split(separator: " ")
            return fields.count > 9 && fields[2].hasSuffix(remote) && inodes.contains(String(fields[9]))
        }.count
    }

    @Test func fiftyForcedReconnectsWithConcurrentCallersLeakNoDescriptors() async throws {
        try await LocalRedis.with { redis in
            let client = try await RedisClient.connect(redis.configuration, logger: .init(label: "test"),
                                                       setup: [RESPCommand(["SET", "setup-ran", "1"])])
            // Warm up (the event loop's own descriptors, lazily created resources).
            _ = try await client.send(["PING"])
            await client.dropConnection()
            _ = try await client.send(["PING"])
            let before = Self.socketsConnected(toPort: redis.port)
            #expect(before == 1)
            for round in 0..<50 {
                if round % 2 == 0 {
                    await client.dropConnection()
                } else {
                    // Killed by the server: the client learns it from the socket.
                    try await redis.cli("CLIENT", "KILL", "TYPE", "normal")
                }
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for caller in 0..<8 {
                        group.addTask {
                            // A caller may meet the killed socket once; the next command reconnects.
                            for _ in 0..<3 {
                                do {
                                    let reply = try await client.send(["INCR", RESPArgument("n\(caller)")])
                                    #expect(reply.int != nil)
                                    return
                                } catch RedisError.connectionClosed {
                                    continue
                                }
                            }
                            Issue.record("caller \(caller) never got a reply")
                        }
                    }
                    try await group.waitForAll()
                }
            }
            #expect(try await client.send(["GET", "setup-ran"]).string == "1")
            // Give closed sockets a moment to be released by the event loop.
            var after = Self.socketsConnected(toPort: redis.port)
            for _ in 0..<50 where after != before {
                try await Task.sleep(for: .milliseconds(20))
                after = Self.socketsConnected(toPort: redis.port)
            }
            #expect(after == before, "sockets to Redis before \(before), after \(after)")
            let clients = try await redis.cli("CLIENT", "LIST")
            // One client connection (ours), plus redis-cli's own.
            #expect(clients.split(separator: "\n").count <= 2, "\(clients)")
            await client.close()
            await #expect(throws: RedisError.self) { _ = try await client.send(["PING"]) }
        }
    }

    @Test func aRefusedSetupCommandFailsTheConnectWithAClearMessage() async throws {
        _ = try await LocalRedis.with { redis in
            await #expect {
                _ = try await RedisClient.connect(redis.configuration, logger: .init(label: "test"), budget: .seconds(2),
                                                  setup: [RESPCommand(["SCRIPT", "LOAD", "this is not lua ("])])
            } throws: { error in
                let message = "\(error)"
                return message.contains("SCRIPT") && message.contains("127.0.0.1:\(redis.port)")
            }
        }
    }

    @Test func hotPathPipelineOfEncodedCommands() async throws {
        try await LocalRedis.with { redis in
            let client = try await RedisClient.connect(redis.configuration, logger: .init(label: "test"))
            var set = RESPCommand(capacity: 32)
            set.append("SET")
            set.append("k")
            set.append(bytes: [0, 1, 255])
            let replies = try await client.pipeline([set, RESPCommand(["GET", "k"]), RESPCommand(["NOSUCHCOMMAND"])])
            #expect(replies[0] == .simpleString("OK"))
            #expect(replies[1].bytes == [0, 1, 255])
            guard case .error = replies[2] else { Issue.record("expected an error reply"); return }
            await #expect(throws: RedisError.self) { _ = try await client.send(RESPCommand(["NOSUCHCOMMAND"])) }
            await client.close()
        }
    }
}

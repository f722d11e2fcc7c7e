import ArgumentParser
import Logging
import WorkQueue
import WorkQueueRedis

/// The command's side of the safe producer: flag checks, messages and exit statuses. The rules
/// themselves (holds, refusal after drain, replica waits, shards) are ``QueueProducer``'s, the
/// library a Swift program uses too.
enum Producer {
    /// The hold `open` and `close` take and end without --hold.
    static let operatorHold = "operator"

    /// Checks a hold name (`--hold`): ``QueueProducer/isValidHoldName(_:)``.
    static func validate(hold: String?) throws {
        guard let hold else { return }
        guard QueueProducer.isValidHoldName(hold) else {
            throw ValidationError("--hold must be 1 to 200 characters without spaces or control characters, e.g. --hold nightly-import")
        }
    }

    /// `--ttl-seconds` as a duration (ms precision).
    static func ttl(seconds: Double) -> Duration {
        .milliseconds(Int64(max(0, min(seconds, 1e12)) * 1000))
    }

    /// `operator (expires in 42 s)`, for messages; `queue` names a legacy mark's key.
    static func describe(_ hold: RedisQueue.Hold, queue: String) -> String {
        let expiry = hold.millisecondsLeft.map { "expires in \(($0 + 999) / 1000) s" } ?? "no expiry"
        return "\(hold.name) (\(hold.isLegacyMark ? "\(queue):open of an older version, " : "")\(expiry))"
    }

    /// The command's error for a producer's refusal: a drained queue exits 78, replicas
    /// behind exit 1, each with the command's message (naming its flags).
    static func commandError(_ error: ProducerError) -> any Error {
        switch error {
        case let .queueDrained(queue):
            return CommandError.queueDrained(queue)
        case let .replicasBehind(queue, pushed, acknowledged, wanted, timeout):
            let (seconds, attoseconds) = timeout.components
            return CommandError.replicasBehind(queue: queue, pushed: pushed, acknowledged: acknowledged, wanted: wanted,
                                               seconds: Settings.format(Double(seconds) + Double(attoseconds) / 1e18))
        case .notDrained, .closed:
            return error
        }
    }
}

/// Runs `body` with a producer over every shard of the queue (connected as every queue
/// command connects) and closes it afterwards, also when `body` throws; a producer's refusal
/// becomes the command's error (``Producer/commandError(_:)``).
func withProducer<T>(_ common: QueueOptions, _ settings: Settings, logger: Logger, options: ProducerOptions = ProducerOptions(),
                     _ body: (QueueProducer) async throws -> T) async throws -> T {
    let queues = try await common.connectShards(settings, logger: logger)
    let producer: QueueProducer
    do {
        producer = try QueueProducer(queues: queues, name: try common.queueName(settings), options: options)
    } catch {
        for queue in queues { await queue.close() }
        throw error
    }
    do {
        let value = try await body(producer)
        await producer.close()
        return value
    } catch let error as ProducerError {
        await producer.close()
        throw Producer.commandError(error)
    } catch {
        await producer.close()
        throw error
    }
}

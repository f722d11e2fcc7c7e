import ArgumentParser
import WorkQueue
import WorkQueueRedis

/// `workqueue close`: ends a hold on a queue (by default the one `open` takes).
struct Close: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "End a hold on a queue (set by open): its workers exit once it is drained and no other hold is left.",
        discussion: """
            Without --hold, ends the hold `open` takes without --hold (named operator), and a \
            NAME:open mark left by an older version of workqueue, as close always did. --hold \
            NAME ends exactly that hold (the name open --hold was given, or a push's host:pid:random \
            as status shows it). Either way every other hold stays, e.g. a running \
            `push --keep-open`'s, and the workers keep waiting for it; the message lists what is \
            left. --all ends every hold, a killed producer's included. With --shards M the hold \
            is ended on every shard, shard 0 last.
            """
    )

    @OptionGroup var common: QueueOptions

    @Option(name: Catalog.closeHold.name, help: Catalog.closeHold.help)
    var hold: String?

    @Flag(name: Catalog.closeAll.name, help: Catalog.closeAll.help)
    var all = false

    func validate() throws {
        try Producer.validate(hold: hold)
        if all && hold != nil { throw ValidationError("--all ends every hold; pass either --all or --hold NAME, not both") }
    }

    func run() async throws {
        let settings = Settings()
        let logger = try common.bootstrap(settings)
        let name = try common.queueName(settings)
        let target = all ? nil : (hold ?? Producer.operatorHold)
        let (result, left) = try await withProducer(common, settings, logger: logger) { producer in
            let result = try await producer.endHolds(named: target, legacyMark: hold == nil)
            return (result, result.remaining > 0 ? try await producer.holds() : [])
        }
        let what = target.map { "hold \($0)" } ?? "every hold"
        let rest = left.map { Producer.describe($0, queue: name) }.joined(separator: ", ")
        switch (result.ended > 0, left.isEmpty) {
        case (true, true):
            StandardOutput.line("Closed \(name) (\(what)): its workers exit once it is drained")
        case (true, false):
            StandardOutput.line("Closed \(name) (\(what)); still held open by \(rest): its workers wait for \(left.count == 1 ? "it" : "them")")
        case (false, true):
            StandardOutput.line("\(name) was not open (no \(target.map { "hold \($0)" } ?? "hold") in \(name):holds, no \(name):open mark): nothing to close")
        case (false, false):
            StandardOutput.line("\(name) had no \(what): nothing closed; still held open by \(rest)")
        }
    }
}

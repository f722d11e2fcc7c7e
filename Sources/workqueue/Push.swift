import ArgumentParser
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif
import WorkQueue

/// `workqueue push`: appends items to the tail of a queue.
struct Push: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Append items to a queue (RPUSH, pipelined in chunks) and print how many were pushed.",
        discussion: """
            Items come from the arguments, from --file PATH, or from standard input with `-`: \
            one item per line, the line's raw bytes without its newline (a trailing CR is \
            dropped too); empty lines are skipped.
            """
    )

    @OptionGroup var common: QueueOptions

    @Option(help: ArgumentHelp("Read items from this file, one per line.", valueName: "path"))
    var file: String?

    @Argument(help: "Items to push; `-` reads items from standard input, one per line.")
    var items: [String] = []

    /// Items per RPUSH.
    static let chunk = 1000

    func run() async throws {
        let settings = Settings()
        let logger = try common.bootstrap(settings)
        var batch: [WorkItem] = []
        for argument in items {
            if argument == "-" {
                batch += Self.lines(try Self.readStandardInput())
            } else {
                batch.append(WorkItem(argument))
            }
        }
        if let file {
            guard let data = FileManager.default.contents(atPath: file) else {
                let reason = FileManager.default.fileExists(atPath: file) ? "permission denied or not a regular file" : "no such file"
                throw CommandError.unreadable(path: file, reason: reason)
            }
            batch += Self.lines(data)
        }
        guard !batch.isEmpty else { throw CommandError.nothingToPush }
        let name = try common.queueName(settings)
        let pushed = try await withQueue(common, settings, logger: logger) { queue in
            var start = 0
            while start < batch.count {
                let end = min(start + Self.chunk, batch.count)
                try await queue.enqueue(Array(batch[start..<end]))
                start = end
            }
            return batch.count
        }
        StandardOutput.line("Pushed \(pushed) item\(pushed == 1 ? "" : "s") to \(name)")
    }

    /// Splits on LF, drops a trailing CR from each line and skips empty lines.
    static func lines(_ data: Data) -> [WorkItem] {
        data.split(separator: 0x0A, omittingEmptySubsequences: true).compactMap { line in
            var bytes = Array(line)
            if bytes.last == 0x0D { bytes.removeLast() }
            return bytes.isEmpty ? nil : WorkItem(bytes)
        }
    }

    /// Everything on standard input, read with read(2) (no Foundation `FileHandle`).
    static func readStandardInput() throws -> Data {
        var data = Data()
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
            if count == 0 { return data }
            if count < 0 {
                if errno == EINTR { continue }
                throw CommandError.unreadable(path: "standard input", reason: "read failed with errno \(errno)")
            }
            data.append(contentsOf: chunk[0..<count])
        }
    }
}

import WordCount
import WorkQueueCommand

// `word-count-worker work --queue texts`: the `workqueue` command with `word-count` compiled in
// (the one handler, so `work` needs no --handler).
await WorkerCommand.main(handlers: [WordCount.self])

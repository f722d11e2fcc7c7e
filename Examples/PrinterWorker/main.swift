import PrinterHandler
import WorkQueueCommand

// A worker of one's own with one handler compiled in (README "Your own worker"): the whole
// `workqueue` command, where `work` runs `printer` without --handler.
await WorkerCommand.main(handlers: [Printer.self])

import CountdownHandler
import FactorHandler
import NoopHandler
import PrinterHandler
import WordCountHandler
import WorkQueueCommand

// The bundled `workqueue`: the command library with the example handlers compiled in, the same
// few lines as a worker of your own (README "Your job in your own package").
await WorkerCommand.main(handlers: [Printer.self, Factor.self, Noop.self, WordCount.self, Countdown.self])
